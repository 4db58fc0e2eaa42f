#include "src/pki/path_roles.h"

#include <optional>
#include <string>
#include <utility>

#include "src/pki/role.h"
#include "src/pki/role_store.h"

namespace pki {
namespace {

Result<Response> ReadRole(const RoleStore& store, const FieldData& f) {
  ASSIGN_OR_RETURN(std::optional<RoleEntry> role, store.Get(f.GetString("name")));
  if (!role) return Response::Nil();
  return Response::Data(RoleToResponse(*role));
}

// POST (existing ignored: every omitted field takes its default) and PATCH (merge into the stored role).
Result<Response> WriteRole(RoleStore& store, const CaStore& cas, const FieldData& f, bool patch) {
  const std::string name = f.GetString("name");
  RETURN_IF_ERROR(ValidateRoleName(name));
  std::optional<RoleEntry> existing;
  if (patch) {
    ASSIGN_OR_RETURN(existing, store.Get(name));
    if (!existing) return Status::BadRequest("Unable to fetch role entry to patch");
  }
  std::vector<std::string> warnings;
  ASSIGN_OR_RETURN(RoleEntry role, RoleFromFields(f, existing ? &*existing : nullptr, &warnings));
  // The reference is resolved at issuance, so it may float; say so when it resolves to nothing today, as Vault.
  ASSIGN_OR_RETURN(std::optional<IssuerEntry> issuer, cas.ResolveIssuer(role.issuer_ref));
  RETURN_IF_ERROR(store.Put(name, role));
  if (!issuer) {
    warnings.push_back(role.issuer_ref == "default"
                           ? "Issuing Certificate was set to default, but no default issuing certificate "
                             "(configurable at /config/issuers) is currently set"
                           : "Issuing Certificate was set to " + role.issuer_ref +
                                 " but no issuing certificate currently has that name");
  }
  Response resp = Response::Data(RoleToResponse(role));
  resp.warnings = std::move(warnings);
  return resp;
}

Result<Response> DeleteRole(RoleStore& store, const FieldData& f) {
  RETURN_IF_ERROR(store.Delete(f.GetString("name")));
  return Response::Nil();
}

Result<Response> ListRoles(const RoleStore& store, const FieldData& f) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(f.GetString("after"), f.GetInt("limit")));
  if (keys.empty()) return Response::Nil();
  Json list = Json::array();
  for (auto& k : keys) list.push_back(std::move(k));
  return Response::Data(Json{{"keys", std::move(list)}});
}

FieldSchemas ListFields() {
  FieldSchemas fields;
  fields["after"].type = FieldType::kString;
  fields["after"].description = "Optional entry to list begin listing after, not required to exist.";
  fields["limit"].type = FieldType::kInt;
  fields["limit"].description = "Optional number of entries to return; defaults to all entries.";
  return fields;
}

}  // namespace

std::vector<PathSpec> RolePaths(const PkiContext& ctx, const CaStore* cas) {
  Storage* storage = ctx.storage;
  std::vector<PathSpec> paths;

  PathSpec list;
  list.pattern = "roles";
  list.fields = ListFields();
  list.operations[Operation::kList] = [storage](const Request&, const FieldData& f) {
    return ListRoles(RoleStore(storage), f);
  };
  list.help = "List the existing roles in this backend.";
  paths.push_back(std::move(list));

  PathSpec role;
  role.pattern = "roles/:name";
  role.fields = RoleFieldSchemas();
  role.operations[Operation::kRead] = [storage](const Request&, const FieldData& f) {
    return ReadRole(RoleStore(storage), f);
  };
  role.operations[Operation::kUpdate] = [storage, cas](const Request&, const FieldData& f) {
    RoleStore store(storage);
    return WriteRole(store, *cas, f, /*patch=*/false);
  };
  role.operations[Operation::kPatch] = [storage, cas](const Request&, const FieldData& f) {
    RoleStore store(storage);
    return WriteRole(store, *cas, f, /*patch=*/true);
  };
  role.operations[Operation::kDelete] = [storage](const Request&, const FieldData& f) {
    RoleStore store(storage);
    return DeleteRole(store, f);
  };
  role.help = "Manage the roles that can be created with this backend.";
  paths.push_back(std::move(role));
  return paths;
}

}  // namespace pki
