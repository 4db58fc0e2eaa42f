// The OpenSSL layer: keys, serials, time formats, base64, the key sealer, certificates and CSRs.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "src/crypto/csr_fast.h"
#include "src/crypto/keys.h"
#include "src/crypto/sealer.h"
#include "src/crypto/x509.h"

namespace pki {
namespace {

TEST(Keys, GeneratesEveryVaultKeyType) {
  struct Case {
    KeyType type;
    int bits;
  } cases[] = {{KeyType::kRsa, 2048}, {KeyType::kEc, 224}, {KeyType::kEc, 256},
               {KeyType::kEc, 384},   {KeyType::kEc, 521}, {KeyType::kEd25519, 0}};
  for (const auto& c : cases) {
    auto k = GenerateKey(c.type, c.bits);
    ASSERT_TRUE(k.ok()) << KeyTypeName(c.type) << c.bits;
    auto info = InspectKey(k->get());
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->type, c.type);
    EXPECT_EQ(info->bits, c.bits);
  }
  EXPECT_FALSE(GenerateKey(KeyType::kRsa, 1024).ok());
  EXPECT_FALSE(GenerateKey(KeyType::kEc, 255).ok());
}

TEST(Keys, EcKeysNameTheirCurveAndAreDistinct) {
  // SEC1 ECPrivateKey with the curve as a named OID (prime256v1: 06 08 2A 86 48 CE 3D 03 01 07), not explicit
  // parameters; and two keys from the shared group are different keys.
  auto a = GenerateKey(KeyType::kEc, 256);
  auto b = GenerateKey(KeyType::kEc, 256);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(SamePublicKey(a->get(), b->get()));
  auto der = PrivateKeyToDer(a->get(), PrivateKeyFormat::kTraditional);
  ASSERT_TRUE(der.ok());
  const std::string oid("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
  EXPECT_NE(der->find(oid), std::string::npos);
  auto p384 = GenerateKey(KeyType::kEc, 384);
  ASSERT_TRUE(p384.ok());
  auto back = ParsePrivateKeyPem(*PrivateKeyToPem(p384->get(), PrivateKeyFormat::kTraditional));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(InspectKey(back->get())->bits, 384);
  EXPECT_TRUE(SamePublicKey(back->get(), p384->get()));
}

TEST(Keys, EncodingsMatchVaultsPemTypes) {
  auto rsa = GenerateKey(KeyType::kRsa, 2048);
  auto ec = GenerateKey(KeyType::kEc, 256);
  auto ed = GenerateKey(KeyType::kEd25519, 0);
  EXPECT_EQ(PrivateKeyToPem(rsa->get(), PrivateKeyFormat::kTraditional)->find("-----BEGIN RSA PRIVATE KEY-----"), 0u);
  EXPECT_EQ(PrivateKeyToPem(ec->get(), PrivateKeyFormat::kTraditional)->find("-----BEGIN EC PRIVATE KEY-----"), 0u);
  EXPECT_EQ(PrivateKeyToPem(ed->get(), PrivateKeyFormat::kTraditional)->find("-----BEGIN PRIVATE KEY-----"), 0u);
  EXPECT_EQ(PrivateKeyToPem(ec->get(), PrivateKeyFormat::kPkcs8)->find("-----BEGIN PRIVATE KEY-----"), 0u);
  for (auto fmt : {PrivateKeyFormat::kTraditional, PrivateKeyFormat::kPkcs8}) {
    auto pem = PrivateKeyToPem(ec->get(), fmt);
    auto back = ParsePrivateKeyPem(*pem);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(SamePublicKey(back->get(), ec->get()));
    auto der = PrivateKeyToDer(ec->get(), fmt);
    auto back_der = ParsePrivateKeyDer(*der);
    ASSERT_TRUE(back_der.ok());
    EXPECT_TRUE(SamePublicKey(back_der->get(), ec->get()));
  }
  EXPECT_FALSE(ParsePrivateKeyPem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----").ok());
}

TEST(Serials, RandomSerialsArePositiveLargeAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto s = RandomSerial();
    ASSERT_TRUE(s.ok());
    EXPECT_LE(s->size(), 20u);
    EXPECT_GE(s->size(), 16u);  // at least 128 bits except with negligible probability
    if (s->size() == 20) {
      EXPECT_EQ(static_cast<unsigned char>((*s)[0]) & 0x80, 0);  // below 2^159
    }
    EXPECT_NE(static_cast<unsigned char>((*s)[0]), 0);
    EXPECT_TRUE(seen.insert(*s).second);
  }
}

TEST(Serials, FormatAndParse) {
  std::string bytes("\x3a\xf1\x00\x0b", 4);
  EXPECT_EQ(FormatSerial(bytes), "3a:f1:00:0b");
  EXPECT_EQ(*ParseSerial("3a:f1:00:0b"), bytes);
  EXPECT_EQ(*ParseSerial("3A-F1-00-0B"), bytes);
  EXPECT_EQ(*ParseSerial("00:3a:f1:00:0b"), bytes);
  EXPECT_FALSE(ParseSerial("3a:zz").ok());
  EXPECT_FALSE(ParseSerial("../etc").ok());
  EXPECT_FALSE(ParseSerial("").ok());
  EXPECT_FALSE(ParseSerial("::").ok());
  EXPECT_EQ(*ParseSerial("abc"), std::string("\x0a\xbc", 2));  // an odd count: a leading 0 implied
  EXPECT_EQ(*ParseSerial("0"), std::string(1, '\0'));            // zero keeps one byte
  EXPECT_EQ(*ParseSerial("00:00"), std::string(1, '\0'));
  EXPECT_TRUE(ParseSerial(std::string(80, 'f')).ok());           // 40 bytes, the longest accepted
  EXPECT_FALSE(ParseSerial(std::string(81, 'f')).ok());
  EXPECT_EQ(ParseSerial(std::string(80, 'f'))->size(), 40u);
  EXPECT_EQ(*HexDecode("0a:BC:ff"), std::string("\x0a\xbc\xff", 3));
  EXPECT_EQ(*HexDecode("0abcff"), std::string("\x0a\xbc\xff", 3));
  EXPECT_FALSE(HexDecode("abc").ok());  // odd
  EXPECT_FALSE(HexDecode("").ok());
  EXPECT_FALSE(HexDecode("::").ok());
  EXPECT_FALSE(HexDecode("0g").ok());
}

TEST(Times, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(1767225600), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(253402300799), "9999-12-31T23:59:59Z");
}

TEST(Base64, RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(Base64Decode("abc").ok());
}

TEST(Sealer, SealsOpensAndDetectsTampering) {
  auto sealer = NewAesGcmSealer(std::string(32, 'x'));
  auto sealed = sealer->Seal("secret key bytes");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("secret"), std::string::npos);
  EXPECT_EQ(*sealer->Open(*sealed), "secret key bytes");
  std::string tampered = *sealed;
  tampered.back() ^= 1;
  EXPECT_FALSE(sealer->Open(tampered).ok());
  auto other = NewAesGcmSealer(std::string(32, 'y'));
  EXPECT_FALSE(other->Open(*sealed).ok());
  EXPECT_NE(*sealer->Seal("same"), *sealer->Seal("same"));  // fresh nonce each time
}

TEST(Sealer, KeyFileIsCreatedPrivateAndReused) {
  auto dir = std::filesystem::temp_directory_path() / ("pki-sealer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string file = (dir / "seal.key").string();
  auto first = OpenAesGcmSealer(file);
  ASSERT_TRUE(first.ok());
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, 32);
  auto sealed = (*first)->Seal("k");
  auto second = OpenAesGcmSealer(file);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*(*second)->Open(*sealed), "k");
  std::filesystem::remove_all(dir);
}

TEST(Certificates, SignedTemplateCarriesEveryExtension) {
  auto ca_key = GenerateKey(KeyType::kEc, 384);
  CertTemplate ca;
  ca.subject = {{"CN", "CA"}};
  ca.serial = *RandomSerial();
  ca.not_before = 1767225600;
  ca.not_after = 1767225600 + 86400;
  ca.public_key = ca_key->get();
  ca.is_ca = true;
  ca.max_path_length = 1;
  ca.key_usage = KeyUsageMask({"CertSign", "CRLSign"});
  auto ca_cert = SignCertificate(ca, nullptr, ca_key->get());
  ASSERT_TRUE(ca_cert.ok()) << ca_cert.status().message();
  CertInfo ca_info = InspectCertificate(ca_cert->get());
  EXPECT_TRUE(ca_info.is_ca);
  EXPECT_EQ(ca_info.max_path_length, 1);
  EXPECT_EQ(X509_get_signature_nid(ca_cert->get()), NID_ecdsa_with_SHA384);

  auto leaf_key = GenerateKey(KeyType::kRsa, 2048);
  CertTemplate t;
  t.subject = {{"O", "Org"}, {"CN", "leaf.test"}};
  t.serial = *RandomSerial();
  t.not_before = ca.not_before;
  t.not_after = ca.not_after;
  t.public_key = leaf_key->get();
  t.dns_names = {"leaf.test"};
  t.email_addresses = {"a@leaf.test"};
  t.ip_addresses = {"127.0.0.1", "::1"};
  t.uris = {"spiffe://leaf/test"};
  t.other_names = {{"1.3.6.1.4.1.311.20.2.3", "user@leaf.test"}};
  t.key_usage = KeyUsageMask({"DigitalSignature", "keyencipherment", "Bogus"});
  t.ext_key_usage_oids = {ExtKeyUsageOid("ServerAuth"), ExtKeyUsageOid("clientauth")};
  t.basic_constraints = true;
  t.policies = {{"1.2.3.4", "https://cps.test", "notice"}};
  auto leaf = SignCertificate(t, ca_cert->get(), ca_key->get());
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(X509_verify(leaf->get(), ca_key->get()), 1);
  auto reparsed_ca = ParseCertificateDer(CertificateDer(ca_cert->get()));
  ASSERT_TRUE(reparsed_ca.ok());
  EXPECT_TRUE(SamePublicKey(X509_get0_pubkey(reparsed_ca->get()), ca_key->get()));
  EXPECT_EQ(X509_verify(leaf->get(), X509_get0_pubkey(reparsed_ca->get())), 1);
  EXPECT_EQ(X509_get_key_usage(leaf->get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(leaf->get()), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  CertInfo info = InspectCertificate(leaf->get());
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.common_name, "leaf.test");
  EXPECT_EQ(info.dns_names, std::vector<std::string>{"leaf.test"});
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf->get());
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_STRING_length(akid), 20);
  EXPECT_NE(X509_get_ext_by_NID(leaf->get(), NID_certificate_policies, -1), -1);
  EXPECT_EQ(ParseCertificateDer(CertificateDer(leaf->get())).ok(), true);
  t.ip_addresses = {"300.1.1.1"};
  EXPECT_EQ(SignCertificate(t, ca_cert->get(), ca_key->get()).status().code(), StatusCode::kBadRequest);
}

TEST(Csr, CreateParseAndRejectTampering) {
  auto key = GenerateKey(KeyType::kEd25519, 0);
  CsrTemplate t;
  t.subject = {{"CN", "csr.test"}, {"serialNumber", "42"}};
  t.dns_names = {"a.test"};
  t.ip_addresses = {"10.0.0.1"};
  t.uris = {"spiffe://x"};
  t.add_basic_constraints = true;
  auto pem = CreateCsrPem(t, key->get());
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  auto csr = ParseCsrPem(*pem);
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  EXPECT_EQ(csr->common_name, "csr.test");
  EXPECT_EQ(csr->dns_names, std::vector<std::string>{"a.test"});
  EXPECT_EQ(csr->ip_addresses, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(csr->uris, std::vector<std::string>{"spiffe://x"});
  EXPECT_TRUE(csr->has_basic_constraints);
  EXPECT_TRUE(csr->basic_constraints_ca);
  EXPECT_EQ(ParseCsrPem("").status().message(), "\"csr\" is empty");
  EXPECT_EQ(ParseCsrPem("garbage").status().message(), "csr contains no data");
  EXPECT_EQ(ParseCsrPem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----")
                .status()
                .code(),
            StatusCode::kBadRequest);
}


// The DER inside a PEM block.
std::string PemBody(const std::string& pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_bytes_read_bio(&data, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), nullptr, nullptr) != 1) return "";
  std::string der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
  OPENSSL_free(data);
  return der;
}

TEST(Csr, EcKeysNotInNamedUncompressedFormTakeOpenSslsRoute) {
  // A compressed point or explicit curve parameters would otherwise be copied into the certificate as they came.
  struct Case {
    const char* param;
    const char* value;
  } cases[] = {{OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"},
               {OSSL_PKEY_PARAM_EC_ENCODING, "explicit"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    ossl::PKey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    ASSERT_TRUE(key);
    ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), c.param, c.value), 1);
    CsrTemplate t;
    t.subject = {{"CN", "csr.test"}};
    auto pem = CreateCsrPem(t, key.get());
    ASSERT_TRUE(pem.ok());
    ossl::PKey fast_key;
    EXPECT_FALSE(ParseVerifiedCsrFast(PemBody(*pem), &fast_key));
    auto csr = ParseCsrPem(*pem);
    ASSERT_TRUE(csr.ok()) << csr.status().message();
    EXPECT_TRUE(SamePublicKey(csr->public_key.get(), key.get()));
  }
}

TEST(Csr, FastRouteCoversEcAndRsaAndAgreesWithOpenSsl) {
  struct Case {
    KeyType type;
    int bits;
    bool fast;  // whether ParseVerifiedCsrFast takes it
  } cases[] = {{KeyType::kEc, 256, true}, {KeyType::kEc, 384, true}, {KeyType::kRsa, 2048, true},
               {KeyType::kEd25519, 0, false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(KeyTypeName(c.type)) + std::to_string(c.bits));
    auto key = GenerateKey(c.type, c.bits);
    CsrTemplate t;
    t.subject = {{"O", "Org"}, {"CN", "csr.test"}};
    t.dns_names = {"a.test", "b.test"};
    t.email_addresses = {"x@a.test"};
    t.key_usage = KeyUsageMask({"DigitalSignature"});
    auto pem = CreateCsrPem(t, key->get());
    ASSERT_TRUE(pem.ok());
    const std::string der = PemBody(*pem);
    ossl::PKey fast_key;
    ossl::X509Req fast = ParseVerifiedCsrFast(der, &fast_key);
    EXPECT_EQ(fast != nullptr, c.fast);
    if (fast) {
      EXPECT_TRUE(SamePublicKey(fast_key.get(), key->get()));
      // The assembled request says what OpenSSL's own parse says.
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
      ossl::X509Req slow(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
      ASSERT_TRUE(slow);
      EXPECT_EQ(X509_NAME_cmp(X509_REQ_get_subject_name(fast.get()), X509_REQ_get_subject_name(slow.get())), 0);
      EXPECT_EQ(X509_REQ_get_attr_count(fast.get()), X509_REQ_get_attr_count(slow.get()));
      EXPECT_EQ(X509_REQ_get_version(fast.get()), X509_REQ_get_version(slow.get()));
    }
    auto csr = ParseCsrPem(*pem);
    ASSERT_TRUE(csr.ok()) << csr.status().message();
    EXPECT_EQ(csr->common_name, "csr.test");
    EXPECT_EQ(csr->dns_names, (std::vector<std::string>{"a.test", "b.test"}));
    EXPECT_EQ(csr->email_addresses, std::vector<std::string>{"x@a.test"});
    EXPECT_EQ(csr->key_usage, KeyUsageMask({"DigitalSignature"}));
    EXPECT_EQ(csr->subject, (DistinguishedName{{"O", "Org"}, {"CN", "csr.test"}}));
    EXPECT_TRUE(SamePublicKey(csr->public_key.get(), key->get()));

    // The older PEM label is read too.
    std::string old_label = DerToPem(der, "NEW CERTIFICATE REQUEST");
    EXPECT_TRUE(ParseCsrPem(old_label).ok());

    // A changed byte in the signed part: neither route accepts it, and the refusal is OpenSSL's path's.
    std::string tampered = der;
    size_t at = tampered.find("csr.test");
    ASSERT_NE(at, std::string::npos);
    tampered[at] = 'k';
    ossl::PKey unused;
    EXPECT_FALSE(ParseVerifiedCsrFast(tampered, &unused));
    auto refused = ParseCsrPem(DerToPem(tampered, "CERTIFICATE REQUEST"));
    EXPECT_EQ(refused.status().message(), "request signature invalid");
  }
}

}  // namespace
}  // namespace pki

namespace pki {
namespace {

// The certificate's SubjectPublicKeyInfo, written without OpenSSL's encoder for EC and Ed25519, must decode to the
// very key it was built from, with the SKID OpenSSL itself would compute.
TEST(Certificates, SubjectPublicKeyInfoRoundTripsForEveryKeyType) {
  auto ca_key = GenerateKey(KeyType::kEc, 256);
  for (auto [type, bits] : std::vector<std::pair<KeyType, int>>{
           {KeyType::kEc, 224}, {KeyType::kEc, 256}, {KeyType::kEc, 384}, {KeyType::kEc, 521},
           {KeyType::kEd25519, 0}, {KeyType::kRsa, 2048}}) {
    auto key = GenerateKey(type, bits);
    CertTemplate t;
    t.subject = {{"CN", "spki.test"}};
    t.serial = *RandomSerial();
    t.not_before = 1767225600;
    t.not_after = 1767225600 + 60;
    t.public_key = key->get();
    auto cert = SignCertificate(t, nullptr, ca_key->get());
    ASSERT_TRUE(cert.ok()) << cert.status().message();
    auto parsed = ParseCertificateDer(CertificateDer(cert->get()));
    ASSERT_TRUE(parsed.ok());
    ASSERT_NE(X509_get0_pubkey(parsed->get()), nullptr) << KeyTypeName(type) << bits;
    EXPECT_TRUE(SamePublicKey(X509_get0_pubkey(parsed->get()), key->get())) << KeyTypeName(type) << bits;
    EXPECT_EQ(X509_verify(parsed->get(), ca_key->get()), 1);
    unsigned char md[20];
    unsigned int len = 0;
    ASSERT_EQ(X509_pubkey_digest(parsed->get(), EVP_sha1(), md, &len), 1);
    EXPECT_EQ(InspectCertificate(parsed->get()).subject_key_id, std::string(reinterpret_cast<char*>(md), len));
  }
}

}  // namespace
}  // namespace pki
