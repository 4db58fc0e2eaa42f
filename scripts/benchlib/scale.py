"""Scale scenarios (issue 8): a full CRL rebuild at 10M revoked, tidy of 1M expired among 10M stored, plugin
start-up and resident memory with 10M stored.

Data sets are RocksDB mount databases bulk-loaded by `pki_bench scale-load` (SST ingestion of what the engine's own
batch builders write; tests/bench/scale_bench.cc). They are generated once and cached under
<out-dir>/datasets/<recipe>/ (out-dir: build/bench unless scripts/bench --out-dir says otherwise; pki_bench-scale.json
is the stamp: the recipe, the loader's version and a fingerprint of the engine's key layout; a mismatch
regenerates). Generating one emits its `scale_load_*` line. The
scenarios never change a cached data set: each works on a clone under the run's work directory whose SST files are
hard links (RocksDB never rewrites an SST file; the clone's own writes go to new files).

--quick runs the same names at 200k instead of 10M and 20k instead of 1M (`n` is the real count).

Standard library only; depends on the Bench API of scripts/benchlib/common.py.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

from benchlib import common

FULL = {"big": 10_000_000, "base": 1_000_000}
QUICK = {"big": 200_000, "base": 20_000}
CRL_ROUNDS = 3       # timed full rebuilds after the first one (median), as crl.py does for crl_full_1m
STARTUP_ROUNDS = 3   # server starts per store, alternated (median)
TRAFFIC_READS = 1000  # cert reads in rss_10m's traffic
TRAFFIC_ISSUES = 20
BYTES_PER_RECORD = 1500  # disk needed while loading (sorted runs + final files), per record, with room to spare

_state = {}


def _log(msg):
    print("[scale] " + msg, file=sys.stderr, flush=True)


def _sizes(bench):
    return QUICK if bench.quick else FULL


def _st(bench):
    return _state.setdefault(bench.work, {})


def _label(n):
    return "%dm" % (n // 1_000_000) if n % 1_000_000 == 0 else "%dk" % (n // 1000)


def _tool_json(bench, *args):
    out = bench.run([bench.tool, *args])
    return json.loads(out.stdout.strip().splitlines()[-1])


def datasets_dir(bench):
    """<out-dir>/datasets (build/bench/datasets by default), unless the bench object names another place (the
    integration test does)."""
    return getattr(bench, "datasets_dir", None) or os.path.join(
        getattr(bench, "out_dir", None) or os.path.join(bench.root, "build", "bench"), "datasets")


def _info(bench):
    st = _st(bench)
    if "info" not in st:
        st["info"] = _tool_json(bench, "scale-info")
    return st["info"]


def dataset(bench, load_name, stored, expired=0, revoked=0):
    """The cached data set of this recipe (generated when missing or stale): its directory and marker."""
    info = _info(bench)
    d = os.path.join(datasets_dir(bench), "s%d-e%d-r%d" % (stored, expired, revoked))
    marker_path = os.path.join(d, "pki_bench-scale.json")
    want = {"stored": stored, "expired": expired, "revoked": revoked,
            "loader_version": info["loader_version"], "layout": info["layout"]}
    try:
        with open(marker_path) as f:
            marker = json.load(f)
        if all(marker.get(k) == v for k, v in want.items()) and os.path.isdir(os.path.join(d, "db")):
            _log("reusing data set %s (loaded in %.1f s)" % (d, marker["load_seconds"]))
            return d, marker
        _log("data set %s is stale (%s); regenerating" % (d, {k: marker.get(k) for k in want}))
    except (OSError, ValueError):
        pass
    os.makedirs(datasets_dir(bench), exist_ok=True)
    free = shutil.disk_usage(datasets_dir(bench)).free
    need = stored * BYTES_PER_RECORD
    if free < need + (2 << 30):
        raise common.BenchError("not enough disk for data set %s: %.1f GB free, about %.1f GB needed"
                                % (d, free / 1e9, need / 1e9 + 2))
    load = _tool_json(bench, "scale-load", "--dir", d, "--stored", stored, "--expired", expired,
                      "--revoked", revoked)
    bench.emit(load_name, round(load["seconds"], 3), "s", n=stored, threads=1, expired=expired, revoked=revoked,
               records_per_second=round(load["records_per_second"]), bytes=load["bytes"], keys=load["keys"],
               sst_files=load["sst_files"], disk_free_before_gb=round(free / 1e9, 1))
    with open(marker_path) as f:
        return d, json.load(f)


def clone(bench, src, name):
    """A working copy of data set `src` under the run's work directory: SST files hard-linked, the rest copied."""
    dst = os.path.join(bench.work, "scale", name)
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.join(dst, "db"))
    for entry in os.listdir(src):
        if entry != "db" and os.path.isfile(os.path.join(src, entry)):
            shutil.copy2(os.path.join(src, entry), os.path.join(dst, entry))
    for entry in os.listdir(os.path.join(src, "db")):
        s, t = os.path.join(src, "db", entry), os.path.join(dst, "db", entry)
        if entry == "LOCK":
            continue
        if entry.endswith(".sst"):
            os.link(s, t)
        else:
            shutil.copy2(s, t)
    return dst


# ---- crl_full_10m ----

def _crl_builds(bench, dirs, rounds):
    """For each data set clone in `dirs`: a first rebuild, then `rounds` timed ones, the clones taking turns so that
    a change in the machine's load falls on both sides of the ratio alike. One summary per clone, in order."""
    firsts = [_tool_json(bench, "crl-build", "--dir", d) for d in dirs]
    runs = [[] for _ in dirs]
    for _ in range(rounds):
        for d, r in zip(dirs, runs):
            r.append(_tool_json(bench, "crl-build", "--dir", d))
    return [{"seconds": statistics.median(x["seconds"] for x in r), "first_seconds": first["seconds"],
             "max_rss_kb": max(x["max_rss_kb"] for x in r), "entries": r[-1]["entries"], "bytes": r[-1]["bytes"],
             "rss_after_open_kb": max(x["rss_after_open_kb"] for x in r)} for first, r in zip(firsts, runs)]


def crl_full_10m(bench):
    sizes = _sizes(bench)
    n, base_n = sizes["big"], sizes["base"]
    src, _ = dataset(bench, "scale_load_crl_%s" % _label(FULL["big"]), n, revoked=n)
    src1, _ = dataset(bench, "scale_load_crl_%s" % _label(FULL["base"]), base_n, revoked=base_n)
    big, base = _crl_builds(bench, [clone(bench, src, "crl-big"), clone(bench, src1, "crl-base")], CRL_ROUNDS)
    if big["entries"] != n or base["entries"] != base_n:
        raise common.BenchError("crl_full_10m: the CRLs list %d and %d entries, %d and %d were revoked"
                                % (big["entries"], base["entries"], n, base_n))
    extra = {}
    same_run = bench.results.get("crl_full_1m")
    if same_run and same_run.get("n"):  # crl.py's figure, measured earlier in the run: for comparison only
        extra = {"crl_full_1m_seconds": same_run["value"], "crl_full_1m_n": same_run["n"]}
    bench.emit("crl_full_10m", round(big["seconds"], 3), "s", n=n, threads=1, entries=big["entries"],
               vs_1m=round(big["seconds"] / base["seconds"], 2), baseline_seconds=round(base["seconds"], 3),
               baseline_n=base_n, goal_vs_1m=round(1.1 * n / base_n, 2),
               first_build_seconds=round(big["first_seconds"], 3), max_rss_mb=round(big["max_rss_kb"] / 1024, 1),
               rss_after_open_mb=round(big["rss_after_open_kb"] / 1024, 1), bytes=big["bytes"], **extra)
    shutil.rmtree(os.path.join(bench.work, "scale", "crl-big"), ignore_errors=True)
    shutil.rmtree(os.path.join(bench.work, "scale", "crl-base"), ignore_errors=True)


# ---- tidy_1m_of_10m ----

def tidy_1m_of_10m(bench):
    sizes = _sizes(bench)
    big_src, _ = dataset(bench, "scale_load_certs_%s" % _label(FULL["big"]), sizes["big"], expired=sizes["base"])
    base_src, _ = dataset(bench, "scale_load_certs_%s_expired" % _label(FULL["base"]), sizes["base"],
                          expired=sizes["base"])
    # The big one first, then the small one (they share no files); each on a fresh clone, since tidy deletes.
    # Wall time is the figure; the CPU time of each tidy process is reported too, as a check against the machine's
    # load moving between the two runs.
    big = _tool_json(bench, "scale-tidy", "--dir", clone(bench, big_src, "tidy-big"))
    base = _tool_json(bench, "scale-tidy", "--dir", clone(bench, base_src, "tidy-base"))
    bench.emit("tidy_1m_of_10m", round(big["seconds"], 3), "s", n=big["deleted"], threads=1,
               stored_before=big["stored_before"], stored_after=big["stored_after"],
               vs_1m_of_1m=round(big["seconds"] / base["seconds"], 3), baseline_seconds=round(base["seconds"], 3),
               baseline_stored=base["stored_before"], goal_vs_1m_of_1m=1.3,
               cpu_seconds=round(big["cpu_seconds"], 1), baseline_cpu_seconds=round(base["cpu_seconds"], 1),
               cpu_vs_1m_of_1m=round(big["cpu_seconds"] / base["cpu_seconds"], 3),
               removed_per_second=round(big["deleted"] / big["seconds"]))
    for name in ("tidy-base", "tidy-big"):
        shutil.rmtree(os.path.join(bench.work, "scale", name), ignore_errors=True)


# ---- startup_10m and rss_10m ----

class MountServer:
    """pki-server -dev over its own data dir whose mount `big/` (a pki-plugin of its own) runs on a data set clone
    (moved into place by setup()). start() returns the seconds from launching pki-server to `big/cert/ca`
    answering 200."""

    TOKEN = "bench-scale-token"

    def __init__(self, bench, name, data):
        self.bench = bench
        self.data = data  # the clone
        self.db = None    # the mount's database once setup() moved the clone there
        self.dir = os.path.join(bench.work, "scale", name + "-server")
        os.makedirs(self.dir, exist_ok=True)
        self.port = bench.free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")

    def _call(self, method, path, body=None, raw=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.addr + "/v1/" + path, data=data, method=method,
                                     headers={"X-Vault-Token": self.TOKEN, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            payload = r.read()
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def call(self, method, path, body=None, raw=False):
        try:
            return self._call(method, path, body, raw)
        except urllib.error.HTTPError as e:
            raise common.BenchError("%s %s -> %d: %s" % (method, path, e.code, e.read()[:300].decode(errors="replace")))

    def setup(self):
        """Mounts big/ (untimed) and puts the data set clone in its place: pki-server decides where a mount's files
        live (<data>/mounts/<uuid>/rocksdb, its sealing key next to it as rocksdb.seal-key)."""
        try:
            self.start(mount=True)
            uuid = self.call("GET", "sys/mounts")["data"]["big/"]["uuid"]
        finally:
            self.stop()
        mount_dir = os.path.join(self.dir, "data", "mounts", uuid)
        shutil.rmtree(os.path.join(mount_dir, "rocksdb"))
        os.rename(os.path.join(self.data, "db"), os.path.join(mount_dir, "rocksdb"))
        shutil.copy2(os.path.join(self.data, "seal.key"), os.path.join(mount_dir, "rocksdb.seal-key"))
        self.db = os.path.join(mount_dir, "rocksdb")

    def start(self, mount=False):
        argv = [os.path.join(self.bench.bin_dir, "pki-server"), "-dev", "-dev-root-token-id=" + self.TOKEN,
                "-dev-listen-address=127.0.0.1:%d" % self.port, "-data-dir=" + os.path.join(self.dir, "data")]
        start = time.monotonic()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        if mount:
            self._wait(lambda: self._call("GET", "sys/health") is not None)
            self.call("POST", "sys/mounts/big", {"type": "pki"})
            return 0
        self._wait(lambda: self._call("GET", "big/cert/ca") is not None)
        return time.monotonic() - start

    def _wait(self, probe, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise common.BenchError("pki-server exited %s:\n%s" % (self.proc.returncode, self._tail()))
            try:
                probe()
                return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                time.sleep(0.005)
        raise common.BenchError("big/ did not answer within %d s:\n%s" % (timeout, self._tail()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def plugin_pid(self):
        """The pki-plugin child serving big/: the one holding a file of the clone open."""
        db = os.path.realpath(self.db)
        for pid in common.children(self.proc.pid):
            try:
                for fd in os.listdir("/proc/%d/fd" % pid):
                    try:
                        if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(db + "/"):
                            return pid
                    except OSError:
                        continue
            except OSError:
                continue
        raise common.BenchError("no pki-plugin child has %s open" % db)


def _proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("rchar", "read_bytes"):
                out[k] = int(v)
    return out


def _startup(bench):
    """Both servers set up (mounted once, untimed), then STARTUP_ROUNDS starts of each, alternated; what the big
    mount's plugin read while starting. Every server is stopped on return; rss_10m starts the big one again."""
    st = _st(bench)
    if "startup" in st:
        return st["startup"]
    sizes = _sizes(bench)
    big_src, big_marker = dataset(bench, "scale_load_certs_%s" % _label(FULL["big"]), sizes["big"],
                                  expired=sizes["base"])
    empty_src, _ = dataset(bench, "scale_load_empty", 0)
    servers = {"big": MountServer(bench, "startup-big", clone(bench, big_src, "startup-big")),
               "empty": MountServer(bench, "startup-empty", clone(bench, empty_src, "startup-empty"))}
    times = {"big": [], "empty": []}
    starts = {}
    try:
        for s in servers.values():
            s.setup()
        for _ in range(STARTUP_ROUNDS):
            for name in ("empty", "big"):
                s = servers[name]
                times[name].append(s.start())
                if name == "big":
                    starts = _proc_status(s.plugin_pid())  # right after the first answer
                    # The mount's own view of its size: the counters, kept exact by the loader (no scan).
                    count = s.call("GET", "big/tidy-status")["data"]["current_cert_store_count"]
                    if count != big_marker["stored"] + 1:  # + the CA's own certificate
                        raise common.BenchError("big/ counts %s certificates, the data set has %d + the CA"
                                                % (count, big_marker["stored"]))
                s.stop()
    finally:
        for s in servers.values():
            s.stop()
    st["startup"] = {"times": times, "server": servers["big"], "at_start": starts, "stored": count}
    return st["startup"]


def startup_10m(bench):
    s = _startup(bench)
    big, empty = statistics.median(s["times"]["big"]), statistics.median(s["times"]["empty"])
    bench.emit("startup_10m", round(big * 1000, 1), "ms", n=s["stored"], threads=1,
               vs_empty=round(big / empty, 3), empty_ms=round(empty * 1000, 1), goal_vs_empty=2.0,
               rounds=STARTUP_ROUNDS, plugin_read_mb_at_start=round(s["at_start"]["rchar"] / 2**20, 1),
               plugin_disk_read_mb_at_start=round(s["at_start"]["read_bytes"] / 2**20, 1))


def rss_10m(bench):
    s = _startup(bench)
    server = s["server"]
    try:
        server.start()
        pid = server.plugin_pid()
        at_start = _proc_status(pid)
        # Traffic: a page of the listing, reads of those certificates, a few issues, the CRL.
        keys = server.call("LIST", "big/certs?limit=%d" % TRAFFIC_READS)["data"]["keys"]
        if len(keys) != TRAFFIC_READS:
            raise common.BenchError("LIST big/certs?limit=%d answered %d keys" % (TRAFFIC_READS, len(keys)))
        for serial in keys:
            if "BEGIN CERTIFICATE" not in server.call("GET", "big/cert/" + serial)["data"]["certificate"]:
                raise common.BenchError("big/cert/%s answered no certificate" % serial)
        for i in range(TRAFFIC_ISSUES):
            server.call("POST", "big/issue/web", {"common_name": "rss%d.example.com" % i, "ttl": "1h"})
        crl = server.call("GET", "big/crl", raw=True)
        after = _proc_status(pid)
        bench.emit("rss_10m", round(after["VmRSS"] / 1024, 1), "MB", n=s["stored"], threads=1, goal_mb=300,
                   rss_after_start_mb=round(at_start["VmRSS"] / 1024, 1), peak_rss_mb=round(after["VmHWM"] / 1024, 1),
                   rss_anon_mb=round(after["RssAnon"] / 1024, 1), rss_file_mb=round(after["RssFile"] / 1024, 1),
                   traffic="list %d, read %d, issue %d, crl %d bytes" % (len(keys), len(keys), TRAFFIC_ISSUES,
                                                                         len(crl)))
    finally:
        server.stop()


SCENARIOS = [
    ("crl_full_10m", crl_full_10m),
    ("tidy_1m_of_10m", tidy_1m_of_10m),
    ("startup_10m", startup_10m),
    ("rss_10m", rss_10m),
]
