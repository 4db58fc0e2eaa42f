// EC keys are generated through OpenSSL's EC_KEY interface, deprecated in 3.0 but supported throughout 3.x: with a
// curve group built once and shared, a P-256 key costs ~10 us against ~30 us for EVP_PKEY_Q_keygen (which builds
// the group from its parameters for every key), and encoding it as a SEC1 PEM needs no conversion (~12 us against
// ~35 us for a provider key, which the traditional encoder first exports to a legacy EC_KEY, building the group
// again). Measured on the benchmark machine (docs/benchmarks.md).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "src/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace pki {

const char* KeyTypeName(KeyType t) {
  switch (t) {
    case KeyType::kRsa: return "rsa";
    case KeyType::kEc: return "ec";
    case KeyType::kEd25519: return "ed25519";
  }
  return "";
}

Result<KeyType> ParseKeyType(const std::string& name) {
  if (name == "rsa") return KeyType::kRsa;
  if (name == "ec") return KeyType::kEc;
  if (name == "ed25519") return KeyType::kEd25519;
  return Status::BadRequest("unknown key type: " + name);
}

namespace {

int CurveNid(int bits) {
  switch (bits) {
    case 224: return NID_secp224r1;
    case 256: return NID_X9_62_prime256v1;
    case 384: return NID_secp384r1;
    case 521: return NID_secp521r1;
  }
  return NID_undef;
}

// The curve's group, built once per process (EC_GROUP is read-only once built; EC_KEY_set_group copies it).
const EC_GROUP* SharedGroup(int bits) {
  static const EC_GROUP* const groups[4] = {
      EC_GROUP_new_by_curve_name(CurveNid(224)), EC_GROUP_new_by_curve_name(CurveNid(256)),
      EC_GROUP_new_by_curve_name(CurveNid(384)), EC_GROUP_new_by_curve_name(CurveNid(521))};
  switch (bits) {
    case 224: return groups[0];
    case 256: return groups[1];
    case 384: return groups[2];
    case 521: return groups[3];
  }
  return nullptr;
}

EVP_PKEY* GenerateEcKey(int bits) {
  const EC_GROUP* group = SharedGroup(bits);
  if (!group) return nullptr;
  EC_KEY* ec = EC_KEY_new();
  if (!ec || EC_KEY_set_group(ec, group) != 1 || EC_KEY_generate_key(ec) != 1) {
    EC_KEY_free(ec);
    return nullptr;
  }
  // Named-curve form, as EVP_PKEY_Q_keygen's keys encode.
  EC_KEY_set_asn1_flag(ec, OPENSSL_EC_NAMED_CURVE);
  EVP_PKEY* key = EVP_PKEY_new();
  if (!key || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
    EVP_PKEY_free(key);
    EC_KEY_free(ec);
    return nullptr;
  }
  return key;
}

}  // namespace

Result<int> ResolveKeyBits(KeyType type, int64_t bits) {
  switch (type) {
    case KeyType::kEd25519:
      return 0;
    case KeyType::kRsa:
      if (bits == 0) return 2048;
      if (bits == 2048 || bits == 3072 || bits == 4096 || bits == 8192) return static_cast<int>(bits);
      return Status::BadRequest("unsupported bit length for RSA key: " + std::to_string(bits));
    case KeyType::kEc:
      if (bits == 0) return 256;
      if (bits == 224 || bits == 256 || bits == 384 || bits == 521) return static_cast<int>(bits);
      return Status::BadRequest("unsupported bit length for EC key: " + std::to_string(bits));
  }
  return Status::BadRequest("unknown key type");
}

Result<ossl::PKey> GenerateKey(KeyType type, int bits) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kRsa:
      if (bits != 2048 && bits != 3072 && bits != 4096 && bits != 8192) {
        return Status::BadRequest("unsupported bit length for RSA key: " + std::to_string(bits));
      }
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
      break;
    case KeyType::kEc: {
      if (CurveNid(bits) == NID_undef) return Status::BadRequest("unsupported bit length for EC key: " + std::to_string(bits));
      raw = GenerateEcKey(bits);
      break;
    }
    case KeyType::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (!raw) return Status::Internal("key generation failed: " + ossl::LastError());
  return ossl::PKey(raw);
}

Result<KeyInfo> InspectKey(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return KeyInfo{KeyType::kRsa, EVP_PKEY_get_bits(key)};
    case EVP_PKEY_EC: {
      char curve[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &len) != 1) {
        return Status::BadRequest("EC key without a named curve");
      }
      int nid = OBJ_txt2nid(curve);
      if (nid == NID_undef) nid = EC_curve_nist2nid(curve);
      switch (nid) {
        case NID_secp224r1: return KeyInfo{KeyType::kEc, 224};
        case NID_X9_62_prime256v1: return KeyInfo{KeyType::kEc, 256};
        case NID_secp384r1: return KeyInfo{KeyType::kEc, 384};
        case NID_secp521r1: return KeyInfo{KeyType::kEc, 521};
      }
      return Status::BadRequest(std::string("unsupported EC curve: ") + curve);
    }
    case EVP_PKEY_ED25519:
      return KeyInfo{KeyType::kEd25519, 0};
  }
  return Status::BadRequest("unsupported key type");
}

Result<std::string> PrivateKeyToPem(const EVP_PKEY* key, PrivateKeyFormat format) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  int ok;
  if (format == PrivateKeyFormat::kPkcs8 || EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    ok = PEM_write_bio_PrivateKey_traditional(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  }
  if (ok != 1) return Status::Internal("cannot encode private key: " + ossl::LastError());
  std::string pem = ossl::BioContents(bio.get());
  while (!pem.empty() && pem.back() == '\n') pem.pop_back();
  return pem;
}

Result<std::string> PrivateKeyToDer(const EVP_PKEY* key, PrivateKeyFormat format) {
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  if (format == PrivateKeyFormat::kPkcs8 || EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    ossl::Bio bio(BIO_new(BIO_s_mem()));
    if (i2d_PKCS8PrivateKey_bio(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return Status::Internal("cannot encode private key: " + ossl::LastError());
    }
    return ossl::BioContents(bio.get());
  }
  unsigned char* der = nullptr;
  int n = i2d_PrivateKey(k, &der);
  if (n <= 0) return Status::Internal("cannot encode private key: " + ossl::LastError());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_clear_free(der, static_cast<size_t>(n));
  return out;
}

Result<ossl::PKey> ParsePrivateKeyPem(const std::string& pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(""));
  if (!k) {
    ossl::LastError();
    return Status::BadRequest("unable to parse private key");
  }
  return ossl::PKey(k);
}

Result<ossl::PKey> ParsePrivateKeyDer(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (!k) {
    ossl::LastError();
    return Status::Internal("unable to parse stored private key");
  }
  return ossl::PKey(k);
}

std::string PublicKeyDer(const EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(const_cast<EVP_PKEY*>(key), &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool SamePublicKey(const EVP_PKEY* a, const EVP_PKEY* b) { return EVP_PKEY_eq(a, b) == 1; }

}  // namespace pki
