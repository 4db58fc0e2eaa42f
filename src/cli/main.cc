// pkictl: see src/cli/pkictl.h.
#include <unistd.h>

#include <iostream>

#include "src/cli/pkictl.h"

extern char** environ;

int main(int argc, char** argv) {
  pki::cli::CliEnvironment env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  env.input = pki::cli::DefaultInputSources();
  env.transport = [](const pki::cli::TlsOptions& tls) { return pki::cli::NewCurlTransport(tls); };
  env.out = &std::cout;
  env.err = &std::cerr;
  env.out_is_terminal = isatty(STDOUT_FILENO) != 0;
  return pki::cli::RunPkictl(std::vector<std::string>(argv + 1, argv + argc), env);
}
