// RemoveStaleRuntimeDirs: which socket directories a starting pki-server removes from $TMPDIR.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "src/server/plugin_host.h"

namespace pki::server {
namespace {

// The pid of a process that has exited and been reaped.
pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

TEST(RuntimeDirs, OnlyADeadServersDirectoryIsRemoved) {
  // RuntimeBase takes $TMPDIR only when it is short (socket paths have a length limit): mkdtemp under /tmp.
  char base[] = "/tmp/rsd-XXXXXX";
  ASSERT_NE(::mkdtemp(base), nullptr);
  const std::string old_tmpdir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
  ::setenv("TMPDIR", base, 1);
  namespace fs = std::filesystem;
  const fs::path dead = fs::path(base) / ("pki-server-" + std::to_string(DeadPid()) + "-abc123");
  const fs::path live = fs::path(base) / ("pki-server-" + std::to_string(::getpid()) + "-abc123");
  const fs::path malformed = fs::path(base) / "pki-server-12x-abc123";
  const fs::path other = fs::path(base) / "something-else";
  for (const auto& d : {dead, live, malformed, other}) fs::create_directory(d);

  RemoveStaleRuntimeDirs();

  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(malformed));
  EXPECT_TRUE(fs::exists(other));
  if (old_tmpdir.empty()) {
    ::unsetenv("TMPDIR");
  } else {
    ::setenv("TMPDIR", old_tmpdir.c_str(), 1);
  }
  fs::remove_all(base);
}

}  // namespace
}  // namespace pki::server
