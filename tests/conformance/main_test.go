// Package conformance drives build/bin/pki-plugin from HashiCorp's own go-plugin library, configured as Vault
// configures it for a version 5 secrets plugin, and checks every step of the plugin protocol a host relies on.
//
// Run through run.sh (it generates the Go code for proto/ and builds this package in GOPATH mode):
//
//	tests/conformance/run.sh <source dir> <build dir> <bin dir>
//
// or, once built, directly: conformance.test -test.v -plugin=/path/to/pki-plugin
package conformance

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The handshake facts of a Vault version 5 backend plugin (Vault's sdk/plugin HandshakeConfig).
const (
	magicCookieKey     = "VAULT_BACKEND_PLUGIN"
	magicCookieValue   = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
	appProtocolVersion = 5
	mountPoint         = "pki/"
)

// hostChildEnv makes the test binary act as a bare plugin host (see runHostChild): TestPluginExitsWhenHostDies
// kills such a host with SIGKILL and watches its plugin.
const hostChildEnv = "PKI_CONFORMANCE_HOST_CHILD"

var pluginPath = flag.String("plugin", "", "path of the pki-plugin binary under test")

func TestMain(m *testing.M) {
	flag.Parse()
	if *pluginPath == "" {
		fmt.Fprintln(os.Stderr, "FAIL: -plugin=PATH (the pki-plugin binary) is required")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*pluginPath)
	if err == nil {
		*pluginPath = abs
	}
	if _, err := os.Stat(*pluginPath); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: plugin binary: %v\n", err)
		os.Exit(2)
	}
	if os.Getenv(hostChildEnv) != "" {
		os.Exit(runHostChild())
	}
	os.Exit(m.Run())
}
