#include "src/engine/fields.h"

#include <cerrno>
#include <cmath>
#include <limits>
#include <optional>
#include <cstdlib>

#include "src/core/duration.h"
#include "src/core/text.h"

namespace pki {
namespace {

// Vault's messages quote the input. Only short single-line scalars are quoted here: a misplaced PEM bundle or key
// must not come back in an error (nor reach an audit log's error text, which is not HMAC'd).
std::string Shown(const Json& raw) {
  constexpr size_t kMaxShown = 64;
  std::string shown = raw.is_string() ? raw.get<std::string>() : raw.dump(-1, ' ', false, Json::error_handler_t::replace);
  const bool quotable = !raw.is_structured() && shown.size() <= kMaxShown && shown.find('\n') == std::string::npos &&
                        shown.find("PRIVATE") == std::string::npos;
  if (quotable) return shown;
  return "(" + std::string(raw.type_name()) + " of " + std::to_string(shown.size()) + " characters)";
}

Status ConversionError(const std::string& name, const Json& raw, const std::string& why) {
  return Status::BadRequest("error converting input " + Shown(raw) + " for field \"" + name + "\": " + why);
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool ParseInt64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

Result<std::string> WeakString(const std::string& name, const Json& raw) {
  if (raw.is_string()) return raw.get<std::string>();
  if (raw.is_number_integer()) return std::to_string(raw.get<int64_t>());
  if (raw.is_number_float()) return raw.dump();
  if (raw.is_boolean()) return std::string(raw.get<bool>() ? "1" : "0");
  if (raw.is_null()) return std::string();
  return ConversionError(name, raw, "expected a string");
}

// A JSON number as int64: nullopt when `raw` is not a number; 400 when it is out of range or (unless
// `truncate`) not whole.
Result<std::optional<int64_t>> JsonNumberToInt64(const std::string& name, const Json& raw, bool truncate = false) {
  if (raw.is_number_unsigned()) {
    if (raw.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return ConversionError(name, raw, "value out of range");
    }
    return std::optional<int64_t>(static_cast<int64_t>(raw.get<uint64_t>()));
  }
  if (raw.is_number_integer()) return std::optional<int64_t>(raw.get<int64_t>());
  if (!raw.is_number_float()) return std::optional<int64_t>();
  double d = raw.get<double>();
  if (!(d > -9.2e18 && d < 9.2e18)) return ConversionError(name, raw, "value out of range");
  if (!truncate && d != std::trunc(d)) return ConversionError(name, raw, "not an integer");
  return std::optional<int64_t>(static_cast<int64_t>(d));
}

Json ZeroValue(FieldType type) {
  switch (type) {
    case FieldType::kString: return "";
    case FieldType::kInt:
    case FieldType::kDuration: return 0;
    case FieldType::kBool: return false;
    case FieldType::kCommaStringSlice:
    case FieldType::kStringSlice: return Json::array();
    case FieldType::kMap: return Json::object();
  }
  return nullptr;
}

}  // namespace

Result<Json> ParseField(const std::string& name, FieldType type, const Json& raw) {
  switch (type) {
    case FieldType::kString: {
      ASSIGN_OR_RETURN(std::string s, WeakString(name, raw));
      return Json(s);
    }
    case FieldType::kInt: {
      ASSIGN_OR_RETURN(std::optional<int64_t> n, JsonNumberToInt64(name, raw));
      if (n) return Json(*n);
      if (raw.is_boolean()) return Json(raw.get<bool>() ? 1 : 0);
      if (raw.is_string()) {
        std::string s = Trim(raw.get<std::string>());
        if (s.empty()) return Json(0);
        int64_t v;
        if (!ParseInt64(s, &v)) return ConversionError(name, raw, "cannot parse '" + Shown(Json(s)) + "' as int");
        return Json(v);
      }
      if (raw.is_null()) return Json(0);
      return ConversionError(name, raw, "expected an integer");
    }
    case FieldType::kBool: {
      if (raw.is_boolean()) return raw;
      if (raw.is_number()) return Json(raw.get<double>() != 0);
      if (raw.is_string()) {
        std::string s = Trim(raw.get<std::string>());
        if (s.empty()) return Json(false);
        std::optional<bool> b = ParseGoBool(s);
        if (!b) return ConversionError(name, raw, "cannot parse '" + Shown(Json(s)) + "' as bool");
        return Json(*b);
      }
      if (raw.is_null()) return Json(false);
      return ConversionError(name, raw, "expected a boolean");
    }
    case FieldType::kDuration: {
      int64_t seconds = 0;
      if (raw.is_number()) {
        ASSIGN_OR_RETURN(std::optional<int64_t> n, JsonNumberToInt64(name, raw, /*truncate=*/true));
        seconds = *n;
      } else if (raw.is_string()) {
        auto d = ParseDurationSeconds(raw.get<std::string>());
        if (!d.ok()) return ConversionError(name, raw, d.status().message());
        seconds = *d;
      } else if (!raw.is_null()) {
        return ConversionError(name, raw, "expected a duration");
      }
      if (seconds < 0) return ConversionError(name, raw, "cannot provide negative value");
      if (seconds > kMaxDurationSeconds) return ConversionError(name, raw, "duration out of range");
      return Json(seconds);
    }
    case FieldType::kCommaStringSlice:
    case FieldType::kStringSlice: {
      Json out = Json::array();
      if (raw.is_null()) return out;
      if (raw.is_array()) {
        for (const auto& e : raw) {
          ASSIGN_OR_RETURN(std::string s, WeakString(name, e));
          if (type == FieldType::kCommaStringSlice) {
            s = Trim(s);
            if (s.empty()) continue;
          }
          out.push_back(s);
        }
        return out;
      }
      ASSIGN_OR_RETURN(std::string s, WeakString(name, raw));
      if (type == FieldType::kStringSlice) {
        out.push_back(s);
        return out;
      }
      size_t start = 0;
      while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        std::string part = Trim(s.substr(start, comma - start));
        if (!part.empty()) out.push_back(part);
        start = comma + 1;
      }
      return out;
    }
    case FieldType::kMap: {
      if (raw.is_object()) return raw;
      if (raw.is_null()) return Json::object();
      if (raw.is_string()) {
        Json parsed = Json::parse(raw.get<std::string>(), nullptr, false);
        if (parsed.is_object()) return parsed;
      }
      return ConversionError(name, raw, "expected a map");
    }
  }
  return Status::Internal("unknown field type");
}

Result<FieldData> FieldData::Parse(const FieldSchemas* schemas, const Json& raw, std::vector<std::string>* ignored) {
  FieldData fd;
  fd.schemas_ = schemas;
  if (!raw.is_object()) return fd;
  for (auto it = raw.begin(); it != raw.end(); ++it) {
    auto sit = schemas->find(it.key());
    if (sit == schemas->end()) {
      if (ignored) ignored->push_back(it.key());
      continue;
    }
    ASSIGN_OR_RETURN(Json v, ParseField(it.key(), sit->second.type, it.value()));
    fd.values_[it.key()] = std::move(v);
  }
  return fd;
}

Json FieldData::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  auto sit = schemas_->find(name);
  assert(sit != schemas_->end() && "field not declared in schema");
  if (sit == schemas_->end()) return nullptr;
  if (!sit->second.default_value.is_null()) return sit->second.default_value;
  return ZeroValue(sit->second.type);
}

std::string FieldData::GetString(const std::string& name) const {
  Json v = Get(name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t FieldData::GetInt(const std::string& name) const {
  Json v = Get(name);
  return v.is_number() ? v.get<int64_t>() : 0;
}

bool FieldData::GetBool(const std::string& name) const {
  Json v = Get(name);
  return v.is_boolean() && v.get<bool>();
}

std::vector<std::string> FieldData::GetStrings(const std::string& name) const {
  Json v = Get(name);
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_string()) out.push_back(e.get<std::string>());
    }
  }
  return out;
}

}  // namespace pki
