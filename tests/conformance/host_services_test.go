package conformance

// The services a Vault host serves to its plugin over the GRPCBroker: pb.Storage (here an in-memory map with the
// semantics of Vault's logical storage) and pb.SystemView (the mount's lease TTLs).

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"pkiwire/logical"
	"pkiwire/pb"
)

// memStorage is a Vault-like logical storage: keys are flat strings, List answers the immediate children of a
// prefix (sub-folders end with "/"), sorted, and a missing key reads as a nil entry with no error.
type memStorage struct {
	pb.UnimplementedStorageServer

	mu      sync.Mutex
	entries map[string][]byte
	calls   map[string]int
	// refuse, when set, is the error every call answers: Vault's registration probe offers no storage.
	refuse string
}

func newMemStorage() *memStorage {
	return &memStorage{entries: map[string][]byte{}, calls: map[string]int{}}
}

// Vault's storage views refuse relative paths.
const errRelativePath = "relative paths not supported"

func (s *memStorage) record(method string) string {
	s.calls[method]++
	return s.refuse
}

func (s *memStorage) List(_ context.Context, args *pb.StorageListArgs) (*pb.StorageListReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.record("List"); msg != "" {
		return &pb.StorageListReply{Err: msg}, nil
	}
	if strings.Contains(args.Prefix, "..") {
		return &pb.StorageListReply{Err: errRelativePath}, nil
	}
	return &pb.StorageListReply{Keys: listChildren(s.entries, args.Prefix)}, nil
}

func (s *memStorage) Get(_ context.Context, args *pb.StorageGetArgs) (*pb.StorageGetReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.record("Get"); msg != "" {
		return &pb.StorageGetReply{Err: msg}, nil
	}
	if strings.Contains(args.Key, "..") {
		return &pb.StorageGetReply{Err: errRelativePath}, nil
	}
	value, ok := s.entries[args.Key]
	if !ok {
		return &pb.StorageGetReply{}, nil
	}
	return &pb.StorageGetReply{Entry: &pb.StorageEntry{Key: args.Key, Value: append([]byte(nil), value...)}}, nil
}

func (s *memStorage) Put(_ context.Context, args *pb.StoragePutArgs) (*pb.StoragePutReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.record("Put"); msg != "" {
		return &pb.StoragePutReply{Err: msg}, nil
	}
	if args.Entry == nil || args.Entry.Key == "" {
		return &pb.StoragePutReply{Err: "missing storage entry key"}, nil
	}
	if strings.Contains(args.Entry.Key, "..") {
		return &pb.StoragePutReply{Err: errRelativePath}, nil
	}
	s.entries[args.Entry.Key] = append([]byte(nil), args.Entry.Value...)
	return &pb.StoragePutReply{}, nil
}

func (s *memStorage) Delete(_ context.Context, args *pb.StorageDeleteArgs) (*pb.StorageDeleteReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.record("Delete"); msg != "" {
		return &pb.StorageDeleteReply{Err: msg}, nil
	}
	if strings.Contains(args.Key, "..") {
		return &pb.StorageDeleteReply{Err: errRelativePath}, nil
	}
	delete(s.entries, args.Key)
	return &pb.StorageDeleteReply{}, nil
}

// listChildren is Vault's physical List: the immediate children of prefix, folders with a trailing "/", sorted.
func listChildren(entries map[string][]byte, prefix string) []string {
	seen := map[string]bool{}
	for key := range entries {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		rest := key[len(prefix):]
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keys returns every stored key, sorted.
func (s *memStorage) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.entries))
	for k := range s.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *memStorage) keysUnder(prefix string) []string {
	var out []string
	for _, k := range s.keys() {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func (s *memStorage) callCount() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func (s *memStorage) totalCalls() int {
	n := 0
	for _, v := range s.callCount() {
		n += v
	}
	return n
}

// systemView answers the mount settings a PKI engine reads. Durations travel as Go time.Duration: nanoseconds.
type systemView struct {
	pb.UnimplementedSystemViewServer

	defaultTTL, maxTTL time.Duration

	mu    sync.Mutex
	calls map[string]int
}

func newSystemView(defaultTTL, maxTTL time.Duration) *systemView {
	return &systemView{defaultTTL: defaultTTL, maxTTL: maxTTL, calls: map[string]int{}}
}

func (v *systemView) record(method string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[method]++
}

func (v *systemView) callCount(method string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[method]
}

func (v *systemView) DefaultLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	v.record("DefaultLeaseTTL")
	return &pb.TTLReply{TTL: int64(v.defaultTTL)}, nil
}

func (v *systemView) MaxLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	v.record("MaxLeaseTTL")
	return &pb.TTLReply{TTL: int64(v.maxTTL)}, nil
}

func (v *systemView) Tainted(context.Context, *pb.Empty) (*pb.TaintedReply, error) {
	v.record("Tainted")
	return &pb.TaintedReply{}, nil
}

func (v *systemView) CachingDisabled(context.Context, *pb.Empty) (*pb.CachingDisabledReply, error) {
	v.record("CachingDisabled")
	return &pb.CachingDisabledReply{}, nil
}

func (v *systemView) ReplicationState(context.Context, *pb.Empty) (*pb.ReplicationStateReply, error) {
	v.record("ReplicationState")
	return &pb.ReplicationStateReply{}, nil
}

func (v *systemView) MlockEnabled(context.Context, *pb.Empty) (*pb.MlockEnabledReply, error) {
	v.record("MlockEnabled")
	return &pb.MlockEnabledReply{}, nil
}

func (v *systemView) LocalMount(context.Context, *pb.Empty) (*pb.LocalMountReply, error) {
	v.record("LocalMount")
	return &pb.LocalMountReply{}, nil
}

func (v *systemView) PluginEnv(context.Context, *pb.Empty) (*pb.PluginEnvReply, error) {
	v.record("PluginEnv")
	return &pb.PluginEnvReply{PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "1.15.0"}}, nil
}
