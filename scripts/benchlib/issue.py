"""Issuance and signing through pki-server over HTTP (plugin out of process), each beside its OpenSSL ceiling
measured right before and right after it on the same threads, and the cfssl peer signing the same CSRs.

Scenarios: issue_ec256_stored, issue_ec256_nostore, issue_rsa2048_stored (wrk POST /v1/pki/issue/<role>),
peer_cfssl_sign (cfssl serve, POST /api/v1/cfssl/sign), sign_ec256_stored (wrk POST /v1/pki/sign/<role> with
distinct client CSRs), plugin_roundtrip (wrk GET /v1/pki/roles/ec-stored: the transport alone, and what it leaves of the
ceiling for issuance). wrk -t2, HTTP/1.1 keep-alive; every response must be 2xx. Each scenario's headline runs at
CONNECTIONS concurrent connections, then a sweep over SWEEP (quick: QUICK_SWEEP) emits <name>_c<N> lines for the
throughput-against-concurrency plot. fsync_latency (first) is the storage's durable-write floor: a stored
certificate waits for one fdatasync, so with N requests in flight stored issuance cannot pass N / fsync_latency."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from benchlib.common import (BenchError, PkiDevServer, log, wrk_cycling_post_script, wrk_get_script,
                              wrk_static_post_script)

THREADS = 2
CONNECTIONS = 64              # headline concurrency (wrk connections)
SWEEP = (1, 4, 16, 256)       # further concurrencies of the sweep (3 s each; wrk threads: at most one per connection)
QUICK_SWEEP = (4, 16)         # --quick: 1 s each


def _durations(bench):
    """(load seconds, ceiling seconds before and after)."""
    return (3, 1.5) if bench.quick else (10, 3)


def _ceiling_seconds(bench, kind):
    # RSA-2048 keygen takes tens of ms with a wide spread: give its ceiling enough keys to be a rate.
    _, ceil_s = _durations(bench)
    return max(ceil_s, 4) if kind == "issue_rsa2048" else ceil_s


def _emit_ceiling(bench, kind, before, after, scenario):
    """Emits ceiling_<kind> (the mean of the runs before and after `scenario`) and returns that mean."""
    limit = (before["ops_per_sec"] + after["ops_per_sec"]) / 2
    bench.emit("ceiling_" + kind, limit, "ops/s", threads=before["threads"], n=before["n"] + after["n"],
               before=before["ops_per_sec"], after=after["ops_per_sec"], scenario=scenario)
    return limit


def _csr_count(bench):
    # Enough distinct CSRs for a few seconds at several thousand signs/s; past that the file wraps (reported).
    return 20000 if bench.quick else 60000


def _setup_pki(server):
    """A P-256 root and the roles the scenarios use."""
    server.request("POST", "pki/root/generate/internal",
                   {"common_name": "Bench Root", "key_type": "ec", "key_bits": 256, "ttl": "720h"})
    common = {"allowed_domains": "example.com", "allow_subdomains": True, "max_ttl": "24h", "ttl": "1h"}
    server.request("POST", "pki/roles/ec-stored", dict(common, key_type="ec", key_bits=256, no_store=False))
    server.request("POST", "pki/roles/ec-nostore", dict(common, key_type="ec", key_bits=256, no_store=True))
    server.request("POST", "pki/roles/rsa-stored", dict(common, key_type="rsa", key_bits=2048, no_store=False))


def _stored_count(server):
    try:
        data = server.request("LIST", "pki/certs")
    except BenchError as e:
        if "-> 404" in str(e):
            return 0
        raise
    return len(data["data"]["keys"])


def _sweep(bench, url, script, headers=(), lines_file=None):
    """The runs after a headline run: [(connections, wrk summary)] at each concurrency of SWEEP (3 s each; quick:
    QUICK_SWEEP, 1 s), with at most one wrk thread per connection (wrk refuses more). `lines_file`: the cycling
    script's file, strided by the thread count."""
    points = []
    for c, secs in ([(c, 1) for c in QUICK_SWEEP] if bench.quick else [(c, 3) for c in SWEEP]):
        threads = min(THREADS, c)
        script_args = [lines_file, threads] if lines_file else ()
        points.append((c, bench.wrk(url, script, secs, threads, c, headers=headers, script_args=script_args)))
    return points


def _emit_sweep(bench, name, points, limit=None, peer=None):
    """<name>_c<N> lines; with `peer` (a scenario name), vs_<peer> from its sweep line at the same concurrency."""
    for c, summary in points:
        extra = {}
        peer_line = bench.results.get("%s_c%d" % (peer, c)) if peer else None
        if peer_line:
            extra["vs_" + peer] = round(summary["rps"] / peer_line["value"], 3)
        bench.emit("%s_c%d" % (name, c), summary["rps"], "ops/s", limit=limit, threads=THREADS,
                   n=summary["requests"], concurrency=c, p50_ms=summary["p50_us"] / 1000.0,
                   p99_ms=summary["p99_us"] / 1000.0, **extra)


def fsync_latency(bench):
    """Mean fdatasync of a 300-byte append in the work directory (the file system the servers' data dirs use)."""
    path = os.path.join(bench.work, "fsync-probe")
    count = 100 if bench.quick else 300
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"x" * 300)
            os.fdatasync(fd)
        mean_ms = (time.perf_counter() - start) / count * 1000.0
    finally:
        os.close(fd)
        os.unlink(path)
    bench.emit("fsync_latency", mean_ms, "ms", threads=1, n=count,
               stored_ceiling_at_headline=round(CONNECTIONS / (mean_ms / 1000.0)))


def _check_stored(server, before, headline, points, stored):
    """Every answered issue of a stored role (the headline run's and the sweep's) left a record, and requests in
    flight when a wrk run stopped (at most its connections) may add some more; a no_store role left none."""
    requests = headline["requests"] + sum(p["requests"] for _, p in points)
    in_flight = CONNECTIONS + sum(c for c, _ in points)
    delta = _stored_count(server) - before
    if stored and not requests <= delta <= requests + in_flight:
        raise BenchError("stored %d certificates for %d answered requests" % (delta, requests))
    if not stored and delta != 0:
        raise BenchError("no_store role stored %d certificates" % delta)
    return delta


def _issue_scenario(bench, name, role, ceiling_kind, stored):
    load_s, _ = _durations(bench)
    ceil_s = _ceiling_seconds(bench, ceiling_kind)
    with PkiDevServer(bench, name) as server:
        _setup_pki(server)
        body = json.dumps({"common_name": "bench.example.com", "ttl": "1h"})
        # One request by hand first: the role works and answers a certificate.
        first = server.request("POST", "pki/issue/" + role, json.loads(body))
        if "BEGIN CERTIFICATE" not in first["data"]["certificate"]:
            raise BenchError("issue/%s answered no certificate" % role)
        before = _stored_count(server)
        script = wrk_static_post_script(os.path.join(bench.work, name + ".lua"), body)
        ceil_before = bench.ceiling(ceiling_kind, ceil_s, THREADS)
        summary = bench.wrk(server.addr + "/v1/pki/issue/" + role, script, load_s, THREADS, CONNECTIONS,
                            headers=[server.token_header()])
        ceil_after = bench.ceiling(ceiling_kind, ceil_s, THREADS)
        rss = server.rss_kb()
        points = []
        if ceiling_kind != "issue_rsa2048":  # keygen-bound: concurrency changes nothing worth the minutes
            points = _sweep(bench, server.addr + "/v1/pki/issue/" + role, script, headers=[server.token_header()])
        delta = _check_stored(server, before, summary, points, stored)
    limit = _emit_ceiling(bench, ceiling_kind, ceil_before, ceil_after, name)
    bench.emit(name, summary["rps"], "ops/s", limit=limit, threads=THREADS, n=summary["requests"],
               concurrency=CONNECTIONS, p50_ms=summary["p50_us"] / 1000.0, p99_ms=summary["p99_us"] / 1000.0,
               stored=delta, server_rss_mb=rss["server"] / 1024.0, plugin_rss_mb=rss["plugin"] / 1024.0)
    _emit_sweep(bench, name, points, limit)


def issue_ec256_stored(bench):
    _issue_scenario(bench, "issue_ec256_stored", "ec-stored", "issue_ec256", stored=True)


def issue_ec256_nostore(bench):
    _issue_scenario(bench, "issue_ec256_nostore", "ec-nostore", "issue_ec256", stored=False)


def plugin_roundtrip(bench):
    """GET pki/roles/ec-stored at the headline concurrency: the whole way of an issue request (wrk, HTTP, token and
    ACL check, gRPC over AutoMTLS to the plugin and back, a JSON answer in Vault's envelope) with next to no engine
    work (a role read, its parse memoised), beside the issue_ec256 ceiling. `issue_ratio_bound` is the ratio issue_ec256_* would reach if the engine spent
    only the ceiling's keygen+sign on top of this round trip: with R round trips/s and a ceiling of C pairs/s on
    the same cores, 1 / (1 + C / R)."""
    load_s, ceil_s = _durations(bench)
    with PkiDevServer(bench, "plugin_roundtrip") as server:
        _setup_pki(server)
        url = server.addr + "/v1/pki/roles/ec-stored"
        script = wrk_get_script(os.path.join(bench.work, "plugin_roundtrip.lua"))
        ceil_before = bench.ceiling("issue_ec256", ceil_s, THREADS)
        summary = bench.wrk(url, script, load_s, THREADS, CONNECTIONS, headers=[server.token_header()])
        ceil_after = bench.ceiling("issue_ec256", ceil_s, THREADS)
    limit = _emit_ceiling(bench, "issue_ec256", ceil_before, ceil_after, "plugin_roundtrip")
    bench.emit("plugin_roundtrip", summary["rps"], "ops/s", threads=THREADS, n=summary["requests"],
               concurrency=CONNECTIONS, p50_ms=summary["p50_us"] / 1000.0, p99_ms=summary["p99_us"] / 1000.0,
               issue_ratio_bound=round(1 / (1 + limit / summary["rps"]), 3))


def issue_rsa2048_stored(bench):
    _issue_scenario(bench, "issue_rsa2048_stored", "rsa-stored", "issue_rsa2048", stored=True)


def _cfssl_bodies(bench, csr_path):
    """The same CSRs as cfssl sign bodies ({"certificate_request": PEM}), made once per run."""
    key = ("cfssl-bodies", csr_path)
    if key not in bench.shared:
        out_path = csr_path.replace(".jsonl", "-cfssl.jsonl")
        with open(csr_path) as src, open(out_path, "w") as dst:
            for line in src:
                if line.strip():
                    dst.write(json.dumps({"certificate_request": json.loads(line)["csr"]}) + "\n")
        bench.shared[key] = out_path
    return bench.shared[key]


def _cfssl_ca(bench):
    """An EC P-256 CA (openssl) and a cfssl signing config for 1 h server certificates."""
    d = os.path.join(bench.work, "cfssl")
    os.makedirs(d, exist_ok=True)
    key, cert, config = (os.path.join(d, n) for n in ("ca-key.pem", "ca.pem", "config.json"))
    bench.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", key])
    bench.run(["openssl", "req", "-x509", "-new", "-key", key, "-sha256", "-days", "30", "-subj", "/CN=Bench cfssl Root",
               "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
               "-out", cert])
    with open(config, "w") as f:
        json.dump({"signing": {"default": {"expiry": "1h",
                                           "usages": ["digital signature", "key encipherment", "server auth"]}}}, f)
    return key, cert, config


def _post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise BenchError("POST %s -> %d: %s" % (url, e.code, e.read()[:500].decode(errors="replace")))


def peer_cfssl_sign(bench):
    load_s, _ = _durations(bench)
    csrs = bench.csr_file(_csr_count(bench))
    bodies = _cfssl_bodies(bench, csrs)
    key, cert, config = _cfssl_ca(bench)
    port = bench.free_port()
    argv = ["cfssl", "serve", "-address", "127.0.0.1", "-port", str(port), "-ca", cert, "-ca-key", key,
            "-config", config, "-loglevel", "2"]
    log("$ " + " ".join(argv))
    log_path = os.path.join(bench.work, "cfssl", "serve.log")
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d/api/v1/cfssl/sign" % port
        with open(bodies) as f:
            sample = json.loads(f.readline())
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                raise BenchError("cfssl serve exited %s" % proc.returncode)
            try:
                answer = _post_json(url, sample)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.time() > deadline:
                    raise BenchError("cfssl serve did not answer")
                time.sleep(0.1)
        if not answer.get("success") or "BEGIN CERTIFICATE" not in answer["result"]["certificate"]:
            raise BenchError("cfssl sign answered no certificate: %s" % json.dumps(answer)[:500])
        script = wrk_cycling_post_script(os.path.join(bench.work, "peer_cfssl_sign.lua"))
        summary = bench.wrk(url, script, load_s, THREADS, CONNECTIONS, script_args=[bodies, THREADS])
        points = _sweep(bench, url, script, lines_file=bodies)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    distinct = _csr_count(bench)
    bench.emit("peer_cfssl_sign", summary["rps"], "ops/s", threads=THREADS, n=summary["requests"],
               concurrency=CONNECTIONS, p50_ms=summary["p50_us"] / 1000.0, p99_ms=summary["p99_us"] / 1000.0,
               csrs_distinct=min(distinct, summary["requests"]))
    _emit_sweep(bench, "peer_cfssl_sign", points)


def sign_ec256_stored(bench):
    load_s, ceil_s = _durations(bench)
    csrs = bench.csr_file(_csr_count(bench))
    name = "sign_ec256_stored"
    with PkiDevServer(bench, name) as server:
        _setup_pki(server)
        with open(csrs) as f:
            first = server.request("POST", "pki/sign/ec-stored", json.loads(f.readline()))
        if "BEGIN CERTIFICATE" not in first["data"]["certificate"]:
            raise BenchError("sign/ec-stored answered no certificate")
        before = _stored_count(server)
        script = wrk_cycling_post_script(os.path.join(bench.work, name + ".lua"))
        ceil_before = bench.ceiling("sign_ec256", ceil_s, THREADS)
        summary = bench.wrk(server.addr + "/v1/pki/sign/ec-stored", script, load_s, THREADS, CONNECTIONS,
                            headers=[server.token_header()], script_args=[csrs, THREADS])
        ceil_after = bench.ceiling("sign_ec256", ceil_s, THREADS)
        rss = server.rss_kb()
        points = _sweep(bench, server.addr + "/v1/pki/sign/ec-stored", script, headers=[server.token_header()],
                        lines_file=csrs)
        delta = _check_stored(server, before, summary, points, stored=True)
    limit = _emit_ceiling(bench, "sign_ec256", ceil_before, ceil_after, name)
    peer = bench.results.get("peer_cfssl_sign")
    extra = {}
    if peer:
        extra["vs_peer_cfssl_sign"] = round(summary["rps"] / peer["value"], 3)
    bench.emit(name, summary["rps"], "ops/s", limit=limit, threads=THREADS, n=summary["requests"],
               concurrency=CONNECTIONS, p50_ms=summary["p50_us"] / 1000.0, p99_ms=summary["p99_us"] / 1000.0,
               stored=delta, csrs_distinct=min(_csr_count(bench), summary["requests"]),
               server_rss_mb=rss["server"] / 1024.0, plugin_rss_mb=rss["plugin"] / 1024.0, **extra)
    _emit_sweep(bench, name, points, limit, peer="peer_cfssl_sign")


SCENARIOS = [
    ("fsync_latency", fsync_latency),
    ("issue_ec256_stored", issue_ec256_stored),
    ("issue_ec256_nostore", issue_ec256_nostore),
    ("plugin_roundtrip", plugin_roundtrip),
    ("issue_rsa2048_stored", issue_rsa2048_stored),
    ("peer_cfssl_sign", peer_cfssl_sign),
    ("sign_ec256_stored", sign_ec256_stored),
]
