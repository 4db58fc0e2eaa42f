// A DevServer for tests that talk to it over HTTP: a fresh temporary data directory (removed with it), a given
// root token, a free loopback port, and the engines of `make_factory`.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "src/server/dev_server.h"

namespace pki::testing {

class TestDevServer {
 public:
  // `name` prefixes the temporary directory (/tmp/<name>.XXXXXX).
  static Result<std::unique_ptr<TestDevServer>> Start(const std::string& name, const std::string& root_token,
                                                      const server::FactoryMaker& make_factory) {
    std::string tmpl = "/tmp/" + name + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return Status::Internal("mkdtemp failed for " + tmpl);
    std::unique_ptr<TestDevServer> t(new TestDevServer(tmpl));
    server::DevServerOptions options;
    options.data_dir = t->dir_ + "/data";
    options.root_token = root_token;
    options.listen_port = 0;
    ASSIGN_OR_RETURN(t->server_, server::DevServer::Start(options, make_factory));
    return t;
  }
  ~TestDevServer() {
    server_.reset();  // stopped before its files go
    std::filesystem::remove_all(dir_);
  }

  uint16_t port() const { return server_->http().port(); }

 private:
  explicit TestDevServer(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  std::unique_ptr<server::DevServer> server_;
};

}  // namespace pki::testing
