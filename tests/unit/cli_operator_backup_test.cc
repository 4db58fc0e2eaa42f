// `pki-server operator backup` against a fake transport: the request it sends, what it prints, its exit codes.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "src/cli/operator_backup.h"

namespace pki::cli {
namespace {

using Json = nlohmann::json;

class ScriptedTransport final : public HttpTransport {
 public:
  ScriptedTransport(std::vector<HttpRequest>* sent, std::optional<HttpResponse> answer)
      : sent_(sent), answer_(std::move(answer)) {}
  Result<HttpResponse> Send(const HttpRequest& req) override {
    sent_->push_back(req);
    if (!answer_) return Status::Internal("Couldn't connect to server");
    return *answer_;
  }

 private:
  std::vector<HttpRequest>* sent_;
  std::optional<HttpResponse> answer_;
};

struct Outcome {
  int code = -1;
  std::string out, err;
};

class OperatorBackupTest : public ::testing::Test {
 protected:
  Outcome Operator(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    CliEnvironment env;
    env.env = environment;
    env.transport = [this](const TlsOptions& t) {
      tls = t;
      return std::make_unique<ScriptedTransport>(&sent, answer);
    };
    env.out = &out;
    env.err = &err;
    Outcome r;
    r.code = RunOperator(args, env);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::map<std::string, std::string> environment = {{"VAULT_TOKEN", " root-tok\n"}};
  std::optional<HttpResponse> answer;
  std::vector<HttpRequest> sent;
  TlsOptions tls;
};

TEST_F(OperatorBackupTest, PostsThePathAndPrintsWhatWasWritten) {
  Json contents = Json::array({{{"path", "sys"}, {"kind", "RocksDB checkpoint"}, {"mount", ""}},
                               {{"path", "mounts/u1/rocksdb"}, {"kind", "plugin checkpoint"}, {"mount", "pki/"}}});
  answer = HttpResponse{200, Json{{"data", {{"path", "/srv/b1"}, {"contents", contents}}}}.dump()};
  Outcome r = Operator({"backup", "/srv/b1"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].url, "http://127.0.0.1:8200/v1/sys/storage/backup");  // the default address
  EXPECT_EQ(sent[0].token, "root-tok");
  EXPECT_EQ(Json::parse(sent[0].body), (Json{{"path", "/srv/b1"}}));
  EXPECT_NE(r.out.find("Backup written to /srv/b1 on the server's machine"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  mounts/u1/rocksdb  plugin checkpoint (pki/)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  sys                RocksDB checkpoint\n"), std::string::npos) << r.out;
}

TEST_F(OperatorBackupTest, AddressAndTlsFromFlagsOverTheEnvironment) {
  environment["VAULT_ADDR"] = "https://env.example:8200";
  environment["VAULT_CACERT"] = "/env/ca.pem";
  environment["VAULT_SKIP_VERIFY"] = "true";
  answer = HttpResponse{200, R"({"data":{"path":"/b","contents":[]}})"};
  Outcome r =
      Operator({"backup", "-address=https://flag.example:8200/", "-tls-skip-verify=false", "-ca-path", "/d", "/b"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].url, "https://flag.example:8200/v1/sys/storage/backup");
  EXPECT_EQ(tls.ca_cert, "/env/ca.pem");
  EXPECT_EQ(tls.ca_path, "/d");
  EXPECT_FALSE(tls.skip_verify);
}

TEST_F(OperatorBackupTest, ServerErrorsAreShownWithExitTwo) {
  answer = HttpResponse{400, R"({"errors":["backup path /b already exists"]})"};
  Outcome r = Operator({"backup", "/b"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("Code: 400"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("* backup path /b already exists"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());

  answer.reset();  // no server
  r = Operator({"backup", "/b"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("Couldn't connect to server"), std::string::npos) << r.err;
}

TEST_F(OperatorBackupTest, BadUsageIsExitOneWithoutARequest) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"backup"},
                                             {"backup", "relative/dir"},
                                             {"backup", "/a", "/b"},
                                             {"backup", "-nope", "/a"},
                                             {"backup", "-address"},
                                             {"snapshot", "/a"},
                                             {}}) {
    Outcome r = Operator(args);
    EXPECT_EQ(r.code, 1) << ::testing::PrintToString(args);
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_TRUE(sent.empty());
  Outcome help = Operator({"backup", "-h"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("on the SERVER's machine"), std::string::npos);
}

}  // namespace
}  // namespace pki::cli
