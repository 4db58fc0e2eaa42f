#include "src/server/logical_call.h"

#include <openssl/evp.h>

#include <cctype>
#include <map>

#include "src/core/text.h"
#include "src/server/envelope.h"
#include "src/server/url.h"

namespace pki::server {
namespace {

std::string Quoted(const std::string& s) { return DumpJson(Json(s)); }  // invalid UTF-8 shown as U+FFFD

// Query parameters as request data, as Vault's parseQuery: "help" is reserved, one value is a string, several
// are an array of strings. Every key and value must be valid UTF-8.
std::variant<Json, HttpError> QueryData(const std::vector<std::pair<std::string, std::string>>& params,
                                        std::string_view drop) {
  std::map<std::string, std::vector<std::string>> grouped;
  for (const auto& [k, v] : params) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) {
      return HttpError{400, {"invalid UTF-8 in query parameter " + Quoted(k)}};
    }
    if (k == "help" || k == drop) continue;
    grouped[k].push_back(v);
  }
  Json data = Json::object();
  for (auto& [k, values] : grouped) {
    if (values.size() == 1) {
      data[k] = values[0];
    } else {
      data[k] = values;
    }
  }
  return data;
}

// The media type of a Content-Type value, lowercased, without parameters ("application/json").
std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  std::string out;
  for (char c : t) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

bool LooksLikeJson(std::string_view body) {
  for (char c : body) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    return c == '{' || c == '[';
  }
  return false;
}

// Parses a JSON request body: empty (or whitespace, or null) is no data; anything but an object is an error.
// The nesting depth is checked first, without recursion, so a hostile body never becomes a deep Json value.
std::variant<Json, HttpError> ParseJsonBody(const std::string& body) {
  if (JsonNestingExceeds(body, kMaxRequestJsonDepth)) {
    return HttpError{400, {"error parsing JSON: JSON input exceeds allowed nesting depth of " +
                           std::to_string(kMaxRequestJsonDepth)}};
  }
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    bool blank = true;
    for (char c : body) blank = blank && std::isspace(static_cast<unsigned char>(c));
    if (blank) return Json::object();
    return HttpError{400, {"error parsing JSON"}};
  }
  if (parsed.is_null()) return Json::object();
  if (!parsed.is_object()) return HttpError{400, {"error parsing JSON"}};
  return parsed;
}

// Form fields as Vault's parseFormRequest: repeated fields are joined with commas. Every decoded key and value
// must be valid UTF-8.
std::variant<Json, HttpError> FormData(std::string_view body) {
  std::map<std::string, std::string> fields;
  for (auto& [k, v] : ParseQueryString(body)) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) {
      return HttpError{400, {"error parsing form data: invalid UTF-8 in field " + Quoted(k)}};
    }
    auto [it, inserted] = fields.emplace(k, v);
    if (!inserted) it->second += "," + v;
  }
  Json data = Json::object();
  for (auto& [k, v] : fields) data[k] = v;
  return data;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

}  // namespace

std::variant<LogicalCall, HttpError> ParseLogicalCall(const HttpRequest& req) {
  RequestTarget target = SplitTarget(req.target);
  std::optional<std::string> path = PercentDecode(target.raw_path, false);
  if (!path) return HttpError{400, {"invalid URL escape in request path"}};
  if (!IsValidUtf8(*path)) return HttpError{400, {"invalid UTF-8 in request path"}};
  constexpr std::string_view kPrefix = "/v1/";
  if (path->compare(0, kPrefix.size(), kPrefix) != 0 || path->size() == kPrefix.size()) return HttpError{404, {}};

  LogicalCall call;
  call.path = path->substr(kPrefix.size());
  // "." and ".." segments: Vault's mux redirects them away; here they are refused, so that no backend ever sees
  // a path that could mean another one.
  for (size_t begin = 0; begin <= call.path.size();) {
    size_t end = call.path.find('/', begin);
    if (end == std::string::npos) end = call.path.size();
    const std::string_view segment = std::string_view(call.path).substr(begin, end - begin);
    if (segment == "." || segment == "..") return HttpError{400, {"invalid request path: \".\" and \"..\" segments"}};
    begin = end + 1;
  }
  auto query = ParseQueryString(target.raw_query);
  const std::string& method = req.method;

  if (method == "GET" || method == "HEAD") {
    call.operation = Operation::kRead;
    call.head = method == "HEAD";
    std::string list_value;
    for (const auto& [k, v] : query) {
      if (k == "list") {
        list_value = v;
        break;
      }
    }
    bool list = false;
    if (!list_value.empty() && !call.head) {
      std::optional<bool> b = ParseGoBool(list_value);
      if (!b) return HttpError{400, {}};
      list = *b;
    }
    if (list) {
      call.operation = Operation::kList;
      if (call.path.back() != '/') call.path += '/';
    }
    auto data = QueryData(query, list ? "list" : "");
    if (auto* err = std::get_if<HttpError>(&data)) return *err;
    call.data = std::move(std::get<Json>(data));
  } else if (method == "LIST") {
    call.operation = Operation::kList;
    if (call.path.back() != '/') call.path += '/';
    auto data = QueryData(query, "");
    if (auto* err = std::get_if<HttpError>(&data)) return *err;
    call.data = std::move(std::get<Json>(data));
  } else if (method == "DELETE") {
    call.operation = Operation::kDelete;
    auto data = QueryData(query, "");
    if (auto* err = std::get_if<HttpError>(&data)) return *err;
    call.data = std::move(std::get<Json>(data));
  } else if (method == "POST" || method == "PUT") {
    call.operation = Operation::kUpdate;
    std::string media = MediaType(req.Header("Content-Type"));
    if (media == "application/ocsp-request") {
      // Vault hands binary bodies (PathsSpecial.Binary, e.g. OCSP POST) to the backend unparsed; the logical
      // request carries them base64-encoded under the key Vault uses for raw bodies.
      call.data = Json::object({{"http_raw_body", Base64(req.body)}});
    } else if (media == "application/x-www-form-urlencoded" && !LooksLikeJson(req.body)) {
      auto form = FormData(req.body);
      if (auto* err = std::get_if<HttpError>(&form)) return *err;
      call.data = std::move(std::get<Json>(form));
    } else {
      auto parsed = ParseJsonBody(req.body);
      if (auto* err = std::get_if<HttpError>(&parsed)) return *err;
      call.data = std::move(std::get<Json>(parsed));
    }
  } else if (method == "PATCH") {
    call.operation = Operation::kPatch;
    std::string media = MediaType(req.Header("Content-Type"));
    if (media.empty()) return HttpError{400, {"mime: no media type"}};
    if (media != "application/merge-patch+json") {
      return HttpError{415, {"PATCH requires Content-Type of application/merge-patch+json, provided " + media}};
    }
    auto parsed = ParseJsonBody(req.body);
    if (auto* err = std::get_if<HttpError>(&parsed)) return *err;
    call.data = std::move(std::get<Json>(parsed));
  } else {
    return HttpError{405, {}};
  }
  return call;
}

}  // namespace pki::server
