// pkictl's output, as the vault CLI prints it: tables of a secret's data or a list's keys, JSON, or one raw field.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "src/core/status.h"

namespace pki::cli {

// A value as vault's table shows it: strings as they are, lists as [a b c], maps as map[k:v ...], null as
// <nil>, numbers and booleans as JSON.
std::string TableValue(const nlohmann::json& v);

// A number of seconds as vault prints a duration: Go's time.Duration without zero units ("768h", "1h30m", "45s").
std::string HumanDuration(int64_t seconds);

// "Key  Value" table of a secret's data (keys sorted), with lease fields first when the secret has a lease and
// the token's fields (token, token_accessor, token_duration, ..., policies) when it has an auth block.
std::string DataTable(const nlohmann::json& secret);

// "Keys\n----" table of a LIST answer's data.keys.
std::string KeysTable(const nlohmann::json& secret);

// Columns with a header and a dashes line under it, padded to the widest cell, separated by four spaces; empty
// cells print n/a, as vault's columns do.
std::string Columns(const std::vector<std::vector<std::string>>& rows);

// -field=NAME: the field of data (or of the secret itself: lease_id, ...; or of its auth block: token,
// token_accessor, token_duration, token_renewable, token_policies, identity_policies, policies) as vault prints it: as a table value
// (strings unquoted, lists [a b]), or JSON-encoded with -format=json. NotFound when absent or null.
Result<std::string> RawField(const nlohmann::json& secret, const std::string& name, bool json = false);

// The warnings block vault prints before a table.
std::string WarningsBlock(const nlohmann::json& secret);

}  // namespace pki::cli
