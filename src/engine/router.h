// Router: a declarative table of paths, as Vault's framework.Path.
//
// A path pattern is '/'-separated segments: literals, ":name" (one non-empty segment, captured as field `name`)
// or a final "*name" (the rest of the path, captured). The first pattern in table order that matches wins.
// Captured segments are merged into the request data before the fields are parsed, so handlers see typed values.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/engine/fields.h"
#include "src/engine/request.h"

namespace pki {

using Handler = std::function<Result<Response>(const Request&, const FieldData&)>;

// Adapts a member function of a shared handler object to a Handler; the Handler keeps the object alive.
template <typename H>
Handler BindHandler(std::shared_ptr<H> self, Result<Response> (H::*method)(const Request&, const FieldData&)) {
  return [self = std::move(self), method](const Request& r, const FieldData& f) { return ((*self).*method)(r, f); };
}

struct PathSpec {
  std::string pattern;
  FieldSchemas fields;
  std::map<Operation, Handler> operations;
  bool unauthenticated = false;  // listed in UnauthenticatedPaths()
  std::string help;
};

// Immutable after construction; safe for concurrent Route calls.
class Router {
 public:
  explicit Router(std::vector<PathSpec> paths);

  // Parses the request against the matching path and calls its handler. 404 "unsupported path" when no pattern
  // matches, 405 when the path has no handler for the operation. Create falls back to update, as Vault's PKI paths
  // have no existence check.
  Result<Response> Route(const Request& req) const;

  // The path a request for `path` reaches, as Route finds it (trailing slashes included), with `captures` set to
  // the segments it captures; nullptr (and no captures) when no pattern matches. For callers that must know what a
  // request will do before making it (the fuzz targets).
  const PathSpec* Resolve(std::string_view path, std::map<std::string, std::string>* captures) const;

  // Vault special-path globs for the unauthenticated paths ("cert/*", "issuer/+/pem").
  std::vector<std::string> UnauthenticatedPatterns() const;

  // The table in order: each pattern with the operations it serves (for tests that walk every path).
  struct Entry {
    std::string pattern;
    std::vector<Operation> operations;
    bool unauthenticated = false;
  };
  std::vector<Entry> Table() const;

 private:
  struct Compiled {
    std::vector<std::string> segments;
    const PathSpec* spec;
  };
  // Whether `c` matches `path`, given as its segments `parts` (views into `path`); fills `captures` only then.
  static bool Match(const Compiled& c, std::string_view path, const std::vector<std::string_view>& parts,
                    std::map<std::string, std::string>* captures);

  std::vector<PathSpec> paths_;
  std::vector<Compiled> compiled_;
};

}  // namespace pki
