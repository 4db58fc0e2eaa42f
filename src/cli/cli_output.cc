#include "src/cli/cli_output.h"

#include "src/core/duration.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

namespace pki::cli {

std::string TableValue(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + TableValue(v[i]);
    return out + "]";
  }
  if (v.is_object()) {
    std::string out = "map[";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {  // nlohmann orders keys, as Go prints maps
      out += (first ? "" : " ") + it.key() + ":" + TableValue(it.value());
      first = false;
    }
    return out + "]";
  }
  return v.dump();
}

std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].empty() ? size_t{3} : r[i].size());  // empty cells print n/a
    }
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i].empty() ? "n/a" : r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - (r[i].empty() ? 3 : r[i].size()) + 4, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(rows.front());
  std::vector<std::string> dashes;
  for (const auto& h : rows.front()) dashes.push_back(std::string(h.size(), '-'));
  out += line(dashes);
  for (size_t i = 1; i < rows.size(); ++i) out += line(rows[i]);
  return out;
}

std::string HumanDuration(int64_t seconds) {
  // vault's humanDuration: Go's Duration.String() with a trailing "0s" after minutes and a "0m" after hours cut.
  std::string s = FormatGoDuration(seconds);
  if (s.size() > 3 && s.compare(s.size() - 3, 3, "m0s") == 0) s.resize(s.size() - 2);
  if (size_t h = s.find("h0m"); h != std::string::npos && h > 0) s.erase(h + 1, 2);
  return s;
}

namespace {

// A JSON value holding a whole number of seconds, as a number or a numeric string.
std::optional<int64_t> Seconds(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
  if (v.is_string()) {
    try {
      size_t used = 0;
      int64_t n = std::stoll(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return n;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

// Go's %q of a []string: ["a" "b"].
std::string QuotedList(const nlohmann::json& v) {
  std::string out = "[";
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      out += (i ? " " : "") + (v[i].is_string() ? v[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                                 : TableValue(v[i]));
    }
  }
  return out + "]";
}

const nlohmann::json& Member(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

// The auth block of a secret (auth/token/create's answer), when it has one.
const nlohmann::json* AuthOf(const nlohmann::json& secret) {
  const nlohmann::json& auth = Member(secret, "auth");
  return auth.is_object() ? &auth : nullptr;
}

}  // namespace

std::string DataTable(const nlohmann::json& secret) {
  std::vector<std::vector<std::string>> rows = {{"Key", "Value"}};
  if (!secret.is_object()) return Columns(rows);
  auto lease = secret.find("lease_id");
  auto duration = secret.find("lease_duration");
  if (lease != secret.end() && lease->is_string() && !lease->get<std::string>().empty()) {
    rows.push_back({"lease_id", lease->get<std::string>()});
    const nlohmann::json d = duration != secret.end() ? *duration : nlohmann::json();
    const std::optional<int64_t> secs = Seconds(d);
    rows.push_back({"lease_duration", secs ? HumanDuration(*secs) : TableValue(d)});
    auto renewable = secret.find("renewable");
    rows.push_back({"lease_renewable", renewable != secret.end() ? TableValue(*renewable) : "false"});
  }
  // As vault: a token's fields (auth/token/create), the duration "∞" for a token that never expires.
  if (const nlohmann::json* auth = AuthOf(secret)) {
    rows.push_back({"token", TableValue(Member(*auth, "client_token"))});
    rows.push_back({"token_accessor", TableValue(Member(*auth, "accessor"))});
    const std::optional<int64_t> secs = Seconds(Member(*auth, "lease_duration"));
    rows.push_back({"token_duration", !secs || *secs == 0 ? "∞" : HumanDuration(*secs)});
    rows.push_back({"token_renewable", Member(*auth, "renewable").is_boolean()
                                           ? TableValue(Member(*auth, "renewable"))
                                           : "false"});
    rows.push_back({"token_policies", QuotedList(Member(*auth, "token_policies"))});
    rows.push_back({"identity_policies", QuotedList(Member(*auth, "identity_policies"))});
    rows.push_back({"policies", QuotedList(Member(*auth, "policies"))});
    const nlohmann::json& meta = Member(*auth, "metadata");
    if (meta.is_object()) {
      for (auto it = meta.begin(); it != meta.end(); ++it) rows.push_back({"token_meta_" + it.key(), TableValue(it.value())});
    }
  }
  auto data_it = secret.find("data");
  const nlohmann::json data = data_it != secret.end() ? *data_it : nlohmann::json::object();
  if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) rows.push_back({it.key(), TableValue(it.value())});
  }
  return Columns(rows);
}

std::string KeysTable(const nlohmann::json& secret) {
  std::vector<std::vector<std::string>> rows = {{"Keys"}};
  if (secret.is_object() && secret.contains("data") && secret["data"].is_object() &&
      secret["data"].contains("keys") && secret["data"]["keys"].is_array()) {
    for (const auto& k : secret["data"]["keys"]) rows.push_back({TableValue(k)});
  }
  return Columns(rows);
}

Result<std::string> RawField(const nlohmann::json& secret, const std::string& name, bool json) {
  // As vault: with an auth block, the token's fields by their table names; else data's field, else the secret's.
  static const std::pair<const char*, const char*> kAuthFields[] = {
      {"token", "client_token"},           {"token_accessor", "accessor"},
      {"token_duration", "lease_duration"}, {"token_renewable", "renewable"},
      {"token_policies", "token_policies"}, {"identity_policies", "identity_policies"},
      {"policies", "policies"}};
  const nlohmann::json* v = nullptr;
  if (const nlohmann::json* auth = AuthOf(secret)) {
    for (const auto& [shown, key] : kAuthFields) {
      if (name == shown) v = &Member(*auth, key);
    }
  }
  const nlohmann::json& data = Member(secret, "data");
  if (v == nullptr && data.is_object() && data.contains(name)) v = &data[name];
  if (v == nullptr && secret.is_object() && secret.contains(name)) v = &secret[name];
  if (!v || v->is_null()) return Status::NotFound("Field \"" + name + "\" not present in secret");
  if (json) return v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return TableValue(*v);
}

std::string WarningsBlock(const nlohmann::json& secret) {
  if (!secret.is_object()) return "";
  auto it = secret.find("warnings");
  if (it == secret.end() || !it->is_array() || it->empty()) return "";
  std::string out = "WARNING! The following warnings were returned from Vault:\n\n";
  for (const auto& w : *it) out += "  * " + TableValue(w) + "\n\n";
  return out;
}

}  // namespace pki::cli
