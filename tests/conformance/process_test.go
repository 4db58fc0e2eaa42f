package conformance

// The plugin as a process: how it behaves when run by hand, when probed by Vault's registration, and when its
// host goes away.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pkiwire/pb"
)

// runPlain runs the plugin binary directly (no host) with exactly the given environment.
func runPlain(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, *pluginPath, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not exit within 10 s", *pluginPath, args)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %s: %v", *pluginPath, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// Run by hand (no magic cookie), a go-plugin plugin explains itself on stderr and exits 1, before writing any
// handshake line; a wrong cookie (another plugin family's probe) is treated the same.
func TestRefusesWithoutMagicCookie(t *testing.T) {
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"empty environment", []string{}},
		{"wrong cookie", []string{magicCookieKey + "=926a0820-aea2-be28-51d6-83cdf00e8edb", "PLUGIN_PROTOCOL_VERSIONS=5"}},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			stdout, stderr, code := runPlain(t, c.env)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing (no handshake line without the cookie)", stdout)
			}
			if strings.TrimSpace(stderr) == "" {
				t.Errorf("nothing on stderr; want an explanation that this binary is a plugin")
			}
			t.Logf("stderr: %q", stderr)
		})
	}
}

func TestVersionFlag(t *testing.T) {
	stdout, stderr, code := runPlain(t, []string{}, "--version")
	if code != 0 || strings.TrimSpace(stdout) == "" {
		t.Fatalf("pki-plugin --version: exit %d, stdout %q, stderr %q; want exit 0 and a version", code, stdout, stderr)
	}
	t.Logf("%s", strings.TrimSpace(stdout))
}

// `vault plugin register` and `-dev-plugin-dir` launch the plugin once and call Setup with an empty
// BackendConfig (no mount options, no backend UUID, no storage behind the broker), then Type and Version. The
// plugin must accept that Setup without touching storage.
func TestRegistrationProbe(t *testing.T) {
	h := launchForTest(t)
	h.storage.refuse = "no storage: registration probe"
	reply, err := h.setup(nil, "")
	if err != nil {
		t.Fatalf("Setup with an empty config: gRPC error %v", err)
	}
	if reply.Err != "" {
		t.Fatalf("Setup with an empty config (Vault's registration probe): SetupReply.err = %q, want \"\"", reply.Err)
	}
	ctx, cancel := h.ctx(10 * time.Second)
	defer cancel()
	typ, err := h.backend.Type(ctx, &pb.Empty{})
	if err != nil || typ.Type != 1 {
		t.Fatalf("Type after the probe Setup: %v, %v; want 1", typ, err)
	}
	if n := h.storage.totalCalls(); n != 0 {
		t.Errorf("the plugin called the host's storage %d times during the probe (%v)", n, h.storage.callCount())
	}
}

// A plugin must not outlive its host (an orphan would keep holding its RocksDB lock): kill the host with SIGKILL,
// so it closes nothing and calls no Shutdown, and the plugin must still go away.
func TestPluginExitsWhenHostDies(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("locate the test binary: %v", err)
	}
	child := exec.Command(self, "-plugin="+*pluginPath)
	child.Env = append(os.Environ(), hostChildEnv+"=1")
	child.Dir = t.TempDir()
	var childErr bytes.Buffer
	child.Stderr = &childErr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	if err := child.Start(); err != nil {
		t.Fatalf("start the host process: %v", err)
	}
	defer child.Process.Kill()

	pid, err := readPluginPid(out, 60*time.Second)
	if err != nil {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("host process: %v\nits stderr:\n%s", err, childErr.String())
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL the host: %v", err)
	}
	child.Wait()
	if err := waitGone(pid, 10*time.Second); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("after its host was SIGKILLed: %v", err)
	}
}

// readPluginPid reads the "plugin-pid N" line the host child prints once its plugin answers.
func readPluginPid(r interface{ Read([]byte) (int, error) }, timeout time.Duration) (int, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "plugin-pid ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return 0, fmt.Errorf("exited without reporting its plugin's pid")
		}
		return strconv.Atoi(strings.TrimPrefix(line, "plugin-pid "))
	case <-time.After(timeout):
		return 0, fmt.Errorf("no plugin pid within %v", timeout)
	}
}

// runHostChild is the test binary acting as a bare host for TestPluginExitsWhenHostDies: launch the plugin,
// check it answers, print its pid, then wait to be killed.
func runHostChild() int {
	workDir, err := os.MkdirTemp("", "pki-conformance-host")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, err := launch(*pluginPath, workDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := h.ctx(10 * time.Second)
	defer cancel()
	if _, err := h.backend.Type(ctx, &pb.Empty{}); err != nil {
		fmt.Fprintf(os.Stderr, "Type: %v\nhost log:\n%s", err, h.log.String())
		h.client.Kill()
		return 1
	}
	fmt.Printf("plugin-pid %d\n", h.client.ReattachConfig().Pid)
	time.Sleep(5 * time.Minute)
	h.client.Kill()
	return 1
}

// waitGone polls until pid no longer runs (gone, or a zombie nobody reaped yet).
func waitGone(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !processRuns(pid) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plugin pid %d still running %v later", pid, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processRuns(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}
