// Name policy: tables of names a role allows and refuses, from Vault's documented semantics (api-docs
// secret/pki "Create/Update role") and its issuance code (ValidateNames and friends).
#include "src/pki/name_policy.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "src/pki/role.h"

namespace pki {
namespace {

RoleEntry Role(const std::function<void(RoleEntry&)>& edit) {
  RoleEntry r;
  edit(r);
  return r;
}

struct NameCase {
  const char* what;
  RoleEntry role;
  std::string name;
  bool allowed;
};

void ExpectNames(const std::vector<NameCase>& cases) {
  for (const auto& c : cases) {
    auto bad = FirstDisallowedName(c.role, {c.name});
    EXPECT_EQ(!bad.has_value(), c.allowed) << c.what << ": " << c.name;
  }
}

const RoleEntry kBare = Role([](RoleEntry& r) {
  r.allowed_domains = {"example.com"};
  r.allow_bare_domains = true;
});
const RoleEntry kSub = Role([](RoleEntry& r) {
  r.allowed_domains = {"example.com"};
  r.allow_subdomains = true;
});
const RoleEntry kSubNoWildcard = Role([](RoleEntry& r) {
  r.allowed_domains = {"example.com"};
  r.allow_subdomains = true;
  r.allow_wildcard_certificates = false;
});
const RoleEntry kGlob = Role([](RoleEntry& r) {
  r.allowed_domains = {"*.example.com", "ftp*.example.net"};
  r.allow_glob_domains = true;
});
const RoleEntry kAny = Role([](RoleEntry& r) { r.allow_any_name = true; });
const RoleEntry kAnyLoose = Role([](RoleEntry& r) {
  r.allow_any_name = true;
  r.enforce_hostnames = false;
});

TEST(NamePolicyTest, BareDomains) {
  ExpectNames({
      {"exact", kBare, "example.com", true},
      {"case-insensitive", kBare, "EXAMPLE.com", true},
      {"subdomain needs allow_subdomains", kBare, "foo.example.com", false},
      {"wildcard needs allow_subdomains", kBare, "*.example.com", false},
      {"other domain", kBare, "example.org", false},
      {"bare off", Role([](RoleEntry& r) { r.allowed_domains = {"example.com"}; }), "example.com", false},
  });
}

TEST(NamePolicyTest, Subdomains) {
  ExpectNames({
      {"one level", kSub, "foo.example.com", true},
      {"any depth", kSub, "a.b.c.example.com", true},
      {"bare needs allow_bare_domains", kSub, "example.com", false},
      {"wildcard subdomain", kSub, "*.example.com", true},
      {"deeper wildcard", kSub, "*.foo.example.com", true},
      {"partial-label wildcard", kSub, "f*o.example.com", true},
      {"suffix is not a label boundary", kSub, "fooexample.com", false},
      {"domain in the middle", kSub, "foo.example.com.evil.org", false},
      {"wildcards forbidden", kSubNoWildcard, "*.example.com", false},
      {"forbidden wildcards do not affect plain names", kSubNoWildcard, "foo.example.com", true},
  });
}

TEST(NamePolicyTest, GlobDomains) {
  ExpectNames({
      {"glob one label", kGlob, "foo.example.com", true},
      {"glob spans labels", kGlob, "baz.bar.foo.example.com", true},
      {"glob needs a prefix", kGlob, "example.com", false},
      {"glob is case-insensitive", kGlob, "FOO.Example.COM", true},
      {"glob matches wildcards", kGlob, "*.foo.example.com", true},
      {"prefix glob", kGlob, "ftp1.example.net", true},
      {"prefix glob mismatch", kGlob, "www.example.net", false},
      {"globs off", Role([](RoleEntry& r) { r.allowed_domains = {"*.example.com"}; }), "foo.example.com", false},
      {"wildcards forbidden under glob", Role([](RoleEntry& r) {
         r.allowed_domains = {"*.*.example.com"};
         r.allow_glob_domains = true;
         r.allow_wildcard_certificates = false;
       }),
       "*.foo.example.com", false},
  });
  // The documented example: the three options are independent; "bar" is not a subdomain of a glob match.
  RoleEntry both = Role([](RoleEntry& r) {
    r.allowed_domains = {"foo.*.example.com"};
    r.allow_subdomains = true;
    r.allow_glob_domains = true;
  });
  ExpectNames({
      {"glob match", both, "foo.baz.example.com", true},
      {"subdomain of a glob match", both, "bar.foo.baz.example.com", false},
  });
}

TEST(NamePolicyTest, WildcardForms) {
  ExpectNames({
      {"whole label", kAny, "*.example.com", true},
      {"suffixed", kAny, "foo*.example.com", true},
      {"prefixed", kAny, "*foo.example.com", true},
      {"interior", kAny, "f*o.example.com", true},
      {"two wildcards", kAny, "*.*.example.com", false},
      {"two in one label", kAny, "f*o*.example.com", false},
      {"not left-most", kAny, "foo.*.example.com", false},
      {"not left-most without hostname checks", kAnyLoose, "foo.*.example.com", false},
      {"bad wildcard label", kAny, "-*.example.com", false},
      {"forbidden even with allow_any_name", Role([](RoleEntry& r) {
         r.allow_any_name = true;
         r.allow_wildcard_certificates = false;
       }),
       "*.example.com", false},
      {"wildcard email", kAny, "user@*.example.com", false},
  });
}

TEST(NamePolicyTest, Localhost) {
  RoleEntry defaults;
  RoleEntry sub = Role([](RoleEntry& r) { r.allow_subdomains = true; });
  RoleEntry off = Role([](RoleEntry& r) { r.allow_localhost = false; });
  ExpectNames({
      {"localhost", defaults, "localhost", true},
      {"localdomain", defaults, "localdomain", true},
      {"email at localhost", defaults, "root@localhost", true},
      {"subdomain needs allow_subdomains", defaults, "foo.localhost", false},
      {"subdomain of localhost", sub, "foo.localhost", true},
      {"wildcard of localdomain", sub, "*.localdomain", true},
      {"other names", defaults, "example.com", false},
      {"allow_localhost off", off, "localhost", false},
      {"allowed_domains can still permit it", Role([](RoleEntry& r) {
         r.allow_localhost = false;
         r.allowed_domains = {"localhost"};
         r.allow_bare_domains = true;
       }),
       "localhost", true},
  });
}

TEST(NamePolicyTest, AnyNameAndEnforceHostnames) {
  ExpectNames({
      {"any hostname", kAny, "anything.example.org", true},
      {"single label", kAny, "intranet", true},
      {"not a hostname", kAny, "not a hostname", false},
      {"not a hostname, checks off", kAnyLoose, "not a hostname", true},
      {"underscore", kAny, "under_score.example.com", false},
      {"underscore, checks off", kAnyLoose, "under_score.example.com", true},
      {"leading hyphen", kAny, "-bad.example.com", false},
      {"trailing hyphen", kAny, "bad-.example.com", false},
      {"empty label", kAny, "a..example.com", false},
      {"63-byte label", kAny, std::string(63, 'a') + ".example.com", true},
      {"64-byte label", kAny, std::string(64, 'a') + ".example.com", false},
      {"internationalized", kAny,
       "b\xc3\xbc"
       "cher.example.com",
       true},
      {"valid punycode", kAny, "xn--bcher-kva.example.com", true},
      {"invalid punycode", kAny, "xn---abc.example.com", false},
      {"enforced under allowed_domains too", kSub, "foo_bar.example.com", false},
  });
}

TEST(NamePolicyTest, Emails) {
  RoleEntry sub_bare = Role([](RoleEntry& r) {
    r.allowed_domains = {"example.com"};
    r.allow_subdomains = true;
    r.allow_bare_domains = true;
  });
  ExpectNames({
      {"host is the bare domain", kBare, "user@example.com", true},
      {"host is another domain", kBare, "user@example.org", false},
      {"host is a subdomain", kSub, "user@mail.example.com", true},
      {"host must be a subdomain under allow_subdomains", kSub, "user@example.com", false},
      {"two @", sub_bare, "a@b@example.com", false},
      {"host checked as a hostname", sub_bare, "user@bad_host.example.com", false},
  });
}

TEST(NamePolicyTest, CommonNameAndCnValidations) {
  RoleEntry email_only = Role([](RoleEntry& r) {
    r.allowed_domains = {"example.com"};
    r.allow_bare_domains = true;
    r.cn_validations = {"email"};
  });
  RoleEntry hostname_only = Role([](RoleEntry& r) {
    r.allowed_domains = {"example.com"};
    r.allow_bare_domains = true;
    r.cn_validations = {"hostname"};
  });
  RoleEntry disabled = Role([](RoleEntry& r) { r.cn_validations = {"disabled"}; });

  EXPECT_TRUE(ValidateCommonName(kBare, "example.com").ok());
  EXPECT_TRUE(ValidateCommonName(kBare, "user@example.com").ok());
  EXPECT_TRUE(ValidateCommonName(email_only, "user@example.com").ok());
  EXPECT_TRUE(ValidateCommonName(hostname_only, "example.com").ok());
  EXPECT_TRUE(ValidateCommonName(disabled, "Not A Hostname!").ok());
  EXPECT_TRUE(ValidateCommonName(kBare, "").ok());

  Status st = ValidateCommonName(email_only, "example.com");
  EXPECT_EQ(st.code(), StatusCode::kBadRequest);
  EXPECT_EQ(st.message(), "common name example.com not allowed by this role");
  EXPECT_EQ(ValidateCommonName(hostname_only, "user@example.com").message(),
            "common name user@example.com not allowed by this role");
  EXPECT_EQ(ValidateCommonName(kBare, "www.example.org").message(),
            "common name www.example.org not allowed by this role");
}

TEST(NamePolicyTest, DnsAndEmailSansReportFirstFailure) {
  Status st = ValidateDnsAndEmailSans(kSub, {"a.example.com", "bad.org", "worse.org"}, {});
  EXPECT_EQ(st.code(), StatusCode::kBadRequest);
  EXPECT_EQ(st.message(), "subject alternate name bad.org not allowed by this role");
  st = ValidateDnsAndEmailSans(kSub, {"a.example.com"}, {"x@mail.example.com", "y@bad.org"});
  EXPECT_EQ(st.message(), "email address y@bad.org not allowed by this role");
  EXPECT_TRUE(ValidateDnsAndEmailSans(kSub, {"a.example.com", "*.b.example.com"}, {"x@c.example.com"}).ok());
}

TEST(NamePolicyTest, AssemblesSansLikeVault) {
  DnsAndEmailNames names;
  ASSERT_TRUE(AddCommonNameToSans("b\xc3\xbc"
                                  "cher.example.com",
                                  &names)
                  .ok());
  ASSERT_TRUE(AddCommonNameToSans("Not A Hostname", &names).ok());  // kept as CN only
  ASSERT_TRUE(AddCommonNameToSans("ops@example.com", &names).ok());
  ASSERT_TRUE(
      AddAltNamesToSans(" b.example.com,a.example.com, ,b.example.com,me@example.com,*.c.example.com", &names).ok());
  EXPECT_EQ(names.dns_names, (std::vector<std::string>{"xn--bcher-kva.example.com", "*.c.example.com", "a.example.com",
                                                       "b.example.com"}));
  EXPECT_EQ(names.emails, (std::vector<std::string>{"ops@example.com", "me@example.com"}));

  EXPECT_EQ(AddAltNamesToSans("ok.example.com,bad name", &names).message(),
            "subject alternate name bad name is not a valid DNS name and cannot be included as a SAN");
  EXPECT_EQ(AddAltNamesToSans("a..b", &names).message(), "idna: invalid label \"a..b\"");
  EXPECT_EQ(AddCommonNameToSans("a..b", &names).code(), StatusCode::kBadRequest);

  // The policy then sees the converted names.
  EXPECT_TRUE(ValidateDnsAndEmailSans(kSub, {"xn--bcher-kva.example.com"}, {}).ok());
}

TEST(NamePolicyTest, HostnameConversionAndGrammar) {
  EXPECT_EQ(*HostnameToAscii("b\xc3\xbc"
                             "cher.example.com"),
            "xn--bcher-kva.example.com");
  EXPECT_EQ(*HostnameToAscii("m\xc3\xbc"
                             "nchen.de"),
            "xn--mnchen-3ya.de");
  EXPECT_EQ(*HostnameToAscii("example.com."), "example.com.");
  EXPECT_EQ(*HostnameToAscii("Example.COM"), "Example.COM");
  EXPECT_FALSE(HostnameToAscii("").ok());
  EXPECT_FALSE(HostnameToAscii(".example.com").ok());
  EXPECT_FALSE(HostnameToAscii("a..b").ok());
  EXPECT_EQ(HostnameToAscii("xn---abc.com").status().message(), "idna: invalid label \"xn---abc\"");
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
  EXPECT_FALSE(HostnameToAscii(long_name + "com").ok());  // 256 bytes

  EXPECT_TRUE(IsValidHostname("example.com"));
  EXPECT_TRUE(IsValidHostname("a"));
  EXPECT_TRUE(IsValidHostname("a."));
  EXPECT_TRUE(IsValidHostname("*.example.com"));
  EXPECT_TRUE(IsValidHostname("x*y.example.com"));
  EXPECT_FALSE(IsValidHostname("*"));
  EXPECT_FALSE(IsValidHostname("a.."));
  EXPECT_FALSE(IsValidHostname(".a"));
  EXPECT_FALSE(IsValidHostname("a-.com"));
  EXPECT_FALSE(IsValidHostname("*.*.com"));
  EXPECT_FALSE(IsValidHostname("a.*.com"));
}

TEST(NamePolicyTest, UriSans) {
  RoleEntry none;
  RoleEntry spiffe = Role([](RoleEntry& r) { r.allowed_uri_sans = {"spiffe://example.org/*", "urn:x"}; });
  EXPECT_TRUE(ValidateUriSans(none, {}, SanSource::kApi).ok());
  EXPECT_EQ(ValidateUriSans(none, {"spiffe://example.org/a"}, SanSource::kApi).message(),
            "URI Subject Alternative Names are not allowed in this role, but were provided via the API");
  EXPECT_EQ(ValidateUriSans(none, {"spiffe://example.org/a"}, SanSource::kCsr).message(),
            "URI Subject Alternative Names are not allowed in this role, but were provided via CSR");
  EXPECT_TRUE(ValidateUriSans(spiffe, {"spiffe://example.org/ns/web", "urn:x"}, SanSource::kApi).ok());
  EXPECT_EQ(ValidateUriSans(spiffe, {"spiffe://example.org/a", "spiffe://other.org/a"}, SanSource::kApi).message(),
            "URI Subject Alternative Names were provided via the API which are not valid for this role");
  EXPECT_EQ(ValidateUriSans(spiffe, {"urn:y"}, SanSource::kCsr).message(),
            "URI Subject Alternative Names were provided via CSR which are not valid for this role");
  EXPECT_EQ(ValidateUriSans(spiffe, {"spiffe://example.org/%zz"}, SanSource::kApi).message(),
            "the provided URI Subject Alternative Name \"spiffe://example.org/%zz\" is not a valid URI");
  RoleEntry any = Role([](RoleEntry& r) { r.allowed_uri_sans = {"*"}; });
  EXPECT_FALSE(ValidateUriSans(any, {"://missing-scheme"}, SanSource::kApi).ok());
  EXPECT_FALSE(ValidateUriSans(any, {"https://host:port/"}, SanSource::kApi).ok());
  EXPECT_TRUE(ValidateUriSans(any, {"https://user@host:8443/p?q=%zz#f"}, SanSource::kApi).ok());
}

TEST(NamePolicyTest, OtherSans) {
  auto parsed = ParseOtherSans({"1.3.6.1.4.1.311.20.2.3;UTF8:devops@example.com", "1.2.3;utf-8:a;b:c"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].oid, "1.3.6.1.4.1.311.20.2.3");
  EXPECT_EQ((*parsed)[0].value, "devops@example.com");
  EXPECT_EQ((*parsed)[1].oid, "1.2.3");
  EXPECT_EQ((*parsed)[1].value, "a;b:c");

  EXPECT_EQ(ParseOtherSans({"foo"}).status().message(),
            "could not parse requested other SAN: expected a semicolon in other SAN \"foo\"");
  EXPECT_EQ(ParseOtherSans({"1.2.3;UTF8"}).status().message(),
            "could not parse requested other SAN: expected a colon in other SAN \"1.2.3;UTF8\"");
  EXPECT_EQ(ParseOtherSans({"1.2.3;IA5:x"}).status().message(),
            "could not parse requested other SAN: only utf8 other SANs are supported; found non-supported type in "
            "other SAN \"1.2.3;IA5:x\"");
  EXPECT_FALSE(ParseOtherSans({"upn;UTF8:x"}).ok());

  std::vector<OtherSan> upn = {{"1.3.6.1.4.1.311.20.2.3", "devops@example.com"}};
  RoleEntry none;
  RoleEntry star = Role([](RoleEntry& r) { r.allowed_other_sans = {"*"}; });
  RoleEntry any_value = Role([](RoleEntry& r) { r.allowed_other_sans = {"1.3.6.1.4.1.311.20.2.3;UTF8:*"}; });
  RoleEntry glob = Role([](RoleEntry& r) { r.allowed_other_sans = {"1.3.6.1.4.1.311.20.2.3;utf-8:*@corp.example"}; });

  EXPECT_TRUE(ValidateOtherSans(star, upn).ok());
  EXPECT_TRUE(ValidateOtherSans(star, {{"1.2.3", "anything"}}).ok());
  EXPECT_TRUE(ValidateOtherSans(any_value, upn).ok());
  EXPECT_EQ(ValidateOtherSans(none, upn).message(), "other SAN OID 1.3.6.1.4.1.311.20.2.3 not allowed by this role");
  EXPECT_EQ(ValidateOtherSans(any_value, {{"1.2.3", "x"}}).message(), "other SAN OID 1.2.3 not allowed by this role");
  EXPECT_EQ(ValidateOtherSans(glob, upn).message(),
            "other SAN devops@example.com not allowed for OID 1.3.6.1.4.1.311.20.2.3 by this role");
  EXPECT_TRUE(ValidateOtherSans(glob, {{"1.3.6.1.4.1.311.20.2.3", "me@corp.example"}}).ok());
  EXPECT_TRUE(ValidateOtherSans(none, {}).ok());
}

TEST(NamePolicyTest, SubjectSerialNumbers) {
  RoleEntry none;
  RoleEntry some = Role([](RoleEntry& r) { r.allowed_serial_numbers = {"abc-*", "exact"}; });
  EXPECT_EQ(ValidateSubjectSerialNumber(none, "123").message(), "serial_number 123 not allowed by this role");
  EXPECT_TRUE(ValidateSubjectSerialNumber(some, "abc-123").ok());
  EXPECT_TRUE(ValidateSubjectSerialNumber(some, "exact").ok());
  EXPECT_EQ(ValidateSubjectSerialNumber(some, "exactly").message(), "serial_number exactly not allowed by this role");
  EXPECT_FALSE(ValidateSubjectSerialNumber(some, "ABC-123").ok()) << "globs are case-sensitive";
}

TEST(NamePolicyTest, UserIds) {
  RoleEntry none;
  RoleEntry some = Role([](RoleEntry& r) { r.allowed_user_ids = {"Alice", "svc-*"}; });
  RoleEntry star = Role([](RoleEntry& r) { r.allowed_user_ids = {"*"}; });
  EXPECT_TRUE(ValidateUserIds(none, {}).ok());
  EXPECT_EQ(ValidateUserIds(none, {"alice"}).message(), "user_id alice is not allowed by this role");
  EXPECT_TRUE(ValidateUserIds(some, {"alice", "svc-web"}).ok());
  EXPECT_EQ(ValidateUserIds(some, {"svc-web", "bob"}).message(), "user_id bob is not allowed by this role");
  EXPECT_TRUE(ValidateUserIds(star, {"anyone"}).ok());
}

TEST(NamePolicyTest, IpSans) {
  RoleEntry defaults;
  auto ips = ParseIpSans(defaults, {"10.0.0.1", "::1", "::ffff:10.0.0.2", "2001:DB8::1"}, SanSource::kApi);
  ASSERT_TRUE(ips.ok()) << ips.status().message();
  EXPECT_EQ(*ips, (std::vector<std::string>{"10.0.0.1", "::1", "10.0.0.2", "2001:db8::1"}));
  EXPECT_EQ(ParseIpSans(defaults, {"10.0.0.256"}, SanSource::kApi).status().message(),
            "the value \"10.0.0.256\" is not a valid IP address");
  EXPECT_FALSE(ParseIpSans(defaults, {"example.com"}, SanSource::kApi).ok());
  EXPECT_FALSE(ParseIpSans(defaults, {"01.2.3.4"}, SanSource::kApi).ok());
  EXPECT_FALSE(ParseIpSans(defaults, {"fe80::1%eth0"}, SanSource::kApi).ok());

  RoleEntry off = Role([](RoleEntry& r) { r.allow_ip_sans = false; });
  EXPECT_EQ(ParseIpSans(off, {"10.0.0.1", "10.0.0.2"}, SanSource::kApi).status().message(),
            "IP Subject Alternative Names are not allowed in this role, but was provided [10.0.0.1 10.0.0.2]");
  EXPECT_EQ(ParseIpSans(off, {"10.0.0.1"}, SanSource::kCsr).status().message(),
            "IP Subject Alternative Names are not allowed in this role, but was provided some via CSR");
  EXPECT_TRUE(ParseIpSans(off, {}, SanSource::kApi).ok());
}

TEST(NamePolicyTest, GlobSemantics) {
  struct Case {
    const char* pattern;
    const char* subject;
    bool match;
  };
  const Case cases[] = {
      {"", "", true},           {"", "a", false},      {"*", "", true},
      {"*", "a.b.c", true},     {"a*", "abc", true},   {"*c", "abc", true},
      {"a*c", "abc", true},     {"a*c", "abd", false}, {"*.example.com", "example.com", false},
      {"a*b*c", "a-b-c", true}, {"abc", "abc", true},  {"abc", "abcd", false},
      {"a*", "ba", false},      {"*b*", "abc", true},  {"a?c", "abc", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.subject), c.match) << c.pattern << " vs " << c.subject;
  }
}

}  // namespace
}  // namespace pki
