package conformance

// The host: HashiCorp's go-plugin client configured as Vault configures it for a version 5 backend plugin
// (handshake cookie, protocol version 5, gRPC only, AutoMTLS), and the Vault-side calls around it (Setup over the
// broker, the existence check before writes, the multiplex_id metadata on every call).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"pkiwire/pb"
)

// Vault's defaults for a mount's lease TTLs (768h), sent to the plugin in nanoseconds.
const (
	mountDefaultTTL = 768 * time.Hour
	mountMaxTTL     = 768 * time.Hour
)

// backendPlugin is the host half of Vault's "backend" plugin: Dispense hands back the Backend client together
// with the broker the host serves its storage through.
type backendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

type dispensedBackend struct {
	client pb.BackendClient
	broker *plugin.GRPCBroker
	conn   *grpc.ClientConn
}

func (backendPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("this is a host: it does not serve the backend")
}

func (backendPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return &dispensedBackend{client: pb.NewBackendClient(conn), broker: broker, conn: conn}, nil
}

// syncBuffer collects the host's log (which includes the plugin's stderr, line by line).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// host is one launched plugin process and the Vault-like state around it.
type host struct {
	config  *plugin.ClientConfig
	client  *plugin.Client
	rpc     *plugin.GRPCClient
	backend pb.BackendClient
	broker  *plugin.GRPCBroker
	conn    *grpc.ClientConn
	log     *syncBuffer

	storage *memStorage
	system  *systemView
	// Vault tags every Backend call with a multiplex_id; a plugin that is not multiplexed ignores it.
	multiplexID string
}

func newClientConfig(pluginPath, workDir string, log *syncBuffer) *plugin.ClientConfig {
	cmd := exec.Command(pluginPath)
	cmd.Dir = workDir
	return &plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  appProtocolVersion,
			MagicCookieKey:   magicCookieKey,
			MagicCookieValue: magicCookieValue,
		},
		VersionedPlugins: map[int]plugin.PluginSet{appProtocolVersion: {"backend": backendPlugin{}}},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Cmd:              cmd,
		StartTimeout:     30 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   "host",
			Level:  hclog.Trace,
			Output: log,
		}),
	}
}

// launch starts the plugin and dispenses "backend", as Vault's NewBackendV5 does.
func launch(pluginPath, workDir string) (*host, error) {
	h := &host{
		log:         &syncBuffer{},
		storage:     newMemStorage(),
		system:      newSystemView(mountDefaultTTL, mountMaxTTL),
		multiplexID: randomHex(5),
	}
	h.config = newClientConfig(pluginPath, workDir, h.log)
	h.client = plugin.NewClient(h.config)
	rpcClient, err := h.client.Client()
	if err != nil {
		h.client.Kill()
		return nil, fmt.Errorf("go-plugin could not connect to the plugin: %w", err)
	}
	grpcClient, ok := rpcClient.(*plugin.GRPCClient)
	if !ok {
		h.client.Kill()
		return nil, fmt.Errorf("go-plugin negotiated %T, want *plugin.GRPCClient (protocol grpc)", rpcClient)
	}
	h.rpc = grpcClient
	raw, err := grpcClient.Dispense("backend")
	if err != nil {
		h.client.Kill()
		return nil, fmt.Errorf("dispense \"backend\": %w", err)
	}
	d := raw.(*dispensedBackend)
	h.backend, h.broker, h.conn = d.client, d.broker, d.conn
	return h, nil
}

// launchForTest launches the plugin, kills it when the test ends, and prints the host log when the test failed.
func launchForTest(t *testing.T) *host {
	t.Helper()
	h, err := launch(*pluginPath, t.TempDir())
	if err != nil {
		t.Fatalf("launch %s: %v", *pluginPath, err)
	}
	t.Cleanup(func() {
		h.client.Kill()
		if t.Failed() {
			t.Logf("host log (go-plugin client and the plugin's stderr):\n%s", h.log.String())
		}
	})
	return h
}

// ctx is a call context as Vault builds it: a deadline and the multiplex_id metadata.
func (h *host) ctx(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return metadata.AppendToOutgoingContext(ctx, "multiplex_id", h.multiplexID), cancel
}

// serveHostServices is the broker server Vault's backend client starts in Setup: Storage and SystemView.
func (h *host) serveHostServices(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32))
	s := grpc.NewServer(opts...)
	pb.RegisterStorageServer(s, h.storage)
	pb.RegisterSystemViewServer(s, h.system)
	return s
}

// setup does what Vault's backend client does in Setup: a fresh broker id, the host services served on it, then
// the Setup call naming that id.
func (h *host) setup(config map[string]string, backendUUID string) (*pb.SetupReply, error) {
	id := h.broker.NextId()
	go h.broker.AcceptAndServe(id, h.serveHostServices)
	ctx, cancel := h.ctx(30 * time.Second)
	defer cancel()
	return h.backend.Setup(ctx, &pb.SetupArgs{BrokerId: id, Config: config, BackendUUID: backendUUID})
}

// exchange is one logical request as Vault sends it, and what came back.
type exchange struct {
	operation string // as finally sent (an "update" may become "create" after the existence check)
	path      string
	sent      string // the request data JSON
	reply     *pb.HandleRequestReply
	existence *pb.HandleExistenceCheckReply // for create/update
}

func (e *exchange) String() string {
	return fmt.Sprintf("%s %s data=%s -> %s", e.operation, e.path, e.sent, describeReply(e.reply))
}

// request sends a logical request the way Vault's router does: writes first go through HandleExistenceCheck,
// which may turn "update" into "create"; list paths end with "/".
func (h *host) request(op, path string, data map[string]interface{}) (*exchange, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	if op == "list" && !strings.HasSuffix(path, "/") {
		path += "/"
	}
	ex := &exchange{operation: op, path: path, sent: string(body)}
	req := &pb.Request{
		Id:          newUUID(),
		Operation:   op,
		Path:        path,
		Data:        string(body),
		ClientToken: "conformance-token",
		DisplayName: "token",
		MountPoint:  mountPoint,
		MountType:   "pki-plugin",
		Connection:  &pb.Connection{RemoteAddr: "127.0.0.1"},
	}
	ctx, cancel := h.ctx(60 * time.Second)
	defer cancel()
	if op == "update" || op == "create" {
		ex.existence, err = h.backend.HandleExistenceCheck(ctx, &pb.HandleExistenceCheckArgs{Request: req})
		if err != nil {
			return ex, fmt.Errorf("HandleExistenceCheck %s: gRPC error %w", path, err)
		}
		if ex.existence.Err != nil {
			return ex, fmt.Errorf("HandleExistenceCheck %s: error %s", path, describeError(ex.existence.Err))
		}
		if ex.existence.CheckFound && !ex.existence.Exists {
			req.Operation = "create"
			ex.operation = "create"
		}
	}
	ex.reply, err = h.backend.HandleRequest(ctx, &pb.HandleRequestArgs{Request: req})
	if err != nil {
		return ex, fmt.Errorf("HandleRequest %s %s: gRPC error %w", op, path, err)
	}
	return ex, nil
}

func describeError(e *pb.ProtoError) string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("ProtoError{err_type:%d err_msg:%q err_code:%d}", e.ErrType, e.ErrMsg, e.ErrCode)
}

func describeReply(r *pb.HandleRequestReply) string {
	if r == nil {
		return "<no reply>"
	}
	resp := "<nil>"
	if r.Response != nil {
		data := r.Response.Data
		if len(data) > 300 {
			data = data[:300] + "..."
		}
		resp = fmt.Sprintf("{data:%s warnings:%q}", data, r.Response.Warnings)
	}
	return fmt.Sprintf("HandleRequestReply{response:%s err:%s}", resp, describeError(r.Err))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
