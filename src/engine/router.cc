#include "src/engine/router.h"

namespace pki {
namespace {

// The '/'-separated segments of `s`, as views into it ("a//b/" is "a", "", "b", "").
std::vector<std::string_view> Segments(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  for (std::string_view seg : Segments(s)) out.emplace_back(seg);
  return out;
}

}  // namespace

Router::Router(std::vector<PathSpec> paths) : paths_(std::move(paths)) {
  for (const auto& p : paths_) compiled_.push_back({Split(p.pattern), &p});
}

bool Router::Match(const Compiled& c, std::string_view path, const std::vector<std::string_view>& parts,
                   std::map<std::string, std::string>* captures) {
  size_t i = 0;
  for (; i < c.segments.size(); ++i) {
    const std::string& seg = c.segments[i];
    if (!seg.empty() && seg[0] == '*') {
      // The rest of the path from this segment on, slashes and all; parts are views into `path`.
      if (i >= parts.size() || (i + 1 == parts.size() && parts[i].empty())) return false;
      break;
    }
    if (i >= parts.size()) return false;
    if (!seg.empty() && seg[0] == ':') {
      if (parts[i].empty()) return false;
    } else if (seg != parts[i]) {
      return false;
    }
  }
  if (i == c.segments.size() && i != parts.size()) return false;
  // A match: only now are the captured segments copied out.
  for (size_t j = 0; j < c.segments.size(); ++j) {
    const std::string& seg = c.segments[j];
    if (seg.empty() || (seg[0] != ':' && seg[0] != '*')) continue;
    if (seg[0] == '*') {
      (*captures)[seg.substr(1)] = std::string(path.substr(static_cast<size_t>(parts[j].data() - path.data())));
      break;
    }
    (*captures)[seg.substr(1)] = std::string(parts[j]);
  }
  return true;
}

const PathSpec* Router::Resolve(std::string_view full_path, std::map<std::string, std::string>* captures) const {
  captures->clear();
  std::string_view path = full_path;
  // LIST requests arrive with a trailing slash ("roles/"); patterns are written without it.
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t stripped = full_path.size() - path.size();
  // A trailing "*rest" capture matches the path as given, keeping its slashes (a base64 OCSP request may end in
  // '/', or be nothing but '/'). Where more than one trailing slash went, that capture is preferred to a pattern
  // that only matches once they are gone: "ocsp////" is a GET of "///", not the POST path "ocsp".
  const auto ends_in_capture = [](const Compiled& c) {
    return !c.segments.empty() && !c.segments.back().empty() && c.segments.back()[0] == '*';
  };
  // Each form of the path is split once, not once per pattern (an OCSP GET carries kilobytes of base64).
  const std::vector<std::string_view> full_parts = Segments(full_path);
  const std::vector<std::string_view> parts = Segments(path);
  for (bool lenient : {false, true}) {
    for (const auto& c : compiled_) {
      // The second pass only retries the patterns the stripped slashes kept out; a capture's answer stays.
      const bool ok = ends_in_capture(c) ? !lenient && Match(c, full_path, full_parts, captures)
                                         : (lenient || stripped <= 1) && Match(c, path, parts, captures);
      if (ok) return c.spec;
    }
    if (stripped <= 1) break;
  }
  return nullptr;
}

Result<Response> Router::Route(const Request& req) const {
  std::map<std::string, std::string> captures;
  const PathSpec* spec = Resolve(req.path, &captures);
  if (spec == nullptr) return Status::NotFound("unsupported path");
  auto op = spec->operations.find(req.operation);
  if (op == spec->operations.end() && req.operation == Operation::kCreate) {
    op = spec->operations.find(Operation::kUpdate);
  }
  if (op == spec->operations.end()) return Status::Unsupported("unsupported operation");
  Json data = req.data.is_object() ? req.data : Json::object();
  for (auto& [k, v] : captures) data[k] = v;
  std::vector<std::string> ignored;
  auto fields = FieldData::Parse(&spec->fields, data, &ignored);
  if (!fields.ok()) return fields.status().Annotate("Field validation failed");
  ASSIGN_OR_RETURN(Response resp, op->second(req, *fields));
  if (!ignored.empty() && !resp.raw && !resp.nil) {
    std::string w = "Endpoint ignored these unrecognized parameters: [";
    for (size_t i = 0; i < ignored.size(); ++i) w += (i ? " " : "") + ignored[i];
    resp.warnings.push_back(w + "]");
  }
  return resp;
}

std::vector<std::string> Router::UnauthenticatedPatterns() const {
  std::vector<std::string> out;
  for (const auto& c : compiled_) {
    if (!c.spec->unauthenticated) continue;
    std::string glob;
    for (size_t i = 0; i < c.segments.size(); ++i) {
      const std::string& seg = c.segments[i];
      if (i) glob += "/";
      if (!seg.empty() && seg[0] == '*') {
        glob += "*";
        break;
      }
      glob += (!seg.empty() && seg[0] == ':') ? "+" : seg;
    }
    // A LIST request's path ends in '/' (Vault's "issuers/").
    if (c.spec->operations.count(Operation::kList) && glob.back() != '*') glob += "/";
    out.push_back(glob);
  }
  return out;
}

std::vector<Router::Entry> Router::Table() const {
  std::vector<Entry> out;
  for (const auto& spec : paths_) {
    Entry e{spec.pattern, {}, spec.unauthenticated};
    for (const auto& [op, handler] : spec.operations) e.operations.push_back(op);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pki
