// Fuzz target: request field parsing: every FieldType of the schema layer (src/engine/fields) on a JSON value, and
// the engine's parsers of field text: durations, serials, hex/base64, IP SANs, URI SANs, other SANs, CIDR ranges,
// hostnames (IDNA) and name globs against a role (src/pki/name_policy, src/crypto/x509).
// Input: one selector byte, then the text. The text is also parsed as JSON and, when it is, given to ParseField
// as that value; otherwise as a JSON string.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/duration.h"
#include "src/core/text.h"
#include "src/crypto/x509.h"
#include "src/engine/fields.h"
#include "src/pki/name_policy.h"
#include "src/pki/role.h"

namespace {

pki::RoleEntry OpenRole() {
  pki::RoleEntry role;
  role.allow_any_name = false;
  role.allowed_domains = {"example.com", "*.example.org", "{{identity.entity.name}}.test"};
  role.allow_subdomains = true;
  role.allow_glob_domains = true;
  role.allowed_uri_sans = {"spiffe://example.com/*", "https://*"};
  role.allowed_other_sans = {"1.3.6.1.4.1.311.20.2.3;utf8:*@example.com", "1.2.3.4;UTF8:*"};
  role.allowed_serial_numbers = {"abc*"};
  role.allowed_user_ids = {"*"};
  return role;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const pki::RoleEntry role = OpenRole();
  static const pki::FieldType kTypes[] = {pki::FieldType::kString,   pki::FieldType::kInt,
                                          pki::FieldType::kBool,     pki::FieldType::kDuration,
                                          pki::FieldType::kCommaStringSlice, pki::FieldType::kStringSlice,
                                          pki::FieldType::kMap};
  const uint8_t selector = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  // Request data reaches the engine as valid UTF-8 (the server and protobuf refuse anything else).
  if (!pki::IsValidUtf8(text)) return 0;

  pki::Json value = pki::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;
  const pki::FieldType type = kTypes[selector % std::size(kTypes)];
  pki::Result<pki::Json> parsed = pki::ParseField("f", type, value);
  if (parsed.ok() && type == pki::FieldType::kDuration) {
    if (!parsed->is_number_integer() || parsed->get<int64_t>() < 0 ||
        parsed->get<int64_t>() > pki::kMaxDurationSeconds) {
      __builtin_trap();
    }
  }

  // The same value in a request with one field of each type.
  static const pki::FieldSchemas schemas = [] {
    pki::FieldSchemas s;
    for (size_t i = 0; i < std::size(kTypes); ++i) s["f" + std::to_string(i)] = {kTypes[i], nullptr, ""};
    return s;
  }();
  pki::Json raw = pki::Json::object();
  for (size_t i = 0; i < std::size(kTypes); ++i) raw["f" + std::to_string(i)] = value;
  raw["unknown"] = value;
  std::vector<std::string> ignored;
  (void)pki::FieldData::Parse(&schemas, raw, &ignored);

  if (auto d = pki::ParseDurationSeconds(text); d.ok()) (void)pki::FormatGoDuration(d.value());
  if (auto ms = pki::ParseDurationMillis(text); ms.ok()) (void)pki::FormatGoDurationMillis(ms.value());
  if (auto serial = pki::ParseSerial(text); serial.ok()) {
    // A parsed serial prints back to a text that parses to the same bytes.
    auto again = pki::ParseSerial(pki::FormatSerial(serial.value()));
    if (!again.ok() || again.value() != serial.value()) __builtin_trap();
  }
  (void)pki::HexDecode(text);
  (void)pki::Base64Decode(text);

  const std::vector<std::string> list = pki::Split(text, ',');
  (void)pki::ParseIpSans(role, list, pki::SanSource::kApi);
  (void)pki::ValidateUriSans(role, list, pki::SanSource::kCsr);
  if (auto others = pki::ParseOtherSans(list); others.ok()) (void)pki::ValidateOtherSans(role, others.value());
  (void)pki::EncodeIpRange(text);
  if (auto ascii = pki::HostnameToAscii(text); ascii.ok()) (void)pki::IsValidHostname(ascii.value());
  pki::DnsAndEmailNames names;
  (void)pki::AddCommonNameToSans(text, &names);
  (void)pki::AddAltNamesToSans(text, &names);
  (void)pki::ValidateCommonName(role, text);
  (void)pki::ValidateDnsAndEmailSans(role, names.dns_names, names.emails);
  (void)pki::ValidateSubjectSerialNumber(role, text);
  (void)pki::ValidateUserIds(role, list);
  if (list.size() >= 2) (void)pki::GlobMatch(list[0], list[1]);
  return 0;
}
