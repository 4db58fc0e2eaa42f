#!/usr/bin/env bash
# Conformance of pki-plugin against HashiCorp's go-plugin as the host (what Vault runs).
#
#   tests/conformance/run.sh <source dir> <build dir> <bin dir> [go test flags, e.g. -test.run=TestRegistrationProbe]
#
# Generates Go code for proto/backend.proto and proto/logical_*.proto into <build dir>/conformance/gopath, builds
# this directory's test package there in GOPATH mode (offline: Debian's golang-* packages in /usr/share/gocode),
# and runs it against <bin dir>/pki-plugin. Nothing is written to the source tree or to $HOME.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 <source dir> <build dir> <bin dir> [test flags...]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
build=$(mkdir -p "$2" && cd "$2" && pwd)
bin=$3
shift 3

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

for tool in go protoc protoc-gen-go protoc-gen-go-grpc; do
  command -v "$tool" >/dev/null || fail "$tool not found on PATH (scripts/deps installs it)"
done
[[ -d /usr/share/gocode/src/github.com/hashicorp/go-plugin ]] ||
  fail "go-plugin sources missing in /usr/share/gocode (scripts/deps installs golang-github-hashicorp-go-plugin-dev)"
plugin="$bin/pki-plugin"
[[ -x "$plugin" ]] || fail "$plugin not built"

work="$build/conformance"
gopath="$work/gopath"
export GO111MODULE=off GOFLAGS= GOENV=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$work/go-cache"
export GOTMPDIR="$work/tmp"
mkdir -p "$GOCACHE" "$GOTMPDIR"

# Only backend.proto and the logical_* files: go-plugin registers its own plugin.* messages and grpc-go its own
# grpc.health.v1, and the Go protobuf registry refuses a second registration. Our protos carry no go_package.
rm -rf "$gopath/src/pkiwire"
mkdir -p "$gopath/src"
protos=(backend.proto logical_identity.proto logical_plugin.proto logical_version.proto)
mapping=""
for p in "${protos[@]}"; do
  case $p in
    backend.proto) pkg=pkiwire/pb ;;
    *) pkg=pkiwire/logical ;;
  esac
  mapping+="${mapping:+,}M$p=$pkg"
done
protoc -I "$src/proto" -I /usr/include \
  --go_out="$gopath/src" --go_opt="$mapping" \
  --go-grpc_out="$gopath/src" --go-grpc_opt="$mapping" \
  "${protos[@]/#/$src/proto/}"

# The test package lives in the source tree; build it by directory (GOPATH mode allows packages outside GOPATH).
(cd "$src/tests/conformance" && go vet . && go test -c -o "$work/conformance.test" .)

echo "conformance: host = go-plugin $(dpkg-query -W -f='${Version}' golang-github-hashicorp-go-plugin-dev 2>/dev/null || echo '?')," \
  "grpc-go $(dpkg-query -W -f='${Version}' golang-google-grpc-dev 2>/dev/null || echo '?'), $(go version)"
exec "$work/conformance.test" -test.v -test.timeout=240s -plugin="$plugin" "$@"
