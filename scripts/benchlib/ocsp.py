"""OCSP scenarios: the plugin's publication listener (POST /ocsp) against `openssl ocsp -multi 2` answering the
same requests for the same CA over an index of the same certificates.

The data set is made once per run by `pki_bench crl-load --stored M --revoked M/10 --openssl-index ...` (1M stored
certificates, quick: 50k; the first tenth revoked) and mounted in a `pki-server -dev` as the mount `ocsp/` with
`publish_address`: the mount is created empty, the server stopped, the mount's RocksDB directory and seal key
replaced by the data set's, the server started again. `pki_bench ocsp-reqs` writes 10k OCSP requests (one SHA-1
CertID each, no nonce, as browsers send them) for distinct serials of the data set, 90% good / 10% revoked, in a
shuffled order. Before any timing, a sample of requests is asked of each responder twice (the second answer of ours
from its cache) and every answer is checked with OpenSSL
(`pki_bench ocsp-verify`: signed by the CA, current, the expected status) and one good and one revoked answer with
`openssl ocsp -respin`. Then wrk (-t2 -c16, HTTP/1.1) POSTs the requests in turn to each responder: one untimed
WARMUP_SECONDS run each, then ROUNDS timed runs each, alternating (the peer with "Connection: close", started before
and stopped after each of its runs: see PeerResponder); every answer must be HTTP 200.

Emits peer_openssl_ocsp and ocsp_post (with vs_peer_openssl_ocsp). --quick runs at 50k stored under the same names
(`stored` says the real count; `n` is the number of requests answered). Standard library only.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from benchlib.common import WRK_LENGTH_PREFIXED_LUA, BenchError, PkiDevServer, children, log, rss_kb

FULL_STORED = 1_000_000
QUICK_STORED = 50_000
REVOKED_SHARE = 0.1   # of the stored certificates, and of the requests
DISTINCT = 10_000     # distinct serials asked
SAMPLE = 300          # answers of each responder checked before timing
ROUNDS = 2            # wrk runs per responder, alternating with the other's
THREADS = 2
CONNECTIONS = 16
MOUNT = "ocsp/"

_state = {}  # per run (keyed by the work directory)


def _stored(bench):
    return QUICK_STORED if bench.quick else FULL_STORED


def _round_seconds(bench):
    return 2 if bench.quick else 5


WARMUP_SECONDS = 1  # untimed wrk run against each responder first (ours: signs and caches the 10k answers)


def _tool_json(bench, *args):
    out = bench.run([bench.tool, *args])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pem_to_der(path):
    with open(path) as f:
        text = f.read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def _post(url, body, timeout=30):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/ocsp-request"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _wait_http(url, proc=None, body=None, seconds=60):
    """Waits until `url` answers 200 (GET, or POST of `body`); raises BenchError if `proc` exits first."""
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError("%s exited %s before serving" % (url, proc.returncode))
        try:
            if body is None:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return r.read()
            else:
                status, data = _post(url, body, timeout=2)
                if status == 200:
                    return data
                last = status
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        time.sleep(0.1)
    raise BenchError("%s did not answer 200 within %d s (last: %s)" % (url, seconds, last))


def _dataset(bench):
    """crl-load's data set with M stored / M/10 revoked, openssl's index of the same certificates, and the request
    files. Made once per run."""
    st = _state.setdefault(bench.work, {})
    if "dataset" not in st:
        stored = _stored(bench)
        base = os.path.join(bench.work, "ocsp")
        os.makedirs(base, exist_ok=True)
        d = os.path.join(base, "dataset")
        peer = os.path.join(base, "peer")
        os.makedirs(peer, exist_ok=True)
        index = os.path.join(peer, "index.txt")
        load = _tool_json(bench, "crl-load", "--dir", d, "--stored", stored,
                          "--revoked", int(stored * REVOKED_SHARE), "--openssl-index", index)
        # Every stored certificate has the same subject: openssl must not insist on unique subjects.
        with open(index + ".attr", "w") as f:
            f.write("unique_subject = no\n")
        reqs = os.path.join(base, "requests.hex")
        expect = os.path.join(base, "expect.tsv")
        made = _tool_json(bench, "ocsp-reqs", "--dir", d, "--count", DISTINCT, "--revoked-share", REVOKED_SHARE,
                          "--out", reqs, "--expect", expect)
        with open(reqs) as f:
            bodies = [bytes.fromhex(line.strip()) for line in f if line.strip()]
        with open(expect) as f:
            expected = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        if len(bodies) != DISTINCT or len(expected) != DISTINCT:
            raise BenchError("ocsp-reqs wrote %d requests and %d expectations, not %d"
                             % (len(bodies), len(expected), DISTINCT))
        # For wrk: the bodies as they go on the wire, each after its length (2 bytes, big-endian), so that its
        # threads load them without decoding (decoding 10k hex lines in Lua takes longer than a quick run).
        reqs = os.path.join(base, "requests.bin")
        with open(reqs, "wb") as f:
            for body in bodies:
                f.write(len(body).to_bytes(2, "big") + body)
        st["dataset"] = {"dir": d, "peer_dir": peer, "index": index, "load": load, "requests": reqs,
                         "bodies": bodies, "expected": expected, "made": made, "stored": stored,
                         "ca_pem": os.path.join(d, "ca.pem"), "ca_key": os.path.join(d, "ca.key")}
    return st["dataset"]


def _sample_indexes(ds):
    """SAMPLE request indexes spread over the file, at least a few of each status."""
    n = len(ds["bodies"])
    step = max(1, n // SAMPLE)
    picks = list(range(0, n, step))[:SAMPLE]
    for status in ("revoked", "good"):  # make sure both kinds are checked whatever the spread gave
        if not any(ds["expected"][i][1] == status for i in picks):
            picks.append(next(i for i, e in enumerate(ds["expected"]) if e[1] == status))
    return picks


def check_responder(bench, ds, url, who):
    """Checks a sample of `url`'s answers with OpenSSL before timing; returns {"checked", "good", "revoked"}. Each
    sampled request is asked twice: the second answer is the one a responder with an answer cache serves from it,
    as it does in the timed runs."""
    lines = []
    for _ in range(2):
        for i in _sample_indexes(ds):
            status, der = _post(url, ds["bodies"][i])
            if status != 200:
                raise BenchError("%s answered HTTP %d to request %d" % (who, status, i))
            serial, want = ds["expected"][i]
            lines.append("%s\t%s\t%s\n" % (der.hex(), serial, want))
    path = os.path.join(bench.work, "ocsp", "check-%s.tsv" % who)
    with open(path, "w") as f:
        f.writelines(lines)
    proc = bench.run([bench.tool, "ocsp-verify", "--ca", ds["ca_pem"], "--in", path], check=False)
    if proc.returncode != 0:
        raise BenchError("%s's OCSP answers are wrong: %s%s" % (who, proc.stdout, proc.stderr))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # And one good and one revoked through openssl's own client, independently of pki_bench.
    for want in ("good", "revoked"):
        i = next(k for k, e in enumerate(ds["expected"]) if e[1] == want)
        status, der = _post(url, ds["bodies"][i])
        resp = os.path.join(bench.work, "ocsp", "resp-%s-%s.der" % (who, want))
        with open(resp, "wb") as f:
            f.write(der)
        serial = "0x" + ds["expected"][i][0]
        out = bench.run(["openssl", "ocsp", "-respin", resp, "-issuer", ds["ca_pem"], "-CAfile", ds["ca_pem"],
                         "-serial", serial, "-no_nonce"], check=False)
        text = out.stdout + out.stderr
        if "Response verify OK" not in text or ("%s: %s" % (serial, want)).lower() not in text.lower():
            raise BenchError("openssl ocsp -respin on %s's answer for %s (%s expected):\n%s" % (who, serial, want, text))
    return result


# wrk: POSTs the DER requests of requests.bin (script argument 1; each after its 2-byte length) in turn; wrk thread i
# of N (argument 2) starts at request i and steps by N. Counts answers other than 200 (err_not200 fails the scenario in Bench.wrk).
WRK_OCSP_LUA = r"""
local bodies = {}
local index = 0
local stride = 1
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  bodies = read_length_prefixed(args[1])
  stride = tonumber(args[2])
  index = thread_id
  not200 = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/ocsp-request"
end
function request()
  local body = bodies[(index % #bodies) + 1]
  index = index + stride
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status ~= 200 then not200 = not200 + 1 end
end
"""

# Its done(): WRK_DONE_LUA's summary line (scripts/benchlib/common.py) plus err_not200, summed over the threads.
WRK_OCSP_DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local not200 = 0
  for _, t in ipairs(threads) do not200 = not200 + (t:get("not200") or 0) end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"err_not200":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, not200,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def _wrk_script(bench):
    path = os.path.join(bench.work, "ocsp", "ocsp.lua")
    with open(path, "w") as f:
        f.write(WRK_LENGTH_PREFIXED_LUA)
        f.write(WRK_OCSP_LUA)
        f.write(WRK_OCSP_DONE_LUA)
    return path


def _tree_rss_kb(pid):
    """VmRSS of pid and its children (openssl ocsp -multi: the parent and its workers)."""
    return rss_kb(pid) + sum(rss_kb(c) for c in children(pid))


class OurResponder:
    """pki-server -dev with the data set mounted at ocsp/ and the plugin's publication listener on a free port."""

    def __init__(self, bench, ds):
        self.bench, self.ds = bench, ds
        self.server = PkiDevServer(bench, "ocsp-server")
        self.publish_port = bench.free_port()
        self.url = "http://127.0.0.1:%d/ocsp" % self.publish_port

    def __enter__(self):
        s = self.server
        s.start()
        s.request("POST", "sys/mounts/" + MOUNT, {"type": "pki", "options": {
            "publish_address": "127.0.0.1:%d" % self.publish_port}})
        mounts = s.request("GET", "sys/mounts")
        uuid = (mounts.get("data") or mounts)[MOUNT]["uuid"]
        s.stop()
        # The mount's RocksDB and seal key become the data set's (pki-server's layout: mounts/<uuid>/rocksdb).
        mount_dir = os.path.join(s.dir, "data", "mounts", uuid)
        rocks = os.path.join(mount_dir, "rocksdb")
        if not os.path.isdir(rocks):
            raise BenchError("no RocksDB directory at %s: has pki-server's mount layout changed?" % rocks)
        subprocess.run(["rm", "-rf", rocks], check=True)
        os.rename(os.path.join(self.ds["dir"], "db"), rocks)
        with open(os.path.join(self.ds["dir"], "seal.key"), "rb") as f:
            key = f.read()
        fd = os.open(rocks + ".seal-key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        s.start()
        # The listener serves the data set's CA: the mount is the loaded one.
        ca = _wait_http("http://127.0.0.1:%d/ca" % self.publish_port, proc=s.proc)
        if ca != _pem_to_der(self.ds["ca_pem"]):
            raise BenchError("the publication listener serves another CA than the data set's")
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def rss(self):
        kb = self.server.rss_kb()
        return {"rss_server_mb": round(kb["server"] / 1024, 1), "rss_plugin_mb": round(kb["plugin"] / 1024, 1)}


class PeerResponder:
    """openssl ocsp -multi 2 over the data set's index, signing with the same CA key, answering as we do: nextUpdate
    12 h after thisUpdate (our ocsp_expiry default), ResponderID by key, no certificates in the response.

    OpenSSL 3.0's responder has two limits that shape how it is driven. Each of its processes serves one connection
    at a time, to its end: with keep-alive, 2 of wrk's 16 connections are served and the others wait, so it is
    driven with "Connection: close" (its faster mode here: a fresh connection per request, as it was built for).
    And a worker whose client goes away mid-request (wrk stops with requests in flight) then spins on the closed
    socket for good, so it runs only during its own timed runs: started afresh before each, stopped right after."""

    HEADERS = ("Connection: close",)

    def __init__(self, bench, ds):
        self.bench, self.ds = bench, ds
        self.port = bench.free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.proc = None
        self.log_path = os.path.join(ds["peer_dir"], "ocsp.log")

    def __enter__(self):
        self.start()
        return self

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        self.__exit__()

    def start(self):
        argv = ["openssl", "ocsp", "-index", self.ds["index"], "-port", str(self.port),
                "-rsigner", self.ds["ca_pem"], "-rkey", self.ds["ca_key"], "-CA", self.ds["ca_pem"],
                "-multi", "2", "-nmin", "720", "-resp_key_id", "-resp_no_certs"]
        log("$ " + " ".join(argv))
        with open(self.log_path, "ab") as out:
            # No new session for it: with -multi it makes itself the leader of its own process group (setpgid),
            # which fails in a session leader.
            self.proc = subprocess.Popen(argv, cwd=self.ds["peer_dir"], stdout=out, stderr=subprocess.STDOUT)
        t0 = time.time()
        try:
            _wait_http(self.url, proc=self.proc, body=self.ds["bodies"][0], seconds=300)
        except BenchError as e:
            self.__exit__()
            raise BenchError("%s\n%s" % (e, self.log_tail()))
        self.start_seconds = time.time() - t0

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            # Its process group (its own, see __enter__): the workers it forked go with it. (openssl ocsp -multi
            # does not always end on SIGTERM while a worker holds a connection; it keeps no state worth a clean exit.)
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def _signal(self, sig):
        try:
            if os.getpgid(self.proc.pid) == self.proc.pid:
                os.killpg(self.proc.pid, sig)
                return
        except OSError:
            pass
        self.proc.send_signal(sig)  # not yet its own group leader: it has forked no worker

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def rss(self):
        return {"rss_mb": round(_tree_rss_kb(self.proc.pid) / 1024, 1)}


def _combine(runs):
    """One figure from ROUNDS wrk runs: the total rate, the median p50 and the highest p99."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    p50 = sorted(r["p50_us"] for r in runs)[len(runs) // 2]
    return {"rps": requests / seconds, "requests": requests, "p50_ms": p50 / 1000,
            "p99_ms": max(r["p99_us"] for r in runs) / 1000, "rounds": [round(r["rps"], 1) for r in runs]}


def _side_by_side(bench):
    """Both responders up at once, checked, then timed alternately (peer first each round)."""
    st = _state.setdefault(bench.work, {})
    if "ours" not in st:
        ds = _dataset(bench)
        script = _wrk_script(bench)
        secs = _round_seconds(bench)
        with OurResponder(bench, ds) as ours, PeerResponder(bench, ds) as peer:
            st["check_ours"] = check_responder(bench, ds, ours.url, "ours")
            st["check_peer"] = check_responder(bench, ds, peer.url, "peer")
            st["peer_start_seconds"] = peer.start_seconds
            # Untimed: each responder first answers the requests for a second, as a responder in service would
            # have (ours then holds the signed answers in its cache; the peer's pages are in memory).
            # The peer runs only during its own runs: started before each, stopped right after (its workers spin
            # once wrk has gone, and would take the CPU from ours).
            peer.stop()
            for who, target, headers in (("peer", peer, PeerResponder.HEADERS), ("ours", ours, ())):
                if who == "peer":
                    peer.start()
                bench.wrk(target.url, script, WARMUP_SECONDS, threads=THREADS, connections=CONNECTIONS,
                          headers=headers, script_args=(ds["requests"], THREADS))
                if who == "peer":
                    peer.stop()
            runs = {"ours": [], "peer": []}
            rss = {}
            for _ in range(ROUNDS):
                for who, target, headers in (("peer", peer, PeerResponder.HEADERS), ("ours", ours, ())):
                    if who == "peer":
                        peer.start()
                    runs[who].append(bench.wrk(target.url, script, secs, threads=THREADS, connections=CONNECTIONS,
                                               headers=headers, script_args=(ds["requests"], THREADS)))
                    rss[who] = target.rss()
                    if who == "peer":
                        peer.stop()
        st["ours"] = dict(_combine(runs["ours"]), **rss["ours"])
        st["peer"] = dict(_combine(runs["peer"]), **rss["peer"])
    return st


def peer_openssl_ocsp(bench):
    st = _side_by_side(bench)
    ds = _dataset(bench)
    p = st["peer"]
    bench.emit("peer_openssl_ocsp", p["rps"], "ops/s", threads=THREADS, n=p["requests"], stored=ds["stored"],
               distinct=DISTINCT, concurrency=CONNECTIONS, p50_ms=p["p50_ms"], p99_ms=p["p99_ms"],
               rss_mb=p["rss_mb"], rounds=p["rounds"], checked=st["check_peer"]["checked"],
               start_seconds=round(st["peer_start_seconds"], 2), connection="close")


def ocsp_post(bench):
    st = _side_by_side(bench)
    ds = _dataset(bench)
    o, p = st["ours"], st["peer"]
    bench.emit("ocsp_post", o["rps"], "ops/s", threads=THREADS, n=o["requests"], stored=ds["stored"],
               distinct=DISTINCT, concurrency=CONNECTIONS, p50_ms=o["p50_ms"], p99_ms=o["p99_ms"],
               vs_peer_openssl_ocsp=round(o["rps"] / p["rps"], 3), rss_server_mb=o["rss_server_mb"],
               rss_plugin_mb=o["rss_plugin_mb"], rounds=o["rounds"], checked=st["check_ours"]["checked"],
               load_seconds=round(ds["load"]["seconds"], 2))


SCENARIOS = [
    ("peer_openssl_ocsp", peer_openssl_ocsp),
    ("ocsp_post", ocsp_post),
]
