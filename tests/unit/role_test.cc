// Roles: field parsing and defaults, Vault's validation texts, POST vs PATCH, storage round trip, and the
// `roles` paths through the router.
#include "src/pki/role.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "src/engine/router.h"
#include "src/pki/path_roles.h"
#include "src/pki/role_store.h"
#include "storage/memory_storage.h"

namespace pki {
namespace {

FieldData Fields(const Json& raw) {
  auto fd = FieldData::Parse(&RoleFieldSchemas(), raw, nullptr);
  EXPECT_TRUE(fd.ok()) << fd.status().message();
  return std::move(fd).value();
}

Result<RoleEntry> Post(const Json& raw, std::vector<std::string>* warnings = nullptr) {
  return RoleFromFields(Fields(raw), nullptr, warnings);
}

Result<RoleEntry> Patch(const RoleEntry& existing, const Json& raw, std::vector<std::string>* warnings = nullptr) {
  return RoleFromFields(Fields(raw), &existing, warnings);
}

// The error message of a write that must fail with 400.
std::string PostError(const Json& raw) {
  auto r = Post(raw);
  if (r.ok()) return "<accepted>";
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest) << r.status().message();
  return r.status().message();
}

const char kLeaseWarning[] =
    "it is encouraged to disable generate_lease and rely on PKI's native capabilities when possible; this option "
    "can cause Vault-wide issues with large numbers of issued certificates";
const char kNoStoreLeaseWarning[] =
    "mutually exclusive values no_store=true and generate_lease=true were both specified; no_store=true takes "
    "priority";

TEST(RoleFieldsTest, EmptyPostTakesVaultDefaults) {
  auto r = Post({{"name", "web"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->name, "web");
  EXPECT_EQ(r->ttl, 0);
  EXPECT_EQ(r->max_ttl, 0);
  EXPECT_TRUE(r->allow_localhost);
  EXPECT_TRUE(r->enforce_hostnames);
  EXPECT_TRUE(r->allow_ip_sans);
  EXPECT_TRUE(r->allow_wildcard_certificates);
  EXPECT_TRUE(r->server_flag);
  EXPECT_TRUE(r->client_flag);
  EXPECT_FALSE(r->code_signing_flag);
  EXPECT_TRUE(r->use_csr_common_name);
  EXPECT_TRUE(r->use_csr_sans);
  EXPECT_TRUE(r->require_cn);
  EXPECT_FALSE(r->allow_any_name);
  EXPECT_FALSE(r->generate_lease);
  EXPECT_FALSE(r->no_store);
  EXPECT_EQ(r->key_type, "rsa");
  EXPECT_EQ(r->key_bits, 2048);
  EXPECT_EQ(r->signature_bits, 256);
  EXPECT_EQ(r->key_usage, (std::vector<std::string>{"DigitalSignature", "KeyAgreement", "KeyEncipherment"}));
  EXPECT_TRUE(r->ext_key_usage.empty());
  EXPECT_EQ(r->cn_validations, (std::vector<std::string>{"email", "hostname"}));
  EXPECT_EQ(r->not_before_duration, 30);
  EXPECT_EQ(r->issuer_ref, "default");
  EXPECT_EQ(r->serial_number_source, "json-csr");
  EXPECT_EQ(r->not_after, "");

  // A default-constructed entry is the same role.
  RoleEntry defaults;
  EXPECT_EQ(RoleToResponse(*r), RoleToResponse(defaults));
}

TEST(RoleFieldsTest, ResponseHasEveryFieldWithVaultTypes) {
  auto r = Post({{"name", "web"}, {"ttl", "1h"}, {"max_ttl", "72h"}});
  ASSERT_TRUE(r.ok());
  Json d = RoleToResponse(*r);
  const std::set<std::string> expected = {"ttl",
                                          "max_ttl",
                                          "allow_localhost",
                                          "allowed_domains",
                                          "allowed_domains_template",
                                          "allow_bare_domains",
                                          "allow_token_displayname",
                                          "allow_subdomains",
                                          "allow_glob_domains",
                                          "allow_wildcard_certificates",
                                          "allow_any_name",
                                          "allowed_uri_sans_template",
                                          "enforce_hostnames",
                                          "allow_ip_sans",
                                          "server_flag",
                                          "client_flag",
                                          "code_signing_flag",
                                          "email_protection_flag",
                                          "use_csr_common_name",
                                          "use_csr_sans",
                                          "serial_number_source",
                                          "key_type",
                                          "key_bits",
                                          "signature_bits",
                                          "use_pss",
                                          "key_usage",
                                          "ext_key_usage",
                                          "ext_key_usage_oids",
                                          "ou",
                                          "organization",
                                          "country",
                                          "locality",
                                          "province",
                                          "street_address",
                                          "postal_code",
                                          "no_store",
                                          "no_store_metadata",
                                          "allowed_other_sans",
                                          "allowed_serial_numbers",
                                          "allowed_user_ids",
                                          "allowed_uri_sans",
                                          "require_cn",
                                          "cn_validations",
                                          "policy_identifiers",
                                          "basic_constraints_valid_for_non_ca",
                                          "not_before_duration",
                                          "not_after",
                                          "issuer_ref",
                                          "generate_lease"};
  std::set<std::string> got;
  for (auto it = d.begin(); it != d.end(); ++it) got.insert(it.key());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(d["ttl"], 3600);
  EXPECT_EQ(d["max_ttl"], 259200);
  EXPECT_EQ(d["not_before_duration"], 30);
  for (const char* list : {"allowed_domains", "allowed_uri_sans", "allowed_other_sans", "ou", "policy_identifiers",
                           "ext_key_usage_oids", "allowed_user_ids", "postal_code"}) {
    EXPECT_TRUE(d[list].is_array()) << list;
  }
  EXPECT_FALSE(d.contains("name"));
}

TEST(RoleFieldsTest, WeakTypingAsVault) {
  auto r = Post({{"name", "web"},
                 {"allowed_domains", "example.com, example.org"},
                 {"allow_localhost", "false"},
                 {"ttl", "72h"},
                 {"max_ttl", 300000},
                 {"key_bits", "4096"},
                 {"not_before_duration", "1m"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->allowed_domains, (std::vector<std::string>{"example.com", "example.org"}));
  EXPECT_FALSE(r->allow_localhost);
  EXPECT_EQ(r->ttl, 259200);
  EXPECT_EQ(r->max_ttl, 300000);
  EXPECT_EQ(r->key_bits, 4096);
  EXPECT_EQ(r->not_before_duration, 60);
}

TEST(RoleFieldsTest, KeyTypeAndBitsResolution) {
  struct Case {
    Json in;
    int64_t key_bits;
    int64_t signature_bits;
  };
  const Case cases[] = {
      {{{"key_type", "rsa"}}, 2048, 256},
      {{{"key_type", "rsa"}, {"key_bits", 3072}, {"signature_bits", 384}}, 3072, 384},
      {{{"key_type", "rsa"}, {"key_bits", 8192}, {"signature_bits", 512}}, 8192, 512},
      {{{"key_type", "ec"}}, 256, 0},
      {{{"key_type", "ec"}, {"key_bits", 224}}, 224, 0},
      {{{"key_type", "ec"}, {"key_bits", 521}}, 521, 0},
      {{{"key_type", "ed25519"}}, 0, 0},
      {{{"key_type", "ed25519"}, {"signature_bits", 384}}, 0, 0},
      {{{"key_type", "any"}}, 0, 0},
  };
  for (const auto& c : cases) {
    Json in = c.in;
    in["name"] = "r";
    auto r = Post(in);
    ASSERT_TRUE(r.ok()) << in.dump() << ": " << r.status().message();
    EXPECT_EQ(r->key_bits, c.key_bits) << in.dump();
    EXPECT_EQ(r->signature_bits, c.signature_bits) << in.dump();
  }
}

TEST(RoleFieldsTest, KeyValidationErrorsUseVaultTexts) {
  EXPECT_EQ(PostError({{"key_type", "rsa"}, {"key_bits", 1024}}),
            "RSA keys < 2048 bits are unsafe and not supported: got 1024");
  EXPECT_EQ(PostError({{"key_type", "rsa"}, {"key_bits", 3000}}), "unsupported bit length for RSA key: 3000");
  EXPECT_EQ(PostError({{"key_type", "ec"}, {"key_bits", 512}}), "unsupported bit length for EC key: 512");
  EXPECT_EQ(PostError({{"key_type", "dsa"}}), "unknown key type dsa");
  EXPECT_EQ(PostError({{"key_type", "rsa"}, {"signature_bits", 128}}), "unsupported hash signature algorithm: 128");
}

TEST(RoleFieldsTest, TtlMustNotExceedMaxTtl) {
  EXPECT_EQ(PostError({{"ttl", "2h"}, {"max_ttl", "1h"}}), "\"ttl\" value must be less than \"max_ttl\" value");
  EXPECT_TRUE(Post({{"ttl", "1h"}, {"max_ttl", "1h"}}).ok());
  EXPECT_TRUE(Post({{"ttl", "9999h"}}).ok());  // max_ttl 0: the mount's limit applies at issuance
}

TEST(RoleFieldsTest, CnValidations) {
  auto r = Post({{"cn_validations", "Email"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cn_validations, std::vector<std::string>{"email"});
  r = Post({{"cn_validations", Json::array()}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cn_validations, (std::vector<std::string>{"email", "hostname"}));
  r = Post({{"cn_validations", "disabled"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cn_validations, std::vector<std::string>{"disabled"});

  EXPECT_EQ(PostError({{"cn_validations", "email,foo"}}), "cn_validations value incorrect: unknown type: `foo`");
  EXPECT_EQ(PostError({{"cn_validations", "email,EMAIL"}}),
            "cn_validations value incorrect: `email` specified multiple times");
  EXPECT_EQ(PostError({{"cn_validations", "disabled,hostname"}}),
            "cn_validations value incorrect: cannot specify `disabled` along with `email` or `hostname`");
}

TEST(RoleFieldsTest, ExtKeyUsageOids) {
  auto r = Post({{"ext_key_usage_oids", "1.3.6.1.5.5.7.3.1, 1.2.3.4"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ext_key_usage_oids, (std::vector<std::string>{"1.3.6.1.5.5.7.3.1", "1.2.3.4"}));
  EXPECT_EQ(PostError({{"ext_key_usage_oids", "1.2.3,foo"}}),
            "\"foo\" could not be parsed as a valid oid for an extended key usage");
  EXPECT_EQ(PostError({{"ext_key_usage_oids", "1..2"}}),
            "\"1..2\" could not be parsed as a valid oid for an extended key usage");
}

TEST(RoleFieldsTest, AllowedOtherSansSyntax) {
  EXPECT_TRUE(Post({{"allowed_other_sans", "*"}}).ok());
  EXPECT_TRUE(Post({{"allowed_other_sans", "1.3.6.1.4.1.311.20.2.3;UTF8:*,1.2.3;utf-8:foo*"}}).ok());
  EXPECT_EQ(PostError({{"allowed_other_sans", "foo"}}),
            "error parsing allowed_other_sans: expected a semicolon in other SAN \"foo\"");
  EXPECT_EQ(PostError({{"allowed_other_sans", "1.2.3;UTF8"}}),
            "error parsing allowed_other_sans: expected a colon in other SAN \"1.2.3;UTF8\"");
  EXPECT_EQ(PostError({{"allowed_other_sans", "1.2.3;IA5:x"}}),
            "error parsing allowed_other_sans: only utf8 other SANs are supported; found non-supported type in "
            "other SAN \"1.2.3;IA5:x\"");
  // "*" is only special alone.
  EXPECT_EQ(PostError({{"allowed_other_sans", "*,1.2.3;UTF8:x"}}),
            "error parsing allowed_other_sans: expected a semicolon in other SAN \"*\"");
}

TEST(RoleFieldsTest, NotAfterMustBeRfc3339) {
  auto r = Post({{"not_after", "9999-12-31T23:59:59Z"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->not_after, "9999-12-31T23:59:59Z");
  EXPECT_TRUE(Post({{"not_after", "2030-06-01T12:00:00.5+02:00"}}).ok());
  EXPECT_NE(PostError({{"not_after", "tomorrow"}}), "<accepted>");
  EXPECT_NE(PostError({{"not_after", "2030-02-30T00:00:00Z"}}), "<accepted>");
  EXPECT_NE(PostError({{"not_after", "2030-01-01 00:00:00Z"}}), "<accepted>");
  EXPECT_NE(PostError({{"not_after", "2030-01-01T00:00:00"}}), "<accepted>");
}

TEST(RoleFieldsTest, Rfc3339Values) {
  EXPECT_EQ(*ParseRfc3339Seconds("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Seconds("2000-01-01T00:00:00+01:00"), 946681200);
  EXPECT_EQ(*ParseRfc3339Seconds("2024-02-29T12:34:56Z"), 1709210096);
  EXPECT_EQ(*ParseRfc3339Seconds("9999-12-31T23:59:59Z"), 253402300799);
  EXPECT_FALSE(ParseRfc3339Seconds("2023-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339Seconds("2023-01-01T24:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339Seconds("2023-01-01T00:00:00Zjunk").ok());
}

TEST(RoleFieldsTest, DottedOids) {
  EXPECT_TRUE(IsDottedOid("1.2.3"));
  EXPECT_TRUE(IsDottedOid("0.39"));
  EXPECT_TRUE(IsDottedOid("2.999.1"));
  EXPECT_TRUE(IsDottedOid("2.25.329800735698586629295641978511506172918"));
  EXPECT_FALSE(IsDottedOid("1"));
  EXPECT_FALSE(IsDottedOid("3.1"));
  EXPECT_FALSE(IsDottedOid("1.40"));
  EXPECT_FALSE(IsDottedOid("1..2"));
  EXPECT_FALSE(IsDottedOid("1.2."));
  EXPECT_FALSE(IsDottedOid("a.b"));
  EXPECT_FALSE(IsDottedOid(""));
}

TEST(RoleFieldsTest, SerialNumberSource) {
  EXPECT_EQ(Post({{"serial_number_source", "json"}})->serial_number_source, "json");
  EXPECT_EQ(PostError({{"serial_number_source", "csr"}}), "unknown serial_number_source csr");
}

TEST(RoleFieldsTest, GenerateLeaseAndNoStore) {
  std::vector<std::string> warnings;
  auto r = Post({{"generate_lease", true}}, &warnings);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->generate_lease);
  EXPECT_EQ(warnings, std::vector<std::string>{kLeaseWarning});

  warnings.clear();
  r = Post({{"generate_lease", true}, {"no_store", true}}, &warnings);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->generate_lease);
  EXPECT_TRUE(r->no_store);
  EXPECT_EQ(warnings, std::vector<std::string>{kNoStoreLeaseWarning});

  warnings.clear();
  r = Post({{"no_store", true}}, &warnings);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(warnings.empty());
}

TEST(RoleFieldsTest, PolicyIdentifiersAsOidsOrJson) {
  auto r = Post({{"policy_identifiers", "1.2.3.4, 1.2.3.5"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy_identifiers, (std::vector<std::string>{"1.2.3.4", "1.2.3.5"}));

  r = Post({{"policy_identifiers", Json::array({"1.2.3.4", " 1.2.3.5 "})}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy_identifiers, (std::vector<std::string>{"1.2.3.4", "1.2.3.5"}));

  // The JSON form is stored as Go's json.Marshal writes each entry (oid, cps, notice; HTML-safe escapes).
  r = Post({{"policy_identifiers", R"([{"oid":"1.3.6.1.4.1.7.8","notice":"I am, a user Notice"},)"
                                   R"({"OID":"1.3.6.1.4.1.44947.1.2.4","cps":"https://example.com/cps?a=1&b=2"}])"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->policy_identifiers.size(), 2u);
  EXPECT_EQ(r->policy_identifiers[0], R"({"oid":"1.3.6.1.4.1.7.8","notice":"I am, a user Notice"})");
  EXPECT_EQ(r->policy_identifiers[1],
            R"({"oid":"1.3.6.1.4.1.44947.1.2.4","cps":"https://example.com/cps?a=1\u0026b=2"})");
  auto parsed = ParsePolicyIdentifiers(r->policy_identifiers);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].oid, "1.3.6.1.4.1.7.8");
  EXPECT_EQ((*parsed)[0].notice, "I am, a user Notice");
  EXPECT_EQ((*parsed)[1].cps, "https://example.com/cps?a=1&b=2");

  EXPECT_NE(PostError({{"policy_identifiers", "not-an-oid"}}), "<accepted>");
  EXPECT_NE(PostError({{"policy_identifiers", R"([{"oid":"x.y"}])"}}), "<accepted>");
}

TEST(RolePatchTest, OmittedFieldsKeepExistingValues) {
  auto base = Post({{"name", "web"},
                    {"allowed_domains", "example.com"},
                    {"allow_subdomains", true},
                    {"allow_localhost", false},
                    {"key_type", "ec"},
                    {"key_bits", 384},
                    {"ttl", "1h"},
                    {"ou", "ops"},
                    {"policy_identifiers", "1.2.3"}});
  ASSERT_TRUE(base.ok());

  auto patched = Patch(*base, {{"name", "web"}, {"max_ttl", "2h"}});
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  EXPECT_EQ(patched->allowed_domains, std::vector<std::string>{"example.com"});
  EXPECT_TRUE(patched->allow_subdomains);
  EXPECT_FALSE(patched->allow_localhost);
  EXPECT_EQ(patched->key_type, "ec");
  EXPECT_EQ(patched->key_bits, 384);
  EXPECT_EQ(patched->ttl, 3600);
  EXPECT_EQ(patched->max_ttl, 7200);
  EXPECT_EQ(patched->ou, std::vector<std::string>{"ops"});
  EXPECT_EQ(patched->policy_identifiers, std::vector<std::string>{"1.2.3"});

  // Lists are replaced, not merged.
  patched = Patch(*base, {{"allowed_domains", "example.org"}});
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched->allowed_domains, std::vector<std::string>{"example.org"});
  EXPECT_EQ(patched->name, "web");

  // The merged role is validated as a whole: ttl against the stored max_ttl, key_bits stored resolved.
  auto capped = Patch(*patched, {{"max_ttl", "30m"}});
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().message(), "\"ttl\" value must be less than \"max_ttl\" value");
  auto rsa = Patch(*base, {{"key_type", "rsa"}});
  ASSERT_FALSE(rsa.ok());
  EXPECT_EQ(rsa.status().message(), "RSA keys < 2048 bits are unsafe and not supported: got 384");
}

TEST(RolePatchTest, GenerateLeaseCouplingUsesStoredValue) {
  auto base = Post({{"generate_lease", true}});
  ASSERT_TRUE(base.ok());
  std::vector<std::string> warnings;
  auto patched = Patch(*base, {{"ttl", "1h"}}, &warnings);
  ASSERT_TRUE(patched.ok());
  EXPECT_TRUE(patched->generate_lease);
  EXPECT_EQ(warnings, std::vector<std::string>{kLeaseWarning});

  warnings.clear();
  patched = Patch(*base, {{"no_store", true}}, &warnings);
  ASSERT_TRUE(patched.ok());
  EXPECT_FALSE(patched->generate_lease);
  EXPECT_EQ(warnings, std::vector<std::string>{kNoStoreLeaseWarning});
}

TEST(RolePatchTest, PostOverwritesWithDefaults) {
  auto base = Post({{"allow_any_name", true}, {"allowed_domains", "example.com"}, {"key_type", "ec"}});
  ASSERT_TRUE(base.ok());
  auto replaced = Post({{"allowed_domains", "example.org"}});
  ASSERT_TRUE(replaced.ok());
  EXPECT_FALSE(replaced->allow_any_name);
  EXPECT_EQ(replaced->key_type, "rsa");
  EXPECT_EQ(replaced->allowed_domains, std::vector<std::string>{"example.org"});
}

TEST(RoleStoreTest, RoundTripThroughStorage) {
  MemoryStorage storage;
  RoleStore store(&storage);
  auto role = Post({{"name", "web"},
                    {"allowed_domains", "example.com,example.org"},
                    {"allow_subdomains", true},
                    {"key_type", "ec"},
                    {"ttl", "1h"},
                    {"max_ttl", "24h"},
                    {"generate_lease", true},
                    {"no_store_metadata", true},
                    {"policy_identifiers", R"([{"oid":"1.2.3","cps":"https://x/<a>"}])"},
                    {"not_after", "2031-01-01T00:00:00Z"},
                    {"serial_number_source", "json"}});
  ASSERT_TRUE(role.ok()) << role.status().message();
  ASSERT_TRUE(store.Put("web", *role).ok());

  std::string raw;
  ASSERT_TRUE(storage.Get("roles/web", &raw).ok()) << "roles are stored under roles/";

  auto loaded = store.Get("web");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->name, "web");
  EXPECT_EQ(RoleToResponse(**loaded), RoleToResponse(*role));

  auto missing = store.Get("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(store.Delete("web").ok());
  EXPECT_FALSE(store.Get("web")->has_value());
  EXPECT_TRUE(store.Delete("web").ok());
}

TEST(RoleStoreTest, MemoisedParseFollowsStorageWrittenBehindItsBack) {
  MemoryStorage storage;
  RoleStore store(&storage);
  auto role = Post({{"allowed_domains", "example.com"}, {"key_type", "ec"}, {"max_ttl", "24h"}});
  ASSERT_TRUE(role.ok());
  ASSERT_TRUE(store.Put("web", *role).ok());
  ASSERT_EQ((*store.Get("web"))->max_ttl, 86400);
  ASSERT_EQ((*store.Get("web"))->max_ttl, 86400);  // the second read is served by the memo

  // Another writer (a second plugin instance over host storage, a restore) replaces the entry directly.
  RoleEntry changed = *role;
  changed.max_ttl = 3600;
  changed.allowed_domains = {"example.org"};
  ASSERT_TRUE(storage.Put("roles/web", SerializeRole(changed)).ok());
  auto seen = store.Get("web");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ((*seen)->max_ttl, 3600);
  EXPECT_EQ((*seen)->allowed_domains, std::vector<std::string>{"example.org"});
  EXPECT_EQ((*seen)->name, "web");

  ASSERT_TRUE(storage.Put("roles/web", "{not json").ok());
  EXPECT_FALSE(store.Get("web").ok()) << "a corrupt entry is an error, not the memoised role";
  ASSERT_TRUE(storage.Delete("roles/web").ok());
  EXPECT_FALSE(store.Get("web")->has_value());
}

TEST(RoleStoreTest, StoredFormIsTolerantAndStrict) {
  auto sparse = ParseStoredRole(R"({"allowed_domains":["a.com"],"key_type":"ec","key_bits":256})");
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->allowed_domains, std::vector<std::string>{"a.com"});
  EXPECT_TRUE(sparse->allow_localhost);  // missing fields take their defaults
  EXPECT_EQ(sparse->key_type, "ec");

  auto bad_json = ParseStoredRole("{not json");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.status().code(), StatusCode::kInternal);
  auto bad_type = ParseStoredRole(R"({"allow_localhost":"yes"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.status().code(), StatusCode::kInternal);
}

TEST(RoleStoreTest, ListPagesInNameOrder) {
  MemoryStorage storage;
  RoleStore store(&storage);
  RoleEntry role;
  for (const char* name : {"web", "api", "db", "mail"}) ASSERT_TRUE(store.Put(name, role).ok());
  EXPECT_EQ(*store.List("", 0), (std::vector<std::string>{"api", "db", "mail", "web"}));
  EXPECT_EQ(*store.List("", 2), (std::vector<std::string>{"api", "db"}));
  EXPECT_EQ(*store.List("db", 2), (std::vector<std::string>{"mail", "web"}));
  EXPECT_EQ(*store.List("c", 0), (std::vector<std::string>{"db", "mail", "web"}));
  EXPECT_TRUE(store.List("web", 0)->empty());
}

TEST(RoleStoreTest, RoleNamesFollowVaultRegex) {
  for (const char* ok : {"a", "web", "web-server", "a.b", "a_b", "_", "9", "A-1.b_2"}) {
    EXPECT_TRUE(IsValidRoleName(ok)) << ok;
  }
  for (const char* bad : {"", "-a", "a-", ".a", "a.", "a b", "a/b", "a@b", "é"}) {
    EXPECT_FALSE(IsValidRoleName(bad)) << bad;
  }
  MemoryStorage storage;
  RoleStore store(&storage);
  auto got = store.Get("-bad");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(store.Put("bad-", RoleEntry{}).code(), StatusCode::kBadRequest);
}

// The paths through the router, as the backend serves them.
class RolePathsTest : public ::testing::Test {
 protected:
  RolePathsTest() : cas_(Context()), router_(RolePaths(Context(), &cas_)) {}

  PkiContext Context() {
    PkiContext ctx;
    ctx.storage = &storage_;
    return ctx;
  }

  Result<Response> Do(Operation op, const std::string& path, Json data = Json::object()) {
    Request req;
    req.operation = op;
    req.path = path;
    req.data = std::move(data);
    return router_.Route(req);
  }

  MemoryStorage storage_;
  CaStore cas_;  // empty: no issuer, so every write warns that issuer_ref resolves to nothing
  Router router_;
};

constexpr char kNoDefaultIssuer[] =
    "Issuing Certificate was set to default, but no default issuing certificate (configurable at /config/issuers) "
    "is currently set";

TEST_F(RolePathsTest, WriteReadPatchListDelete) {
  auto written = Do(Operation::kUpdate, "roles/web",
                    {{"allowed_domains", "example.com"}, {"allow_subdomains", true}, {"generate_lease", true}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_FALSE(written->nil);
  EXPECT_EQ(written->data["allowed_domains"], Json::array({"example.com"}));
  EXPECT_EQ(written->data["key_bits"], 2048);
  EXPECT_EQ(written->warnings, (std::vector<std::string>{kLeaseWarning, kNoDefaultIssuer}));

  auto read = Do(Operation::kRead, "roles/web");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, written->data);

  auto patched = Do(Operation::kPatch, "roles/web", {{"allow_bare_domains", true}});
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  EXPECT_EQ(patched->data["allow_bare_domains"], true);
  EXPECT_EQ(patched->data["allow_subdomains"], true);
  EXPECT_EQ(patched->data["allowed_domains"], Json::array({"example.com"}));

  // POST overwrites: omitted fields return to their defaults.
  auto overwritten = Do(Operation::kUpdate, "roles/web", {{"allowed_domains", "example.org"}});
  ASSERT_TRUE(overwritten.ok());
  EXPECT_EQ(overwritten->data["allow_subdomains"], false);
  EXPECT_EQ(overwritten->warnings, std::vector<std::string>{kNoDefaultIssuer});
  auto named = Do(Operation::kUpdate, "roles/named", {{"issuer_ref", "ca-2027"}});
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->warnings,
            std::vector<std::string>{"Issuing Certificate was set to ca-2027 but no issuing certificate currently has "
                                     "that name"});
  ASSERT_TRUE(Do(Operation::kDelete, "roles/named").ok());

  ASSERT_TRUE(Do(Operation::kUpdate, "roles/api", Json::object()).ok());
  auto list = Do(Operation::kList, "roles/");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->data, (Json{{"keys", {"api", "web"}}}));
  auto page = Do(Operation::kList, "roles/", {{"after", "api"}, {"limit", 1}});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->data, (Json{{"keys", {"web"}}}));

  auto deleted = Do(Operation::kDelete, "roles/web");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->nil);
  auto gone = Do(Operation::kRead, "roles/web");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->nil);
}

TEST_F(RolePathsTest, AbsentAndInvalid) {
  auto list = Do(Operation::kList, "roles");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->nil);

  auto read = Do(Operation::kRead, "roles/none");
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->nil);

  auto patch = Do(Operation::kPatch, "roles/none", {{"ttl", "1h"}});
  ASSERT_FALSE(patch.ok());
  EXPECT_EQ(patch.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(patch.status().message(), "Unable to fetch role entry to patch");
  EXPECT_TRUE(Do(Operation::kRead, "roles/none")->nil) << "a failed patch must not create the role";

  auto bad_name = Do(Operation::kUpdate, "roles/-web", Json::object());
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), StatusCode::kBadRequest);

  auto invalid = Do(Operation::kUpdate, "roles/web", {{"key_type", "ec"}, {"key_bits", 2048}});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().message(), "unsupported bit length for EC key: 2048");
  EXPECT_TRUE(Do(Operation::kRead, "roles/web")->nil) << "a refused write must not store anything";

  auto unknown = Do(Operation::kUpdate, "roles/web", {{"bogus", 1}});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->warnings, (std::vector<std::string>{kNoDefaultIssuer,
                                                         "Endpoint ignored these unrecognized parameters: [bogus]"}));
}

}  // namespace
}  // namespace pki
