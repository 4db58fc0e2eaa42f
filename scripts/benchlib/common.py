"""Shared pieces of scripts/bench: the Bench object handed to every scenario (emit, run, free_port, ceiling),
a dev pki-server on loopback, and wrk with a JSON summary. Python standard library only."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


class BenchError(Exception):
    """A scenario failed (a tool exited non-zero, a server did not start, a response was not 2xx, ...)."""


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


class Bench:
    """What a scenario function gets. Scenarios run one at a time on the driver's thread."""

    def __init__(self, root, quick, results_path, work, bin_dir=None, out_dir=None):
        self.quick = quick              # --quick: reduced scale, same names
        self.root = root                # repository root
        self.bin_dir = bin_dir or os.path.join(root, "build", "release", "bin")
        self.out_dir = out_dir or os.path.join(root, "build", "bench")  # results, plots, cached data sets
        self.tool = os.path.join(self.bin_dir, "pki_bench")
        self.work = work                # scratch directory for this run, removed at the end
        self.results_path = results_path
        self.results = {}               # name -> its latest emitted record, for cross-scenario ratios
        self.records = []               # every emitted record in order
        self.shared = {}                # inputs made once per run and reused by scenarios (e.g. CSR files)

    def emit(self, name, value, unit, limit=None, threads=2, n=None, **extra):
        """Prints one CONTRACT section 5 JSON line to stdout and appends it to results.jsonl."""
        record = {"name": name, "value": _round(value), "unit": unit,
                  "limit": _round(limit) if limit is not None else None,
                  "ratio": round(value / limit, 3) if limit else None,
                  "threads": threads, "n": n}
        for k, v in extra.items():
            record[k] = _round(v) if isinstance(v, float) else v
        line = json.dumps(record)
        print(line, flush=True)
        with open(self.results_path, "a") as f:
            f.write(line + "\n")
        self.results[name] = record
        self.records.append(record)
        return record

    def run(self, argv, check=True, **kw):
        """Runs a command to completion (output captured as text unless told otherwise); logs it; raises
        BenchError with its output when it fails."""
        argv = [str(a) for a in argv]
        log("$ " + " ".join(argv))
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        proc = subprocess.run(argv, **kw)
        if check and proc.returncode != 0:
            raise BenchError("%s exited %d:\n%s%s" % (argv[0], proc.returncode, proc.stdout or "", proc.stderr or ""))
        return proc

    def free_port(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def seconds(self, full, quick):
        return quick if self.quick else full

    def ceiling(self, kind, seconds, threads=2):
        """`pki_bench ceiling`: OpenSSL's rate for `kind` (issue_ec256, issue_rsa2048, sign_ec256) on `threads`
        threads: {"ops_per_sec", "n", "threads", "seconds", "kind"}."""
        out = self.run([self.tool, "ceiling", "--kind", kind, "--threads", threads, "--seconds", seconds])
        return json.loads(out.stdout.strip().splitlines()[-1])

    def csr_file(self, count):
        """A file of `count` distinct P-256 CSR sign bodies (pki_bench csrs), made once per run."""
        key = ("csrs", count)
        if key not in self.shared:
            path = os.path.join(self.work, "csrs-%d.jsonl" % count)
            self.run([self.tool, "csrs", "--count", count, "--key", "ec256", "--cn-suffix", "example.com",
                      "--out", path])
            self.shared[key] = path
        return self.shared[key]

    def wrk(self, url, script, seconds, threads=2, connections=16, headers=(), script_args=(), timeout="10s"):
        """Runs wrk (HTTP/1.1 keep-alive) with a Lua script whose done() is WRK_DONE_LUA; returns its summary:
        requests, duration_us, p50_us, p90_us, p99_us, mean_us, max_us, err_* counters. Raises BenchError when
        wrk fails or any request failed (connect/read/write/timeout errors or a status >= 400)."""
        argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ss" % _fmt_seconds(seconds),
                "--timeout", timeout, "-s", script]
        for h in headers:
            argv += ["-H", h]
        argv.append(url)
        if script_args:
            argv += ["--"] + [str(a) for a in script_args]
        out = self.run(argv)
        summary = None
        for line in out.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                summary = json.loads(line[len("BENCH_JSON "):])
        if summary is None:
            raise BenchError("wrk printed no summary:\n" + out.stdout + out.stderr)
        errors = {k: v for k, v in summary.items() if k.startswith("err_") and v}
        if errors or summary["requests"] == 0:
            raise BenchError("wrk: %d requests with errors %s (non-2xx or socket errors are not allowed):\n%s"
                             % (summary["requests"], errors, out.stdout))
        summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
        return summary


# Appended to every wrk script: prints the run's summary as one JSON line for Bench.wrk.
WRK_DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


# Lua for wrk scripts: the request bodies of a file in which each follows its length (2 bytes, big-endian), as the
# OCSP scenarios write them (binary DER: no line to split on, nothing to decode in Lua).
WRK_LENGTH_PREFIXED_LUA = r"""
local function read_length_prefixed(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  local bodies, at = {}, 1
  while at + 1 <= #data do
    local len = data:byte(at) * 256 + data:byte(at + 1)
    bodies[#bodies + 1] = data:sub(at + 2, at + 1 + len)
    at = at + 2 + len
  end
  if #bodies == 0 then error("no bodies in " .. path) end
  return bodies
end
"""


def wrk_get_script(path):
    """Writes a wrk script GETting its URL on every request; returns its path."""
    with open(path, "w") as f:
        f.write('wrk.method = "GET"\n')
        f.write(WRK_DONE_LUA)
    return path


def wrk_static_post_script(path, body, content_type="application/json"):
    """Writes a wrk script POSTing the same `body` on every request; returns its path."""
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write('wrk.headers["Content-Type"] = %s\n' % _lua_str(content_type))
        f.write("wrk.body = %s\n" % _lua_str(body))
        f.write(WRK_DONE_LUA)
    return path


def wrk_cycling_post_script(path, content_type="application/json"):
    """Writes a wrk script POSTing the lines of a file (script argument 1) in turn, one per request; wrk thread i
    of N (script argument 2 = N) takes lines i, i+N, i+2N, ... so threads send disjoint bodies until the file wraps.
    Returns its path."""
    with open(path, "w") as f:
        f.write(r"""
local bodies = {}
local index = 0
local stride = 1
local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  if #bodies == 0 then error("no bodies in " .. args[1]) end
  stride = tonumber(args[2])
  index = thread_id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = %s
end
function request()
  local body = bodies[(index %% #bodies) + 1]
  index = index + stride
  return wrk.format(nil, nil, nil, body)
end
""" % _lua_str(content_type))
        f.write(WRK_DONE_LUA)
    return path


class PkiDevServer:
    """build/release/bin/pki-server -dev on a free loopback port with a fresh data dir under bench.work (the PKI
    engine in its pki-plugin process, mounted at pki/). Use as a context manager; request() speaks the Vault API."""

    TOKEN = "bench-root-token"

    def __init__(self, bench, name):
        self.bench = bench
        self.port = bench.free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.dir = os.path.join(bench.work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        argv = [os.path.join(self.bench.bin_dir, "pki-server"), "-dev", "-dev-root-token-id=" + self.TOKEN,
                "-dev-listen-address=127.0.0.1:%d" % self.port, "-data-dir=" + os.path.join(self.dir, "data")]
        log("$ " + " ".join(argv))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("pki-server exited %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen(self.addr + "/v1/sys/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise BenchError("pki-server did not become healthy:\n" + self.log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def token_header(self):
        return "X-Vault-Token: " + self.TOKEN

    def request(self, method, path, body=None):
        """One Vault API call; returns the decoded JSON (or None for 204); raises BenchError on a non-2xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.addr + "/v1/" + path, data=data, method=method,
                                     headers={"X-Vault-Token": self.TOKEN, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise BenchError("%s %s -> %d: %s" % (method, path, e.code, e.read()[:500].decode(errors="replace")))
        return json.loads(raw) if raw else None

    def rss_kb(self):
        """Resident memory (kB) of pki-server and of its pki-plugin children, from /proc: {"server":..,"plugin":..}."""
        out = {"server": rss_kb(self.proc.pid), "plugin": 0}
        for child in children(self.proc.pid):
            out["plugin"] += rss_kb(child)
        return out


def children(pid):
    """The pids of pid's child processes (from /proc)."""
    out = set()
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.update(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def rss_kb(pid):
    """VmRSS of pid in kB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _lua_str(s):
    return "[==[" + s + "]==]" if "]==]" not in s else json.dumps(s)


def _fmt_seconds(s):
    return str(max(1, int(round(s))))  # wrk takes whole seconds


def _round(v):
    if v is None or not isinstance(v, float):
        return v
    return round(v, 3) if abs(v) < 100 else round(v, 1)
