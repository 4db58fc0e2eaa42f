#include "src/core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pki {
namespace {

std::string Errno() { return std::strerror(errno); }

// Closes a descriptor when the scope ends.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal(Errno());
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status CopyPrivateFile(const std::string& from, const std::string& to) {
  Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (in.fd < 0) return Status::Internal("cannot open " + from + ": " + Errno());
  struct stat st {};
  if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) return Status::Internal(from + " is not a regular file");
  // O_EXCL with O_CREAT also refuses a symbolic link at `to`, wherever it points.
  Fd out{::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (out.fd < 0) return Status::Internal("cannot create " + to + ": " + Errno());
  Status st_copy;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(in.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st_copy = Status::Internal("cannot read " + from + ": " + Errno());
      break;
    }
    if (n == 0) break;
    if (Status w = WriteAll(out.fd, buf, static_cast<size_t>(n)); !w.ok()) {
      st_copy = Status::Internal("cannot write " + to + ": " + w.message());
      break;
    }
  }
  // The umask may have narrowed the mode further, never widened it; fchmod makes it exactly 0600.
  if (st_copy.ok() && (::fchmod(out.fd, 0600) != 0 || ::fsync(out.fd) != 0)) {
    st_copy = Status::Internal("cannot write " + to + ": " + Errno());
  }
  if (!st_copy.ok()) ::unlink(to.c_str());
  return st_copy;
}

Status SyncDirectory(const std::string& dir) {
  Fd fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (fd.fd < 0 || ::fsync(fd.fd) != 0) return Status::Internal("cannot sync directory " + dir + ": " + Errno());
  return Status::Ok();
}

}  // namespace pki
