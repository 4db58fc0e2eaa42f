#include "src/crypto/ossl.h"

#include <openssl/err.h>

namespace pki::ossl {

std::string LastError() {
  unsigned long code = ERR_peek_last_error();  // the most specific error is queued last
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace pki::ossl
