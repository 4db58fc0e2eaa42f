package conformance

// TestPluginConformance: one plugin process taken through a Vault mount's whole life, step by step, in the order
// Vault does it: launch and handshake, Type/SpecialPaths, Setup with storage over the broker, Initialize,
// requests, Cleanup, shutdown. Each step is a subtest; a step marked critical stops the run when it fails because
// the later ones depend on it.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"pkiwire/logical"
	"pkiwire/pb"
)

// session carries what the steps learn from one another.
type session struct {
	h       *host
	root    *x509.Certificate
	rootPEM string
	leaf    *x509.Certificate
	signed  *x509.Certificate
	serials []string // every certificate the plugin issued, colon hex
}

type step struct {
	name     string
	critical bool
	run      func(*testing.T)
}

func TestPluginConformance(t *testing.T) {
	s := &session{h: launchForTest(t)}
	steps := []step{
		{"handshake", true, s.stepHandshake},
		{"handshake_certificate", false, s.stepHandshakeCertificate},
		{"health_ping", false, s.stepPing},
		{"type_before_setup", true, s.stepTypeBeforeSetup},
		{"special_paths_before_setup", false, s.stepSpecialPaths},
		{"setup_storage_host", true, s.stepSetup},
		{"type_and_special_paths_after_setup", false, s.stepTypeAfterSetup},
		{"initialize", true, s.stepInitialize},
		{"generate_root", true, s.stepGenerateRoot},
		{"write_role", true, s.stepWriteRole},
		{"issue", true, s.stepIssue},
		{"sign_csr", false, s.stepSign},
		{"issue_refused_by_role", false, s.stepRefusedByRole},
		{"read_unknown_path", false, s.stepUnknownPath},
		{"checkpoint_refused_on_host_storage", false, s.stepCheckpointOnHostStorage},
		{"unsupported_operation", false, s.stepUnsupportedOperation},
		{"read_missing_role", false, s.stepMissingRole},
		{"read_cert_ca_json", false, s.stepReadCertCA},
		{"read_ca_pem_raw", false, s.stepReadCAPem},
		{"read_ca_der_raw", false, s.stepReadCADer},
		{"read_issued_cert", false, s.stepReadIssued},
		{"list_roles_and_certs", false, s.stepList},
		{"lease_and_revocation", false, s.stepLease},
		{"concurrent_issue", false, s.stepConcurrentIssue},
		{"host_storage_contents", false, s.stepHostStorage},
		{"invalidate_key", false, s.stepInvalidateKey},
		{"mtls_refuses_foreign_clients", false, s.stepRefuseForeignClients},
		{"stdio_stream", false, s.stepStdio},
		{"plugin_version", false, s.stepPluginVersion},
		{"cleanup", false, s.stepCleanup},
		{"shutdown_ends_process", false, s.stepShutdown},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) && st.critical {
			t.Fatalf("step %q failed; the remaining steps depend on it", st.name)
		}
	}
}

// do sends a request and maps the reply as Vault would; transport and mapping problems fail the step.
func (s *session) do(t *testing.T, op, path string, data map[string]interface{}) (*vaultResult, *exchange) {
	t.Helper()
	ex, err := s.h.request(op, path, data)
	if err != nil {
		t.Fatalf("%v", err)
	}
	res, err := vaultOutcome(ex.operation, ex.reply)
	if err != nil {
		t.Fatalf("%s: %v", ex, err)
	}
	return res, ex
}

// expectStatus sends a request and fails unless Vault would answer one of the wanted statuses.
func (s *session) expectStatus(t *testing.T, op, path string, data map[string]interface{}, want ...int) (*vaultResult, *exchange) {
	t.Helper()
	res, ex := s.do(t, op, path, data)
	for _, w := range want {
		if res.status == w {
			return res, ex
		}
	}
	t.Fatalf("sent %s\nVault would answer HTTP %d (%q), want %v", ex, res.status, res.errorText, want)
	return nil, nil
}

func stringField(t *testing.T, res *vaultResult, ex *exchange, name string) string {
	t.Helper()
	v, ok := res.data[name].(string)
	if !ok || v == "" {
		t.Fatalf("sent %s\nresponse data has no non-empty string %q", ex, name)
	}
	return v
}

func (s *session) stepHandshake(t *testing.T) {
	if v := s.h.client.NegotiatedVersion(); v != appProtocolVersion {
		t.Fatalf("negotiated app protocol version %d, want %d", v, appProtocolVersion)
	}
	if p := s.h.client.Protocol(); p != plugin.ProtocolGRPC {
		t.Fatalf("protocol %q, want grpc", p)
	}
	rc := s.h.client.ReattachConfig()
	if rc == nil || rc.Addr == nil {
		t.Fatalf("no plugin address after the handshake")
	}
	if rc.Addr.Network() != "unix" {
		t.Errorf("plugin listens on %s %s; go-plugin plugins use a unix socket on Linux", rc.Addr.Network(), rc.Addr)
	}
	if s.h.config.TLSConfig == nil || s.h.config.TLSConfig.RootCAs == nil {
		t.Fatalf("the handshake line carried no server certificate (AutoMTLS was requested)")
	}
	t.Logf("plugin pid %d listening on %s %s", rc.Pid, rc.Addr.Network(), rc.Addr)
}

// The certificate from the handshake line, as seen in a TLS handshake with the host's own credentials.
func (s *session) stepHandshakeCertificate(t *testing.T) {
	addr := s.h.client.ReattachConfig().Addr
	raw, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer raw.Close()
	cfg := s.h.config.TLSConfig.Clone()
	cfg.NextProtos = []string{"h2"}
	conn := tls.Client(raw, cfg)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		t.Fatalf("TLS handshake with the host certificate, trusting the handshake-line certificate, server name localhost: %v", err)
	}
	st := conn.ConnectionState()
	cert := st.PeerCertificates[0]
	if !contains(cert.DNSNames, "localhost") {
		t.Errorf("plugin certificate DNS SANs %v lack \"localhost\" (go-plugin verifies that name)", cert.DNSNames)
	}
	if !hasExtKeyUsage(cert, x509.ExtKeyUsageServerAuth) || !hasExtKeyUsage(cert, x509.ExtKeyUsageClientAuth) {
		t.Errorf("plugin certificate extended key usages %v, want serverAuth and clientAuth", cert.ExtKeyUsage)
	}
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN negotiated %q, want \"h2\" (newer grpc-go hosts require it)", st.NegotiatedProtocol)
	}
	if st.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x, want 1.2 or later", st.Version)
	}
}

func (s *session) stepPing(t *testing.T) {
	if err := s.h.rpc.Ping(); err != nil {
		t.Fatalf("go-plugin Ping (grpc.health.v1 Check for service \"plugin\"): %v", err)
	}
}

func (s *session) checkType(t *testing.T) {
	t.Helper()
	ctx, cancel := s.h.ctx(10 * time.Second)
	defer cancel()
	reply, err := s.h.backend.Type(ctx, &pb.Empty{})
	if err != nil {
		t.Fatalf("Type: %v", err)
	}
	if reply.Type != 1 {
		t.Fatalf("Type = %d, want 1 (logical.TypeLogical: a secrets engine)", reply.Type)
	}
}

func (s *session) stepTypeBeforeSetup(t *testing.T) { s.checkType(t) }

// Vault's special path patterns: exact, a trailing '*' for a prefix, '+' for one path segment.
func matchesSpecialPath(pattern, path string) bool {
	prefix := strings.HasSuffix(pattern, "*")
	pattern = strings.TrimSuffix(pattern, "*")
	ps := strings.Split(pattern, "/")
	xs := strings.Split(path, "/")
	if len(xs) < len(ps) || (!prefix && len(xs) != len(ps)) {
		return false
	}
	for i, p := range ps {
		last := i == len(ps)-1
		switch {
		case p == "+":
			if xs[i] == "" {
				return false
			}
		case prefix && last:
			if !strings.HasPrefix(xs[i], p) {
				return false
			}
		case p != xs[i]:
			return false
		}
	}
	return true
}

func matchesAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if matchesSpecialPath(p, path) {
			return true
		}
	}
	return false
}

func (s *session) checkSpecialPaths(t *testing.T) {
	t.Helper()
	ctx, cancel := s.h.ctx(10 * time.Second)
	defer cancel()
	reply, err := s.h.backend.SpecialPaths(ctx, &pb.Empty{})
	if err != nil {
		t.Fatalf("SpecialPaths: %v", err)
	}
	if reply.Paths == nil {
		t.Fatalf("SpecialPaths answered no paths")
	}
	unauth := reply.Paths.Unauthenticated
	serial := "3a:f1:00:11"
	for _, p := range []string{"ca", "ca/pem", "ca_chain", "cert/ca", "cert/ca_chain", "cert/" + serial,
		"cert/" + serial + "/raw", "cert/" + serial + "/raw/pem"} {
		if !matchesAny(unauth, p) {
			t.Errorf("unauthenticated paths %q do not cover %q (Vault's PKI serves it without a token)", unauth, p)
		}
	}
	for _, p := range []string{"issue/web", "sign/web", "roles/web", "root/generate/internal", "certs/"} {
		if matchesAny(unauth, p) {
			t.Errorf("unauthenticated paths %q cover %q, which must need a token", unauth, p)
		}
	}
	// The plugin's backup path writes files on the node: Vault must require sudo for it.
	if !matchesAny(reply.Paths.Root, "storage/checkpoint") {
		t.Errorf("root paths %q do not cover storage/checkpoint", reply.Paths.Root)
	}
	t.Logf("unauthenticated=%q seal_wrap_storage=%q root=%q", unauth, reply.Paths.SealWrapStorage, reply.Paths.Root)
}

func (s *session) stepSpecialPaths(t *testing.T) { s.checkSpecialPaths(t) }

func (s *session) stepSetup(t *testing.T) {
	config := map[string]string{"storage": "host", "plugin_name": "pki-plugin", "plugin_type": "secret"}
	reply, err := s.h.setup(config, newUUID())
	if err != nil {
		t.Fatalf("Setup %v: gRPC error %v", config, err)
	}
	if reply.Err != "" {
		t.Fatalf("Setup %v: SetupReply.err = %q, want \"\"", config, reply.Err)
	}
	if n := s.h.storage.totalCalls(); n != 0 {
		t.Errorf("the plugin used storage %d times during Setup (%v); Vault's probes give it none there",
			n, s.h.storage.callCount())
	}
}

func (s *session) stepTypeAfterSetup(t *testing.T) {
	s.checkType(t)
	s.checkSpecialPaths(t)
}

func (s *session) stepInitialize(t *testing.T) {
	ctx, cancel := s.h.ctx(30 * time.Second)
	defer cancel()
	reply, err := s.h.backend.Initialize(ctx, &pb.InitializeArgs{})
	if err != nil {
		t.Fatalf("Initialize: gRPC error %v", err)
	}
	if reply.Err != nil {
		t.Fatalf("Initialize: %s", describeError(reply.Err))
	}
}

func (s *session) stepGenerateRoot(t *testing.T) {
	res, ex := s.expectStatus(t, "update", "root/generate/internal",
		map[string]interface{}{"common_name": "Conformance Root", "ttl": "87600h"}, http.StatusOK)
	s.rootPEM = strings.TrimSpace(stringField(t, res, ex, "certificate"))
	root, err := parseCertPEM(s.rootPEM)
	if err != nil {
		t.Fatalf("root certificate: %v", err)
	}
	s.root = root
	s.serials = append(s.serials, serialColonHex(root.SerialNumber))
	if !root.IsCA || root.Subject.CommonName != "Conformance Root" {
		t.Errorf("root: IsCA=%v CN=%q, want a CA named \"Conformance Root\"", root.IsCA, root.Subject.CommonName)
	}
	if got := stringField(t, res, ex, "serial_number"); got != serialColonHex(root.SerialNumber) {
		t.Errorf("serial_number %q, certificate serial %q", got, serialColonHex(root.SerialNumber))
	}
	// The mount's MaxLeaseTTL (768h, sent in nanoseconds over SystemView) caps the requested 87600h.
	want := time.Now().Add(mountMaxTTL)
	if d := root.NotAfter.Sub(want); d < -10*time.Minute || d > 10*time.Minute {
		t.Errorf("root notAfter %v, want about now+%v: the host's MaxLeaseTTL (%d ns) must cap ttl=87600h",
			root.NotAfter, mountMaxTTL, int64(mountMaxTTL))
	}
	if s.h.system.callCount("MaxLeaseTTL") == 0 {
		t.Errorf("the plugin never asked the host's SystemView for MaxLeaseTTL")
	}
	t.Logf("root serial %s, notAfter %v, warnings %q", serialColonHex(root.SerialNumber), root.NotAfter, res.warnings)
}

func (s *session) stepWriteRole(t *testing.T) {
	s.expectStatus(t, "update", "roles/web", map[string]interface{}{
		"allowed_domains":  "example.com",
		"allow_subdomains": true,
		"max_ttl":          "72h",
	}, http.StatusOK, http.StatusNoContent)
}

func (s *session) stepIssue(t *testing.T) {
	res, ex := s.expectStatus(t, "update", "issue/web",
		map[string]interface{}{"common_name": "a.example.com", "ttl": "1h"}, http.StatusOK)
	leaf, err := parseCertPEM(stringField(t, res, ex, "certificate"))
	if err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	s.leaf = leaf
	s.serials = append(s.serials, serialColonHex(leaf.SerialNumber))
	if err := verifyChain(leaf, s.root, "a.example.com"); err != nil {
		t.Errorf("issued certificate does not verify against the root for a.example.com: %v", err)
	}
	key, err := parsePrivateKeyPEM(stringField(t, res, ex, "private_key"))
	if err != nil {
		t.Errorf("private_key: %v", err)
	} else if !samePublicKey(key.Public(), leaf.PublicKey) {
		t.Errorf("private_key does not match the certificate's public key")
	}
	if got := stringField(t, res, ex, "serial_number"); got != serialColonHex(leaf.SerialNumber) {
		t.Errorf("serial_number %q, certificate serial %q", got, serialColonHex(leaf.SerialNumber))
	}
	if got := strings.TrimSpace(stringField(t, res, ex, "issuing_ca")); got != s.rootPEM {
		t.Errorf("issuing_ca is not the root certificate")
	}
	if d := time.Until(leaf.NotAfter); d < 50*time.Minute || d > 70*time.Minute {
		t.Errorf("leaf notAfter %v, want about now+1h (ttl=1h)", leaf.NotAfter)
	}
}

func (s *session) stepSign(t *testing.T) {
	csr, key, err := newCSR("b.example.com")
	if err != nil {
		t.Fatalf("make CSR: %v", err)
	}
	res, ex := s.expectStatus(t, "update", "sign/web",
		map[string]interface{}{"csr": csr, "ttl": "1h"}, http.StatusOK)
	cert, err := parseCertPEM(stringField(t, res, ex, "certificate"))
	if err != nil {
		t.Fatalf("signed certificate: %v", err)
	}
	s.signed = cert
	s.serials = append(s.serials, serialColonHex(cert.SerialNumber))
	if !samePublicKey(&key.PublicKey, cert.PublicKey) {
		t.Errorf("signed certificate does not carry the CSR's public key")
	}
	if err := verifyChain(cert, s.root, "b.example.com"); err != nil {
		t.Errorf("signed certificate does not verify against the root for b.example.com: %v", err)
	}
}

func (s *session) stepRefusedByRole(t *testing.T) {
	before := len(s.h.storage.keysUnder("certs/"))
	res, ex := s.expectStatus(t, "update", "issue/web",
		map[string]interface{}{"common_name": "evil.org", "ttl": "1h"}, http.StatusBadRequest)
	if ex.reply.Response == nil {
		t.Errorf("sent %s\nwant an error response (data {\"error\": ...}), as Vault's PKI answers a role refusal", ex)
	}
	if res.errorText == "" {
		t.Errorf("sent %s\nthe 400 carries no error text", ex)
	}
	if e := ex.reply.Err; e != nil && e.ErrType != errTypeInvalidRequest && e.ErrType != errTypeStatusBadRequest {
		t.Errorf("sent %s\nerror type %d alongside the error response; want none, 4 or 7", ex, e.ErrType)
	}
	if after := len(s.h.storage.keysUnder("certs/")); after != before {
		t.Errorf("a refused request stored a certificate (%d -> %d keys under certs/)", before, after)
	}
	t.Logf("refusal: %q", res.errorText)
}

// plugin/wire.cc answers paths the engine does not serve with ProtoError UnsupportedPath (6): Vault's 404.
func (s *session) stepUnknownPath(t *testing.T) {
	_, ex := s.expectStatus(t, "read", "no/such/path", nil, http.StatusNotFound)
	if ex.reply.Response != nil || ex.reply.Err == nil || ex.reply.Err.ErrType != errTypeUnsupportedPath {
		t.Errorf("sent %s\nwant no response and ProtoError err_type %d (UnsupportedPath)", ex, errTypeUnsupportedPath)
	}
}

// storage/checkpoint copies a storage=rocksdb mount's database; on the host's storage it is Vault's 400, and
// nothing is written.
func (s *session) stepCheckpointOnHostStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checkpoint")
	res, _ := s.expectStatus(t, "update", "storage/checkpoint", map[string]interface{}{"path": dir},
		http.StatusBadRequest)
	if !strings.Contains(res.errorText, "storage=host") {
		t.Errorf("error %q does not say the mount uses the host's storage", res.errorText)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s exists after a refused checkpoint (stat: %v)", dir, err)
	}
}

// An operation a known path does not serve is ProtoError UnsupportedOperation (5): Vault's 405.
func (s *session) stepUnsupportedOperation(t *testing.T) {
	_, ex := s.expectStatus(t, "delete", "ca", nil, http.StatusMethodNotAllowed)
	if ex.reply.Err == nil || ex.reply.Err.ErrType != errTypeUnsupportedOperation {
		t.Errorf("sent %s\nwant ProtoError err_type %d (UnsupportedOperation)", ex, errTypeUnsupportedOperation)
	}
}

func (s *session) stepMissingRole(t *testing.T) {
	_, ex := s.expectStatus(t, "read", "roles/missing", nil, http.StatusNotFound)
	t.Logf("%s", ex)
}

func (s *session) stepReadCertCA(t *testing.T) {
	res, ex := s.expectStatus(t, "read", "cert/ca", nil, http.StatusOK)
	if got := strings.TrimSpace(stringField(t, res, ex, "certificate")); got != s.rootPEM {
		t.Errorf("cert/ca certificate is not the root:\n%s", got)
	}
}

func (s *session) stepReadCAPem(t *testing.T) {
	res, ex := s.expectStatus(t, "read", "ca/pem", nil, http.StatusOK)
	if res.rawBody == nil {
		t.Fatalf("sent %s\nwant a raw response (http_status_code, http_content_type, http_raw_body)", ex)
	}
	if res.contentType != "application/pem-certificate-chain" {
		t.Errorf("ca/pem content type %q, want application/pem-certificate-chain", res.contentType)
	}
	block, _ := pem.Decode(res.rawBody)
	if block == nil || string(block.Bytes) != string(s.root.Raw) {
		t.Errorf("ca/pem body is not the root certificate PEM: %.120q", res.rawBody)
	}
}

func (s *session) stepReadCADer(t *testing.T) {
	res, ex := s.expectStatus(t, "read", "ca", nil, http.StatusOK)
	if res.rawBody == nil {
		t.Fatalf("sent %s\nwant a raw response", ex)
	}
	if res.contentType != "application/pkix-cert" {
		t.Errorf("ca content type %q, want application/pkix-cert", res.contentType)
	}
	if string(res.rawBody) != string(s.root.Raw) {
		t.Errorf("ca body (%d bytes) is not the root certificate DER (%d bytes)", len(res.rawBody), len(s.root.Raw))
	}
}

func (s *session) stepReadIssued(t *testing.T) {
	serial := serialColonHex(s.leaf.SerialNumber)
	res, ex := s.expectStatus(t, "read", "cert/"+serial, nil, http.StatusOK)
	cert, err := parseCertPEM(stringField(t, res, ex, "certificate"))
	if err != nil || string(cert.Raw) != string(s.leaf.Raw) {
		t.Errorf("cert/%s is not the issued certificate (parse error: %v)", serial, err)
	}
	dashed := strings.ReplaceAll(serial, ":", "-")
	res, ex = s.expectStatus(t, "read", "cert/"+dashed+"/raw", nil, http.StatusOK)
	if string(res.rawBody) != string(s.leaf.Raw) {
		t.Errorf("sent %s\nraw body is not the issued certificate DER", ex)
	}
}

// stepLease: a generate_lease role answers with a pb.Secret Vault's expiration manager can hold, and the "revoke"
// Vault sends when the lease ends revokes the certificate.
func (s *session) stepLease(t *testing.T) {
	s.expectStatus(t, "update", "roles/leased", map[string]interface{}{
		"allowed_domains": "example.com", "allow_subdomains": true, "generate_lease": true,
	}, http.StatusOK, http.StatusNoContent)
	res, ex := s.expectStatus(t, "update", "issue/leased",
		map[string]interface{}{"common_name": "lease.example.com", "ttl": "1h"}, http.StatusOK)
	serial := stringField(t, res, ex, "serial_number")
	secret := ex.reply.Response.Secret
	if secret == nil || secret.LeaseOptions == nil {
		t.Fatalf("sent %s\nno secret with lease options in the response", ex)
	}
	if ttl := time.Duration(secret.LeaseOptions.TTL); ttl < 50*time.Minute || ttl > 70*time.Minute {
		t.Errorf("lease TTL %v, want about 1h (the certificate's validity, in nanoseconds)", ttl)
	}
	if secret.LeaseOptions.IssueTime == nil {
		t.Errorf("lease options carry no issue_time: Vault's host fails to convert a nil timestamp")
	}
	var internal map[string]interface{}
	if err := json.Unmarshal([]byte(secret.InternalData), &internal); err != nil {
		t.Fatalf("secret internal_data %q is not JSON: %v", secret.InternalData, err)
	}
	if internal["secret_type"] != "pki" || internal["serial_number"] != serial {
		t.Fatalf("secret internal_data %v, want secret_type pki and serial_number %s", internal, serial)
	}
	if res, _ := s.do(t, "read", "cert/"+serial, nil); fmt.Sprint(res.data["revocation_time"]) != "0" {
		t.Fatalf("certificate revoked before its lease was: %v", res.data["revocation_time"])
	}

	// Vault's expiration manager: the original path and data, operation "revoke", the secret as it was issued.
	ctx, cancel := s.h.ctx(30 * time.Second)
	defer cancel()
	reply, err := s.h.backend.HandleRequest(ctx, &pb.HandleRequestArgs{Request: &pb.Request{
		Id: newUUID(), Operation: "revoke", Path: "issue/leased", Data: ex.sent, Secret: secret, MountPoint: mountPoint,
	}})
	if err != nil {
		t.Fatalf("revoke: gRPC error %v", err)
	}
	if reply.Err != nil {
		t.Fatalf("revoke: error %s", describeError(reply.Err))
	}
	res, ex = s.expectStatus(t, "read", "cert/"+serial, nil, http.StatusOK)
	if rt := fmt.Sprint(res.data["revocation_time"]); rt == "0" || rt == "<nil>" {
		t.Errorf("sent %s\nrevocation_time %v after the lease was revoked, want a time", ex, res.data["revocation_time"])
	}
}

func listKeys(t *testing.T, res *vaultResult, ex *exchange) []string {
	t.Helper()
	raw, ok := res.data["keys"].([]interface{})
	if !ok {
		t.Fatalf("sent %s\nresponse data has no \"keys\" array", ex)
	}
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		keys = append(keys, fmt.Sprint(k))
	}
	return keys
}

func (s *session) stepList(t *testing.T) {
	res, ex := s.expectStatus(t, "list", "roles", nil, http.StatusOK)
	if keys := listKeys(t, res, ex); len(keys) != 1 || keys[0] != "web" {
		t.Errorf("LIST roles keys %q, want [\"web\"]", keys)
	}
	res, ex = s.expectStatus(t, "list", "certs", nil, http.StatusOK)
	keys := listKeys(t, res, ex)
	for _, serial := range s.serials {
		if !contains(keys, serial) {
			t.Errorf("LIST certs keys %q lack %s", keys, serial)
		}
	}
}

// Vault sends requests concurrently; every one must go through the one brokered storage connection.
func (s *session) stepConcurrentIssue(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	results := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := fmt.Sprintf("c%d.example.com", i)
			ex, err := s.h.request("update", "issue/web", map[string]interface{}{"common_name": cn, "ttl": "1h"})
			if err != nil {
				errs[i] = err
				return
			}
			res, err := vaultOutcome(ex.operation, ex.reply)
			if err != nil || res.status != http.StatusOK {
				errs[i] = fmt.Errorf("sent %s (mapping error %v)", ex, err)
				return
			}
			results[i], _ = res.data["serial_number"].(string)
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Errorf("concurrent issue %d: %v", i, errs[i])
			continue
		}
		if results[i] == "" || seen[results[i]] {
			t.Errorf("concurrent issue %d: serial %q missing or repeated", i, results[i])
		}
		seen[results[i]] = true
		s.serials = append(s.serials, results[i])
	}
}

// The engine's logical key layout (docs/design.md), kept in the host's storage for storage=host.
func (s *session) stepHostStorage(t *testing.T) {
	st := s.h.storage
	for _, prefix := range []string{"issuer/", "key/"} {
		if len(st.keysUnder(prefix)) == 0 {
			t.Errorf("host storage has no key under %q; keys: %q", prefix, st.keys())
		}
	}
	for _, key := range []string{"roles/web", "config/issuers"} {
		if !contains(st.keys(), key) {
			t.Errorf("host storage lacks %q; keys: %q", key, st.keys())
		}
	}
	for _, serial := range s.serials {
		key := "certs/" + strings.ReplaceAll(serial, ":", "-")
		if !contains(st.keys(), key) {
			t.Errorf("host storage lacks %q; under certs/: %q", key, st.keysUnder("certs/"))
		}
	}
	t.Logf("host storage: %d keys, calls %v; SystemView DefaultLeaseTTL x%d MaxLeaseTTL x%d",
		len(st.keys()), st.callCount(), s.h.system.callCount("DefaultLeaseTTL"), s.h.system.callCount("MaxLeaseTTL"))
}

func (s *session) stepInvalidateKey(t *testing.T) {
	ctx, cancel := s.h.ctx(10 * time.Second)
	defer cancel()
	if _, err := s.h.backend.InvalidateKey(ctx, &pb.InvalidateKeyArgs{Key: "roles/web"}); err != nil {
		t.Fatalf("InvalidateKey roles/web: %v", err)
	}
	s.expectStatus(t, "read", "roles/web", nil, http.StatusOK)
}

// dialPlugin opens a gRPC connection to the plugin's socket with the given transport security.
func dialPlugin(addr net.Addr, security grpc.DialOption) (*grpc.ClientConn, error) {
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, addr.Network(), addr.String())
	}
	return grpc.Dial("unused", security, grpc.WithContextDialer(dialer))
}

// typeOver calls Backend.Type over a fresh connection.
func typeOver(addr net.Addr, security grpc.DialOption) error {
	conn, err := dialPlugin(addr, security)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pb.NewBackendClient(conn).Type(ctx, &pb.Empty{})
	return err
}

// Only the host that launched the plugin (the holder of the certificate in PLUGIN_CLIENT_CERT) gets in.
func (s *session) stepRefuseForeignClients(t *testing.T) {
	addr := s.h.client.ReattachConfig().Addr
	pluginCA := s.h.config.TLSConfig.RootCAs
	foreign, err := foreignTLSCertificate()
	if err != nil {
		t.Fatalf("make a foreign certificate: %v", err)
	}
	refused := []struct {
		name     string
		security grpc.DialOption
	}{
		{"no client certificate", grpc.WithTransportCredentials(credentials.NewTLS(
			&tls.Config{RootCAs: pluginCA, ServerName: "localhost"}))},
		{"a self-signed client certificate the plugin was not given", grpc.WithTransportCredentials(credentials.NewTLS(
			&tls.Config{RootCAs: pluginCA, ServerName: "localhost", Certificates: []tls.Certificate{foreign}}))},
		{"plaintext", grpc.WithInsecure()},
	}
	for _, c := range refused {
		if err := typeOver(addr, c.security); err == nil {
			t.Errorf("a client with %s called Backend.Type successfully; the plugin must refuse it", c.name)
		} else {
			t.Logf("refused (%s): %v", c.name, status.Convert(err).Message())
		}
	}
	// Control: the host's own credentials on a new connection work, so the refusals above are about the client.
	if err := typeOver(addr, grpc.WithTransportCredentials(credentials.NewTLS(s.h.config.TLSConfig.Clone()))); err != nil {
		t.Errorf("a second connection with the host's certificate failed: %v", err)
	}
}

// go-plugin 1.1+ hosts (Vault) open GRPCStdio/StreamStdio once connected. The stream may stay open with nothing on
// it, end, or be Unimplemented; it must not disturb the connection.
func (s *session) stepStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stream, err := s.h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/plugin.GRPCStdio/StreamStdio")
	if err == nil {
		err = stream.SendMsg(&emptypb.Empty{})
	}
	if err == nil {
		err = stream.CloseSend()
	}
	if err == nil {
		err = stream.RecvMsg(&emptypb.Empty{})
	}
	switch code := status.Code(err); {
	case err == nil, err == io.EOF, code == codes.DeadlineExceeded, code == codes.Unimplemented:
		t.Logf("StreamStdio: %v", err)
	default:
		t.Errorf("StreamStdio: %v", err)
	}
	if err := s.h.rpc.Ping(); err != nil {
		t.Errorf("Ping after StreamStdio: %v", err)
	}
}

var semverRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// logical.PluginVersion is optional; when served, Vault requires a semantic version (or "").
func (s *session) stepPluginVersion(t *testing.T) {
	ctx, cancel := s.h.ctx(10 * time.Second)
	defer cancel()
	reply, err := logical.NewPluginVersionClient(s.h.conn).Version(ctx, &logical.Empty{})
	if status.Code(err) == codes.Unimplemented {
		t.Logf("PluginVersion not served (Vault then registers no version)")
		return
	}
	if err != nil {
		t.Fatalf("PluginVersion: %v", err)
	}
	if v := reply.PluginVersion; v != "" && !semverRE.MatchString(v) {
		t.Errorf("plugin version %q is not a semantic version; Vault refuses to register it", v)
	}
	t.Logf("plugin version %q", reply.PluginVersion)
}

func (s *session) stepCleanup(t *testing.T) {
	ctx, cancel := s.h.ctx(30 * time.Second)
	defer cancel()
	if _, err := s.h.backend.Cleanup(ctx, &pb.Empty{}); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
}

// client.Kill is what Vault does when it closes a plugin: broker close, GRPCController.Shutdown, then 2 s for the
// process to exit before it SIGKILLs it.
func (s *session) stepShutdown(t *testing.T) {
	pid := s.h.client.ReattachConfig().Pid
	start := time.Now()
	s.h.client.Kill()
	elapsed := time.Since(start)
	ps := s.h.config.Cmd.ProcessState
	if ps == nil {
		t.Fatalf("go-plugin returned from Kill without having reaped the plugin")
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Errorf("the plugin did not exit after GRPCController.Shutdown: go-plugin killed it with %v after %v",
			ws.Signal(), elapsed.Round(time.Millisecond))
	} else if elapsed >= 2*time.Second {
		t.Errorf("Kill took %v: the plugin should exit promptly after GRPCController.Shutdown", elapsed)
	}
	if err := waitGone(pid, 5*time.Second); err != nil {
		t.Errorf("%v", err)
	}
	t.Logf("plugin exited (%v) %v after Kill", ps, elapsed.Round(time.Millisecond))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
