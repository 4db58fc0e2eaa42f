// LIST certs/detailed: OpenBao's keys + key_info answer with our additions, exact after/limit paging shared with
// LIST certs, O(page) storage reads, and records that cannot be read listed with an error instead of a 500.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "src/crypto/x509.h"
#include "src/pki/cert_listing.h"
#include "src/pki/cert_store.h"
#include "src/pki/revocation.h"
#include "tests/unit/counting_storage.h"
#include "tests/unit/engine_harness.h"

namespace pki::testing {
namespace {

std::string Cbor(const Json& j) {
  std::vector<uint8_t> bytes = Json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

class CertListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = h.Write("root/generate/internal", {{"common_name", "Listing Root"}, {"ttl", "8760h"},
                                                   {"key_type", "ec"}, {"key_bits", 384}});
    ASSERT_TRUE(root.ok()) << root.status().message();
    root_serial = root->data["serial_number"];
    issuer_id = root->data["issuer_id"];
    root_expiration = root->data["expiration"];
    ASSERT_TRUE(h.Write("roles/web", {{"allow_any_name", true},
                                      {"key_type", "ec"},
                                      {"allowed_uri_sans", "spiffe://*"},
                                      {"max_ttl", "720h"}})
                    .ok());
    // The counted requests go to a second engine over the same storage, so that set-up reads are not counted.
    PkiContext ctx{&counted, &h.clock, &h.system, h.sealer.get()};
    backend = NewPkiBackend(ctx);
    // Its first request checks the counters once (src/pki/tidy.h); done here so tests count only their own reads.
    Request warm_up;
    warm_up.operation = Operation::kRead;
    warm_up.path = "config/urls";
    ASSERT_TRUE(backend->HandleRequest(warm_up).ok());
  }

  Json Issue(const std::string& cn, Json extra = Json::object()) {
    extra["common_name"] = cn;
    extra["ttl"] = "1h";
    auto r = h.Write("issue/web", extra);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->data : Json::object();
  }

  Result<Response> List(const std::string& path, Json data = Json::object()) {
    Request req;
    req.operation = Operation::kList;
    req.path = path;
    req.data = std::move(data);
    req.mount_point = "pki/";
    return backend->HandleRequest(req);
  }

  // Every key of `path`, read page by page with `limit`, following each page's last key.
  std::vector<std::string> ReadAllPages(const std::string& path, int limit, size_t* pages) {
    std::vector<std::string> all;
    std::string after;
    *pages = 0;
    for (;;) {
      Json data = {{"limit", limit}};
      if (!after.empty()) data["after"] = after;
      auto r = List(path, data);
      EXPECT_TRUE(r.ok()) << r.status().message();
      if (!r.ok() || r->nil) break;
      const Json& keys = r->data["keys"];
      EXPECT_LE(keys.size(), static_cast<size_t>(limit));
      EXPECT_FALSE(keys.empty());
      if (path == "certs/detailed/") {
        EXPECT_EQ(r->data["key_info"].size(), keys.size());
      }
      for (const auto& k : keys) {
        if (path == "certs/detailed/") {
          EXPECT_TRUE(r->data["key_info"].contains(k.get<std::string>())) << k;
        }
        all.push_back(k);
      }
      after = keys.back();
      ++*pages;
    }
    return all;
  }

  EngineHarness h;
  CountingStorage counted{&h.storage};
  std::unique_ptr<LogicalBackend> backend;
  std::string root_serial;
  std::string issuer_id;
  int64_t root_expiration = 0;
};

TEST_F(CertListingTest, EntryCarriesOpenBaosFieldsAndOurs) {
  Json leaf = Issue("a.example.com", {{"alt_names", "b.example.com,ops@example.com"},
                                      {"ip_sans", "10.0.0.1,2001:db8:0:0:0:0:0:1"},
                                      {"uri_sans", "spiffe://example/a"}});
  const std::string serial = leaf["serial_number"];
  auto r = List("certs/detailed/");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->warnings.empty());
  ASSERT_TRUE(r->data["key_info"].contains(serial));
  const Json& e = r->data["key_info"][serial];
  const int64_t now = EngineHarness::kStart;
  EXPECT_EQ(e["common_name"], "a.example.com");
  EXPECT_EQ(e["issuer"], "CN=Listing Root");
  EXPECT_EQ(e["key_type"], "ec");
  EXPECT_EQ(e["key_bits"], 256);
  EXPECT_EQ(e["not_before"], FormatRfc3339(now - 30));
  EXPECT_EQ(e["not_after"], FormatRfc3339(now + 3600));
  EXPECT_EQ(e["expiration"], now + 3600);
  EXPECT_EQ(e["expiration"], leaf["expiration"]);
  EXPECT_EQ(e["dns_names"], Json::array({"a.example.com", "b.example.com"}));
  EXPECT_EQ(e["email_addresses"], Json::array({"ops@example.com"}));
  EXPECT_EQ(e["ip_addresses"], Json::array({"10.0.0.1", "2001:db8::1"}));
  EXPECT_EQ(e["uris"], Json::array({"spiffe://example/a"}));
  EXPECT_EQ(e["issuer_id"], issuer_id);
  EXPECT_EQ(e["role"], "web");
  EXPECT_EQ(e["revoked"], false);
  EXPECT_EQ(e["revocation_time"], 0);
  EXPECT_EQ(e["revocation_time_rfc3339"], "");
  EXPECT_FALSE(e.contains("error"));
}

TEST_F(CertListingTest, RootGeneratedHereIsListedWithAnEmptyRole) {
  auto r = List("certs/detailed");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->data["keys"], Json::array({root_serial}));
  const Json& e = r->data["key_info"][root_serial];
  EXPECT_EQ(e["role"], "");
  EXPECT_EQ(e["issuer_id"], issuer_id);
  EXPECT_EQ(e["common_name"], "Listing Root");
  EXPECT_EQ(e["issuer"], "CN=Listing Root");
  EXPECT_EQ(e["key_type"], "ec");
  EXPECT_EQ(e["key_bits"], 384);
  EXPECT_TRUE(e["dns_names"].is_array());
  EXPECT_EQ(e["expiration"], root_expiration);  // the mount's max TTL capped the 8760h asked for
  EXPECT_EQ(e["not_after"], FormatRfc3339(root_expiration));
}

TEST_F(CertListingTest, NameListsAreCutToFiveAsOpenBaoDoes) {
  Json leaf = Issue("n0.example.com", {{"alt_names", "n1.example.com,n2.example.com,n3.example.com,n4.example.com,"
                                                     "n5.example.com,n6.example.com"},
                                       {"ip_sans", "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6"}});
  auto r = List("certs/detailed");
  ASSERT_TRUE(r.ok());
  const Json& e = r->data["key_info"][leaf["serial_number"].get<std::string>()];
  EXPECT_EQ(e["dns_names"], Json::array({"n0.example.com", "n1.example.com", "n2.example.com", "n3.example.com",
                                         "n4.example.com"}));
  EXPECT_EQ(e["ip_addresses"].size(), kMaxNamesPerKind);
}

TEST_F(CertListingTest, RevokedStateAndTime) {
  Json kept = Issue("kept.example.com");
  Json gone = Issue("gone.example.com");
  h.clock.Advance(42);
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", gone["serial_number"]}}).ok());
  auto r = List("certs/detailed");
  ASSERT_TRUE(r.ok());
  const Json& info = r->data["key_info"];
  const Json& g = info[gone["serial_number"].get<std::string>()];
  EXPECT_EQ(g["revoked"], true);
  EXPECT_EQ(g["revocation_time"], EngineHarness::kStart + 42);
  EXPECT_EQ(g["revocation_time_rfc3339"], FormatRfc3339(EngineHarness::kStart + 42));
  const Json& k = info[kept["serial_number"].get<std::string>()];
  EXPECT_EQ(k["revoked"], false);
  EXPECT_EQ(k["revocation_time"], 0);
}

TEST_F(CertListingTest, PagesVisitEveryCertificateOnceInBothListings) {
  std::set<std::string> issued = {root_serial};
  for (int i = 0; i < 24; ++i) issued.insert(Issue("p" + std::to_string(i) + ".example.com")["serial_number"]);
  auto whole = List("certs/");
  ASSERT_TRUE(whole.ok());
  std::vector<std::string> all = whole->data["keys"];
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), issued);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(), [](const std::string& a, const std::string& b) {
    return HyphenSerial(ParseSerial(a).value()) < HyphenSerial(ParseSerial(b).value());
  }));
  auto detailed_whole = List("certs/detailed/");
  ASSERT_TRUE(detailed_whole.ok());
  EXPECT_EQ(detailed_whole->data["keys"], whole->data["keys"]);

  for (int limit : {1, 4, 7, 24, 25, 26, 1000}) {
    for (const char* path : {"certs/", "certs/detailed/"}) {
      size_t pages = 0;
      EXPECT_EQ(ReadAllPages(path, limit, &pages), all) << path << " limit " << limit;
      EXPECT_EQ(pages, (all.size() + limit - 1) / limit) << path << " limit " << limit;
    }
  }
}

TEST_F(CertListingTest, AfterIsExclusiveNeedNotExistAndAcceptsDashes) {
  for (int i = 0; i < 5; ++i) Issue("x" + std::to_string(i) + ".example.com");
  std::vector<std::string> all = List("certs/")->data["keys"];
  ASSERT_EQ(all.size(), 6u);
  for (const char* path : {"certs/", "certs/detailed/"}) {
    auto page = List(path, {{"after", all[2]}, {"limit", 2}});
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->data["keys"], Json::array({all[3], all[4]})) << path;
    std::string dashed = all[2];
    for (auto& c : dashed) c = c == ':' ? '-' : c;
    std::string upper = dashed;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(List(path, {{"after", upper}, {"limit", 2}})->data["keys"], page->data["keys"]) << path;
    // A serial that no certificate has: the page starts at the next one in storage order.
    auto between = List(path, {{"after", all[2] + ":00"}, {"limit", 1}});
    ASSERT_TRUE(between.ok());
    EXPECT_EQ(between->data["keys"], Json::array({all[3]})) << path;
    // Past the last: nothing to list, answered as Vault answers an empty LIST (404).
    auto end = List(path, {{"after", all.back()}});
    ASSERT_TRUE(end.ok());
    EXPECT_TRUE(end->nil) << path;
    // limit 0 is "all", as OpenBao.
    EXPECT_EQ(List(path, {{"limit", 0}})->data["keys"].size(), all.size()) << path;
  }
}

TEST_F(CertListingTest, BadPagingParametersAre400AndChangeNothing) {
  Issue("a.example.com");
  const size_t keys_before = h.storage.size();
  counted.Reset();
  for (const char* path : {"certs/", "certs/detailed/", "certs/revoked/"}) {
    auto bad_after = List(path, {{"after", "zz:top"}});
    EXPECT_EQ(bad_after.status().code(), StatusCode::kBadRequest) << path;
    EXPECT_EQ(bad_after.status().message(),
              "invalid \"after\": \"zz:top\" is not a serial number (colon- or hyphen-separated hex)")
        << path;
    auto negative = List(path, {{"limit", -1}});
    EXPECT_EQ(negative.status().code(), StatusCode::kBadRequest) << path;
    EXPECT_EQ(negative.status().message(), "limit must be non-negative") << path;
    auto not_a_number = List(path, {{"limit", "ten"}});
    EXPECT_EQ(not_a_number.status().code(), StatusCode::kBadRequest) << path;
  }
  EXPECT_EQ(counted.counts().writes, 0u);
  EXPECT_EQ(counted.counts().keys_touched(), 0u);  // refused before any read
  EXPECT_EQ(h.storage.size(), keys_before);
}

TEST_F(CertListingTest, APageReadsOneWalkPlusOneRevocationLookupPerEntry) {
  for (int i = 0; i < 30; ++i) Issue("w" + std::to_string(i) + ".example.com");
  std::vector<std::string> all = List("certs/")->data["keys"];
  ASSERT_EQ(all.size(), 31u);
  counted.Reset();
  auto page = List("certs/detailed/", {{"after", all[10]}, {"limit", 7}});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->data["keys"].size(), 7u);
  CountingStorage::Counts c = counted.counts();
  EXPECT_EQ(c.scans, 1u);
  EXPECT_EQ(c.keys_scanned, 7u);
  EXPECT_EQ(c.gets, 7u);  // revoked/<serial>, one each
  EXPECT_EQ(c.lists, 0u);
  EXPECT_EQ(c.writes, 0u);

  counted.Reset();
  ASSERT_EQ(List("certs/", {{"after", all[10]}, {"limit", 7}})->data["keys"].size(), 7u);
  EXPECT_EQ(counted.counts().keys_touched(), 7u);
}

TEST_F(CertListingTest, UnreadableRecordsAreListedWithAnErrorNotA500) {
  Json good = Issue("good.example.com");
  Json revoked = Issue("revoked.example.com");
  ASSERT_TRUE(h.Write("revoke", {{"serial_number", revoked["serial_number"]}}).ok());
  const std::string good_der = CertStore(&h.storage).Get(ParseSerial(good["serial_number"]).value()).value()->der;

  // Not CBOR at all.
  ASSERT_TRUE(h.storage.Put("certs/01-01", "\xff\xfe garbage").ok());
  // CBOR, but the DER is not a certificate.
  ASSERT_TRUE(h.storage.Put("certs/01-02", Cbor({{"d", Json::binary({0x30, 0x03, 0x02, 0x01, 0x01})},
                                                {"i", issuer_id}, {"r", "web"}, {"e", 1234}}))
                  .ok());
  // Written by a writer that knew neither issuer nor role nor expiry: not an error.
  ASSERT_TRUE(
      h.storage.Put("certs/01-03", Cbor({{"d", Json::binary(std::vector<uint8_t>(good_der.begin(), good_der.end()))}}))
          .ok());
  // A role of the wrong type: corrupt (CertStore::Get used to throw here).
  ASSERT_TRUE(h.storage.Put("certs/01-04", Cbor({{"d", Json::binary({0x30})}, {"r", 5}})).ok());
  // A revocation record that cannot be read, for an otherwise good certificate.
  std::string good_hyphen = good["serial_number"];
  for (auto& c : good_hyphen) c = c == ':' ? '-' : c;
  ASSERT_TRUE(h.storage.Put("revoked/" + good_hyphen, "not cbor").ok());

  auto r = List("certs/detailed");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Json& info = r->data["key_info"];
  EXPECT_EQ(r->data["keys"].size(), 3u + 4u);  // root, good, revoked and the four written by hand
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "4 stored certificate record(s) in this page could not be fully read; their key_info entries carry "
            "\"error\"");

  EXPECT_EQ(info["01:01"]["error"], "corrupt certificate record for 01:01");
  EXPECT_EQ(info["01:01"]["revoked"], false);
  EXPECT_FALSE(info["01:01"].contains("common_name"));

  EXPECT_EQ(info["01:02"]["error"], "unable to parse the stored certificate for 01:02");
  EXPECT_EQ(info["01:02"]["role"], "web");
  EXPECT_EQ(info["01:02"]["issuer_id"], issuer_id);
  EXPECT_EQ(info["01:02"]["expiration"], 1234);
  EXPECT_EQ(info["01:02"]["not_after"], FormatRfc3339(1234));

  EXPECT_FALSE(info["01:03"].contains("error"));
  EXPECT_EQ(info["01:03"]["role"], "");
  EXPECT_EQ(info["01:03"]["issuer_id"], "");
  EXPECT_EQ(info["01:03"]["common_name"], "good.example.com");
  EXPECT_EQ(info["01:03"]["expiration"], good["expiration"]);  // from the DER, the record had none

  EXPECT_EQ(info["01:04"]["error"], "corrupt certificate record for 01:04");
  EXPECT_EQ(CertStore(&h.storage).Get(std::string("\x01\x04", 2)).status().code(), StatusCode::kInternal);

  const Json& g = info[good["serial_number"].get<std::string>()];
  EXPECT_EQ(g["common_name"], "good.example.com");
  EXPECT_EQ(g["revoked"], true);
  EXPECT_EQ(g["revocation_time"], 0);
  EXPECT_EQ(g["error"], "corrupt revocation entry " + good["serial_number"].get<std::string>());

  const Json& rv = info[revoked["serial_number"].get<std::string>()];
  EXPECT_FALSE(rv.contains("error"));
  EXPECT_EQ(rv["revoked"], true);
  EXPECT_EQ(rv["revocation_time"], EngineHarness::kStart);

  // Paging past the bad records works as past any other.
  auto after_bad = List("certs/detailed", {{"after", "01:02"}, {"limit", 1}});
  ASSERT_TRUE(after_bad.ok());
  EXPECT_EQ(after_bad->data["keys"], Json::array({"01:03"}));
}

TEST_F(CertListingTest, EmptyMountListsNothing) {
  EngineHarness empty;
  auto r = empty.Call(Operation::kList, "certs/detailed/");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->nil);
}

TEST(DescribeCertificate, KeyTypesAndSizesAsOpenBaoReportsThem) {
  struct Case {
    KeyType type;
    int bits;
    const char* name;
    int reported;
  };
  for (const Case& c : {Case{KeyType::kRsa, 2048, "rsa", 2048}, Case{KeyType::kEc, 521, "ec", 521},
                        Case{KeyType::kEd25519, 0, "ed25519", 256}}) {
    auto key = GenerateKey(c.type, c.bits);
    ASSERT_TRUE(key.ok());
    CertTemplate t;
    t.subject = {{"C", "US"}, {"O", "Example, Inc."}, {"CN", "Self"}};
    t.serial = "\x01";
    t.not_before = 1000;
    t.not_after = 2000;
    t.public_key = key->get();
    auto cert = SignCertificate(t, nullptr, key->get());
    ASSERT_TRUE(cert.ok()) << cert.status().message();
    // Parsed back from DER, as the listing reads it.
    auto parsed = ParseCertificateDer(CertificateDer(cert->get()));
    ASSERT_TRUE(parsed.ok());
    CertDescription d = DescribeCertificate(parsed->get());
    EXPECT_EQ(d.key_type, c.name);
    EXPECT_EQ(d.key_bits, c.reported);
    EXPECT_EQ(d.common_name, "Self");
    EXPECT_EQ(d.issuer, "CN=Self,O=Example\\, Inc.,C=US");  // RFC 4514: last RDN first, commas escaped
    EXPECT_EQ(d.not_before, 1000);
    EXPECT_EQ(d.not_after, 2000);
    EXPECT_TRUE(d.dns_names.empty());
  }
}

}  // namespace
}  // namespace pki::testing
