// pkictl against a fake transport: flag spellings, data arguments, requests sent, output and exit codes.
#include <gtest/gtest.h>

#include <sstream>

#include "src/cli/cli_input.h"
#include "src/cli/cli_output.h"
#include "src/cli/pkictl.h"

namespace pki::cli {
namespace {

using Json = nlohmann::json;

TEST(CliInput, FlagsAreReadAsGoReadsThemUntilThePath) {
  EXPECT_EQ(NormalizeFlags({"write", "-field=certificate", "-tls-skip-verify", "pki/issue/web", "ttl=-1",
                            "-format=json"}),
            (std::vector<std::string>{"write", "--field", "certificate", "--tls-skip-verify", "pki/issue/web",
                                      "ttl=-1", "-format=json"}));
  EXPECT_EQ(NormalizeFlags({"secrets", "enable", "-path=pki2", "-h", "pki"}),
            (std::vector<std::string>{"secrets", "enable", "--path", "pki2", "-h", "pki"}));
  // A flag's value given as the next argument, even one holding '/' or '='; an empty value stays empty.
  EXPECT_EQ(NormalizeFlags({"read", "-address", "http://127.0.0.1:8200", "-field=", "-format=json", "pki/x"}),
            (std::vector<std::string>{"read", "--address", "http://127.0.0.1:8200", "--field", "", "--format",
                                      "json", "pki/x"}));
  EXPECT_EQ(NormalizeFlags({"write", "-f", "-tls-skip-verify=false", "--", "-odd/path"}),
            (std::vector<std::string>{"write", "--force", "--tls-skip-verify=false", "--", "-odd/path"}));
}

InputSources FakeInput(std::string stdin_text) {
  InputSources in;
  in.read_stdin = [stdin_text]() -> Result<std::string> { return stdin_text; };
  in.read_file = [](const std::string& path) -> Result<std::string> {
    if (path == "csr.pem") return std::string("-----BEGIN CERTIFICATE REQUEST-----");
    return Status::BadRequest("error reading file " + path);
  };
  return in;
}

TEST(CliInput, DataArgumentsAsVaultReadsThem) {
  auto data = ParseDataArgs({"common_name=a.example.com", "csr=@csr.pem", "alt_names=b", "alt_names=c",
                             "note=x=y", "pem=-"},
                            FakeInput("from stdin"));
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ((*data)["common_name"], "a.example.com");
  EXPECT_EQ((*data)["csr"], "-----BEGIN CERTIFICATE REQUEST-----");
  EXPECT_EQ((*data)["alt_names"], Json::array({"b", "c"}));
  EXPECT_EQ((*data)["note"], "x=y");
  EXPECT_EQ((*data)["pem"], "from stdin");
  auto json = ParseDataArgs({"-", "extra=1"}, FakeInput(R"({"ttl":"1h","n":2})"));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ((*json)["n"], 2);
  EXPECT_EQ((*json)["extra"], "1");
  EXPECT_FALSE(ParseDataArgs({"novalue"}, FakeInput("")).ok());
  EXPECT_FALSE(ParseDataArgs({"f=@missing"}, FakeInput("")).ok());
  EXPECT_FALSE(ParseDataArgs({"a=-", "b=-"}, FakeInput("x")).ok());
  EXPECT_FALSE(ParseDataArgs({"-"}, FakeInput("[1]")).ok());
}

TEST(CliOutput, TablesAndValuesAsVaultPrintsThem) {
  EXPECT_EQ(TableValue(Json::array({"a", "b"})), "[a b]");
  EXPECT_EQ(TableValue(Json{{"x", 1}, {"a", "b"}}), "map[a:b x:1]");
  EXPECT_EQ(TableValue(Json()), "<nil>");
  EXPECT_EQ(TableValue(true), "true");
  Json secret = {{"data", {{"serial_number", "01:02"}, {"expiration", 17}, {"ca_chain", Json::array({"c1"})}}}};
  EXPECT_EQ(DataTable(secret),
            "Key              Value\n"
            "---              -----\n"
            "ca_chain         [c1]\n"
            "expiration       17\n"
            "serial_number    01:02\n");
  EXPECT_EQ(KeysTable({{"data", {{"keys", Json::array({"web", "api"})}}}}), "Keys\n----\nweb\napi\n");
  EXPECT_EQ(RawField(secret, "serial_number").value(), "01:02");
  EXPECT_EQ(RawField(secret, "ca_chain").value(), "[c1]");  // Go's %v, as vault prints a field
  EXPECT_EQ(RawField(secret, "ca_chain", /*json=*/true).value(), R"(["c1"])");
  EXPECT_FALSE(RawField({{"data", {{"n", nullptr}}}}, "n").ok());  // null is "not present", as vault
  EXPECT_FALSE(RawField(secret, "nope").ok());
  EXPECT_EQ(HumanDuration(2764800), "768h");
  EXPECT_EQ(HumanDuration(5400), "1h30m");
  EXPECT_EQ(HumanDuration(3601), "1h1s");  // vault cuts the "0m" after hours whatever follows
  EXPECT_EQ(HumanDuration(90), "1m30s");
  EXPECT_EQ(HumanDuration(0), "0s");
}

TEST(CliOutput, TokenFieldsAsVaultPrintsThem) {
  Json created = Json::parse(R"({"data": null, "auth": {"client_token": "hvs.abc", "accessor": "acc",
      "policies": ["default", "web"], "token_policies": ["default", "web"], "identity_policies": null,
      "metadata": {"team": "a"}, "lease_duration": 2764800, "renewable": true}})");
  EXPECT_EQ(DataTable(created),
            "Key                  Value\n"
            "---                  -----\n"
            "token                hvs.abc\n"
            "token_accessor       acc\n"
            "token_duration       768h\n"
            "token_renewable      true\n"
            "token_policies       [\"default\" \"web\"]\n"
            "identity_policies    []\n"
            "policies             [\"default\" \"web\"]\n"
            "token_meta_team      a\n");
  EXPECT_EQ(RawField(created, "token").value(), "hvs.abc");
  EXPECT_EQ(RawField(created, "token_duration").value(), "2764800");
  EXPECT_EQ(RawField(created, "policies").value(), "[default web]");
  created["auth"]["lease_duration"] = 0;  // a root token never expires
  EXPECT_NE(DataTable(created).find("token_duration       ∞\n"), std::string::npos);
}

// Records requests and answers from a script.
class FakeTransport final : public HttpTransport {
 public:
  struct Shared {
    std::vector<HttpRequest> sent;
    std::vector<HttpResponse> answers;
    TlsOptions tls;
  };
  explicit FakeTransport(Shared* shared) : shared_(shared) {}
  Result<HttpResponse> Send(const HttpRequest& req) override {
    shared_->sent.push_back(req);
    if (shared_->answers.empty()) return Status::Internal("connection refused");
    HttpResponse r = shared_->answers.front();
    shared_->answers.erase(shared_->answers.begin());
    return r;
  }

 private:
  Shared* shared_;
};

struct CliRun {
  int code = -1;
  std::string out, err;
};

class PkictlTest : public ::testing::Test {
 protected:
  CliRun Pkictl(std::vector<std::string> args, bool terminal = false) {
    std::ostringstream out, err;
    CliEnvironment env;
    env.env = {{"VAULT_ADDR", "http://127.0.0.1:8200/"}, {"VAULT_TOKEN", "tok"}};
    for (const auto& [k, v] : extra_env) env.env[k] = v;
    env.input = FakeInput(stdin_text);
    env.transport = [this](const TlsOptions& tls) {
      shared.tls = tls;
      return std::make_unique<FakeTransport>(&shared);
    };
    env.out = &out;
    env.err = &err;
    env.out_is_terminal = terminal;
    CliRun r;
    r.code = RunPkictl(args, env);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  void Answer(long status, Json body) { shared.answers.push_back({status, body.is_null() ? "" : body.dump()}); }

  FakeTransport::Shared shared;
  std::map<std::string, std::string> extra_env;
  std::string stdin_text;
};

TEST_F(PkictlTest, WriteWithFieldPrintsTheRawValue) {
  Answer(200, {{"data", {{"certificate", "-----BEGIN CERTIFICATE-----"}, {"serial_number", "0a"}}}});
  CliRun r = Pkictl({"write", "-field=certificate", "pki/issue/web", "common_name=a.example.com", "ttl=1h"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "-----BEGIN CERTIFICATE-----");  // no newline when not a terminal, as vault
  ASSERT_EQ(shared.sent.size(), 1u);
  EXPECT_EQ(shared.sent[0].method, "PUT");
  EXPECT_EQ(shared.sent[0].url, "http://127.0.0.1:8200/v1/pki/issue/web");
  EXPECT_EQ(shared.sent[0].token, "tok");
  EXPECT_EQ(Json::parse(shared.sent[0].body), (Json{{"common_name", "a.example.com"}, {"ttl", "1h"}}));
}

TEST_F(PkictlTest, WriteWithoutAnswerSaysSuccess) {
  Answer(204, Json());
  CliRun r = Pkictl({"write", "pki/roles/web", "allowed_domains=example.com"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "Success! Data written to: pki/roles/web\n");
}

TEST_F(PkictlTest, ReadListDeleteAndJson) {
  Answer(200, {{"data", {{"max_ttl", 60}}}, {"warnings", nullptr}});
  CliRun read = Pkictl({"read", "-format=json", "pki/roles/web"});
  EXPECT_EQ(read.code, 0);
  EXPECT_EQ(Json::parse(read.out)["data"]["max_ttl"], 60);
  EXPECT_EQ(shared.sent.back().method, "GET");

  Answer(200, {{"data", {{"keys", Json::array({"web"})}}}});
  CliRun list = Pkictl({"list", "pki/roles"});
  EXPECT_EQ(list.code, 0);
  EXPECT_EQ(list.out, "Keys\n----\nweb\n");
  EXPECT_EQ(shared.sent.back().method, "LIST");
  EXPECT_EQ(shared.sent.back().url, "http://127.0.0.1:8200/v1/pki/roles/");

  Answer(204, Json());
  CliRun del = Pkictl({"delete", "pki/roles/web"});
  EXPECT_EQ(del.code, 0);
  EXPECT_EQ(del.out, "Success! Data deleted (if it existed) at: pki/roles/web\n");
}

TEST_F(PkictlTest, ServerErrorsAreReadableAndExitTwo) {
  Answer(403, {{"errors", Json::array({"permission denied"})}});
  CliRun r = Pkictl({"write", "pki/roles/web", "a=b"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "Error writing data to pki/roles/web: Error making API request.\n\nURL: PUT "
            "http://127.0.0.1:8200/v1/pki/roles/web\nCode: 403. Errors:\n\n* permission denied\n");
  Answer(404, {{"errors", Json::array()}});
  CliRun missing = Pkictl({"read", "pki/roles/none"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "No value found at pki/roles/none\n");
  CliRun down = Pkictl({"read", "pki/roles/web"});  // no scripted answer: the connection fails
  EXPECT_EQ(down.code, 2);
  EXPECT_NE(down.err.find("connection refused"), std::string::npos);
}

TEST_F(PkictlTest, LocalErrorsExitOne) {
  EXPECT_EQ(Pkictl({"read"}).code, 1);
  EXPECT_EQ(Pkictl({"frobnicate"}).code, 1);
  EXPECT_EQ(Pkictl({"write", "pki/x", "novalue"}).code, 1);
  EXPECT_EQ(Pkictl({"read", "-format=yaml", "pki/x"}).code, 1);
  EXPECT_TRUE(shared.sent.empty());
}

TEST_F(PkictlTest, SecretsCommandsAndTlsSettings) {
  extra_env = {{"VAULT_CACERT", "/etc/ca.pem"}};
  Answer(204, Json());
  CliRun enable = Pkictl({"secrets", "enable", "-path=pki2", "-max-lease-ttl=87600h", "-options=storage=host", "pki"});
  EXPECT_EQ(enable.code, 0) << enable.err;
  EXPECT_EQ(enable.out, "Success! Enabled the pki secrets engine at: pki2/\n");
  EXPECT_EQ(shared.sent.back().url, "http://127.0.0.1:8200/v1/sys/mounts/pki2");
  EXPECT_EQ(Json::parse(shared.sent.back().body),
            (Json{{"type", "pki"}, {"config", {{"max_lease_ttl", "87600h"}}}, {"options", {{"storage", "host"}}}}));
  EXPECT_EQ(shared.tls.ca_cert, "/etc/ca.pem");

  Answer(204, Json());
  EXPECT_EQ(Pkictl({"secrets", "tune", "-max-lease-ttl=1h", "pki2"}).out, "Success! Tuned the secrets engine at: pki2/\n");
  EXPECT_EQ(shared.sent.back().url, "http://127.0.0.1:8200/v1/sys/mounts/pki2/tune");

  Answer(200, {{"data", {{"pki/", {{"type", "pki"}, {"accessor", "pki_1"}, {"description", ""}}}}}});
  CliRun list = Pkictl({"secrets", "list", "-tls-skip-verify"});
  EXPECT_EQ(list.out, "Path    Type    Accessor    Description\n----    ----    --------    -----------\npki/    pki     pki_1       n/a\n");
  EXPECT_TRUE(shared.tls.skip_verify);

  Answer(204, Json());
  EXPECT_EQ(Pkictl({"secrets", "disable", "pki2"}).code, 0);
  EXPECT_EQ(shared.sent.back().method, "DELETE");
}

TEST_F(PkictlTest, CaPathAndClientCertificate) {
  extra_env = {{"VAULT_CAPATH", "/etc/ssl/certs"}, {"VAULT_CLIENT_CERT", "/env/c.pem"},
               {"VAULT_CLIENT_KEY", "/env/k.pem"}};
  Answer(200, {{"data", {{"a", "b"}}}});
  EXPECT_EQ(Pkictl({"read", "pki/ca"}).code, 0);
  EXPECT_EQ(shared.tls.ca_path, "/etc/ssl/certs");
  EXPECT_EQ(shared.tls.client_cert, "/env/c.pem");
  EXPECT_EQ(shared.tls.client_key, "/env/k.pem");
  // Flags win over the environment, in both spellings Go's flag package takes.
  Answer(200, {{"data", {{"a", "b"}}}});
  CliRun r = Pkictl({"read", "-ca-path", "/d", "--client-cert=/f/c.pem", "-client-key", "/f/k.pem", "pki/ca"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(shared.tls.ca_path, "/d");
  EXPECT_EQ(shared.tls.client_cert, "/f/c.pem");
  EXPECT_EQ(shared.tls.client_key, "/f/k.pem");
  // A certificate without its key is refused before anything is sent.
  extra_env = {{"VAULT_CLIENT_CERT", "/env/c.pem"}};
  const size_t sent = shared.sent.size();
  r = Pkictl({"read", "pki/ca"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Both a client certificate and a client key must be given"), std::string::npos) << r.err;
  EXPECT_EQ(shared.sent.size(), sent);
}

TEST_F(PkictlTest, UnexpectedAnswersAreErrorsNotCrashes) {
  for (const char* body : {"[1,2]", "\"x\"", R"({"lease_id":null,"data":{"a":1}})",
                           R"({"lease_id":"l","lease_duration":"5","data":5})"}) {
    shared.answers.push_back({200, body});
    CliRun r = Pkictl({"read", "pki/x"});
    EXPECT_TRUE(r.code == 0 || r.code == 2) << body << ": " << r.err;
  }
  shared.answers.push_back({200, std::string(200000, '[')});
  CliRun deep = Pkictl({"read", "pki/x"});
  EXPECT_EQ(deep.code, 2);
  shared.answers.push_back({200, R"({"sealed":"false"})"});
  EXPECT_EQ(Pkictl({"status"}).code, 2);  // not a boolean: treated as sealed, no abort
  shared.answers.push_back({200, R"({"data":{"pki/":{"type":null}}})"});
  EXPECT_EQ(Pkictl({"secrets", "list"}).code, 0);
}

TEST_F(PkictlTest, RequestsAreBuiltAsVaultBuildsThem) {
  Answer(204, Json());
  EXPECT_EQ(Pkictl({"delete", "secret/a#b c"}).code, 0);
  EXPECT_EQ(shared.sent.back().url, "http://127.0.0.1:8200/v1/secret/a%23b%20c");
  Answer(200, {{"data", {{"a", 1}}}});
  EXPECT_EQ(Pkictl({"read", "pki/x", "n=2", "flag=true"}).code, 0);
  EXPECT_EQ(shared.sent.back().url, "http://127.0.0.1:8200/v1/pki/x?flag=true&n=2");
  // Invalid UTF-8 (binary standard input) is sent with replacement characters, not an abort.
  stdin_text = "\xff";
  Answer(204, Json());
  EXPECT_EQ(Pkictl({"write", "pki/roles/web", "ou=-"}).code, 0);
  EXPECT_EQ(shared.sent.back().body, "{\"ou\":\"\xEF\xBF\xBD\"}");
  Answer(204, Json());
  EXPECT_EQ(Pkictl({"write", "-f", "pki/tidy"}).code, 0);
  EXPECT_EQ(shared.sent.back().body, "{}");
  EXPECT_EQ(Pkictl({"write", "pki/tidy"}).code, 1);  // no data and no -force
  // A redirect left unfollowed is not a success.
  Answer(307, Json());
  EXPECT_EQ(Pkictl({"write", "pki/roles/web", "a=b"}).code, 2);
  // -format=json prints nothing for an empty answer.
  Answer(204, Json());
  CliRun quiet = Pkictl({"write", "-format=json", "pki/roles/web", "a=b"});
  EXPECT_EQ(quiet.code, 0);
  EXPECT_EQ(quiet.out, "");
  // A token with a line break is refused before anything is sent.
  extra_env = {{"VAULT_TOKEN", "tok\nX-Injected: 1"}};
  const size_t sent = shared.sent.size();
  EXPECT_EQ(Pkictl({"read", "pki/x"}).code, 1);
  EXPECT_EQ(shared.sent.size(), sent);
  extra_env = {{"VAULT_SKIP_VERIFY", "maybe"}};
  EXPECT_EQ(Pkictl({"read", "pki/x"}).code, 1);
}

TEST_F(PkictlTest, StatusExitCodeFollowsTheSeal) {
  Answer(200, {{"type", "shamir"}, {"initialized", true}, {"sealed", false}, {"version", "1.15.0"}});
  CliRun up = Pkictl({"status"});
  EXPECT_EQ(up.code, 0);
  EXPECT_NE(up.out.find("Sealed          false"), std::string::npos) << up.out;
  Answer(200, {{"sealed", true}});
  EXPECT_EQ(Pkictl({"status"}).code, 2);
  EXPECT_EQ(Pkictl({"status"}).code, 1);  // the server cannot be asked: 1, as vault (2 means sealed)
}

}  // namespace
}  // namespace pki::cli
