#include "src/server/random_id.h"

#include <openssl/rand.h>

#include <vector>

namespace pki::server {
namespace {

Status FillRandom(unsigned char* buf, size_t n) {
  if (RAND_bytes(buf, static_cast<int>(n)) != 1) return Status::Internal("no randomness available");
  return Status::Ok();
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

Result<std::string> RandomHex(size_t hex_chars) {
  std::vector<unsigned char> b((hex_chars + 1) / 2);
  RETURN_IF_ERROR(FillRandom(b.data(), b.size()));
  std::string out;
  for (unsigned char c : b) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  out.resize(hex_chars);
  return out;
}

Result<std::string> RandomAlphanumeric(size_t length) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static constexpr unsigned kSize = sizeof(kAlphabet) - 1;  // 62
  static constexpr unsigned kLimit = 256 - 256 % kSize;     // reject the biased tail
  std::string out;
  out.reserve(length);
  unsigned char buf[64];
  while (out.size() < length) {
    RETURN_IF_ERROR(FillRandom(buf, sizeof(buf)));
    for (unsigned char c : buf) {
      if (c >= kLimit) continue;
      out.push_back(kAlphabet[c % kSize]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace pki::server
