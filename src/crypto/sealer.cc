#include "src/crypto/sealer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <openssl/rand.h>

#include "src/crypto/ossl.h"

namespace pki {
namespace {

constexpr char kMagic[] = "pkiseal1";
constexpr size_t kMagicLen = 8, kNonceLen = 12, kTagLen = 16, kKeyLen = 32;

class AesGcmSealer final : public KeySealer {
 public:
  explicit AesGcmSealer(std::string key) : key_(std::move(key)) {}
  ~AesGcmSealer() override { OPENSSL_cleanse(key_.data(), key_.size()); }

  Result<std::string> Seal(const std::string& plaintext) const override {
    unsigned char nonce[kNonceLen];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) return Status::Internal("seal: no randomness");
    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    std::string out(kMagic, kMagicLen);
    out.append(reinterpret_cast<char*>(nonce), kNonceLen);
    size_t ct_off = out.size();
    out.resize(ct_off + plaintext.size() + kTagLen);
    auto* ct = reinterpret_cast<unsigned char*>(out.data() + ct_off);
    int len = 0, fin = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                           nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kMagic), kMagicLen) != 1 ||
        EVP_EncryptUpdate(ctx.get(), ct, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), ct + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagLen, ct + plaintext.size()) != 1) {
      return Status::Internal("seal: encryption failed");
    }
    return out;
  }

  Result<std::string> Open(const std::string& sealed) const override {
    if (sealed.size() < kMagicLen + kNonceLen + kTagLen || sealed.compare(0, kMagicLen, kMagic) != 0) {
      return Status::Internal("unseal: not a sealed value");
    }
    const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + kMagicLen);
    size_t ct_len = sealed.size() - kMagicLen - kNonceLen - kTagLen;
    const auto* ct = nonce + kNonceLen;
    std::string out(ct_len, '\0');
    ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0, fin = 0;
    unsigned char tag[kTagLen];
    std::memcpy(tag, ct + ct_len, kTagLen);
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                           nonce) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kMagic), kMagicLen) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, ct,
                          static_cast<int>(ct_len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagLen, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &fin) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return Status::Internal("unseal: authentication failed (wrong seal key or corrupted value)");
    }
    return out;
  }

 private:
  std::string key_;
};

}  // namespace

std::unique_ptr<KeySealer> NewAesGcmSealer(const std::string& key32) {
  return std::make_unique<AesGcmSealer>(key32);
}

Result<std::unique_ptr<KeySealer>> OpenAesGcmSealer(const std::string& key_file) {
  std::string key(kKeyLen, '\0');
  int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyLen) != 1) {
      return Status::Internal("seal key: no randomness");
    }
    std::string tmp = key_file + ".tmp";
    int wfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (wfd < 0) return Status::Internal("seal key: cannot create " + tmp + ": " + std::strerror(errno));
    bool ok = ::write(wfd, key.data(), kKeyLen) == static_cast<ssize_t>(kKeyLen) && ::fsync(wfd) == 0;
    ::close(wfd);
    if (!ok || ::rename(tmp.c_str(), key_file.c_str()) != 0) {
      return Status::Internal("seal key: cannot write " + key_file);
    }
    return std::unique_ptr<KeySealer>(std::make_unique<AesGcmSealer>(std::move(key)));
  }
  if (fd < 0) return Status::Internal("seal key: cannot open " + key_file + ": " + std::strerror(errno));
  ssize_t n = ::read(fd, key.data(), kKeyLen);
  ::close(fd);
  if (n != static_cast<ssize_t>(kKeyLen)) return Status::Internal("seal key: " + key_file + " is not 32 bytes");
  return std::unique_ptr<KeySealer>(std::make_unique<AesGcmSealer>(std::move(key)));
}

}  // namespace pki
