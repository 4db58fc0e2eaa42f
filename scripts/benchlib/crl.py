"""CRL scenarios: full rebuild with 1M revoked against `openssl ca -gencrl` over the same serials, the delta CRL
after a revoke, and revoke latency with 1M revoked against an empty set.

The data set (a RocksDB mount with a CA and N revoked, written by `pki_bench crl-load` through the storage layer
in the engine's key layout) is loaded once per run and shared by the scenarios; its load time is emitted as
crl_load_1m. --quick uses 100k revoked instead of 1M under the same names (`n` is the real count).
crl_full_10m (10M revoked, SST-ingested) is in scale.py.

Standard library only; depends on the Bench API of scripts/benchlib/common.py (quick, tool, work, emit).
"""

import json
import os
import subprocess
import sys
import time

FULL_N = 1_000_000
QUICK_N = 100_000
REVOKES = 20  # revocations timed per mount in crl-delta (median reported)
ROUNDS = 3  # full rebuilds timed, ours and the peer's alternately, after our first (medians reported)

_state = {}  # per run (keyed by the work directory): the data set, the peer's and crl-delta's results


def _n(bench):
    return QUICK_N if bench.quick else FULL_N


def _log(msg):
    print("[crl] " + msg, file=sys.stderr, flush=True)


def _tool_json(bench, *args):
    """Runs a pki_bench subcommand and returns the JSON object it prints."""
    argv = [bench.tool, *args]
    _log(" ".join(argv))
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return json.loads(p.stdout.strip().splitlines()[-1])


def _run_measured(argv, cwd):
    """Runs argv; returns (wall seconds, max RSS in kB) of that process alone (os.wait4's rusage)."""
    _log(" ".join(argv))
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), proc.returncode, err.strip()))
    return seconds, usage.ru_maxrss


def _st(bench):
    return _state.setdefault(bench.work, {})


def _dataset(bench):
    """Loads the data set once per run: (directory, openssl index path, crl-load's report)."""
    st = _st(bench)
    if "dataset" not in st:
        n = _n(bench)
        base = os.path.join(bench.work, "crl")
        os.makedirs(base, exist_ok=True)
        d = os.path.join(base, "dataset")
        index = os.path.join(base, "index.txt")
        load = _tool_json(bench, "crl-load", "--dir", d, "--revoked", str(n), "--openssl-index", index)
        bench.emit("crl_load_1m", round(load["seconds"], 3), "s", n=n, threads=1,
                   records_per_second=round(load["records_per_second"]), bytes=load["bytes"])
        st["dataset"] = (d, index, load)
    return st["dataset"]


PEER_CNF = """[ca]
default_ca = bench
[bench]
database = index.txt
crlnumber = crlnumber
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_crl_days = 3
"""


def _peer_setup(bench):
    """The peer's directory: openssl ca's index.txt of the data set's revoked serials, an EC P-256 CA as ours."""
    _, index, _ = _dataset(bench)
    peer = os.path.join(bench.work, "crl", "peer")
    os.makedirs(peer, exist_ok=True)
    os.replace(index, os.path.join(peer, "index.txt"))
    with open(os.path.join(peer, "ca.cnf"), "w") as f:
        f.write(PEER_CNF)
    with open(os.path.join(peer, "crlnumber"), "w") as f:
        f.write("1000\n")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Peer Root", "-days", "30"],
                   cwd=peer, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return peer


def _peer_check(bench, peer):
    """The peer's CRL must verify and hold every entry, or the comparison means nothing. Returns its entries."""
    out = subprocess.run(["openssl", "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-text"],
                         cwd=peer, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    entries = out.stdout.count("Serial Number:")
    if "verify OK" not in out.stderr or entries != _n(bench):
        raise RuntimeError("openssl ca -gencrl: CRL not verified or %d entries instead of %d" % (entries, _n(bench)))
    return entries


def _side_by_side(bench):
    """Our full rebuild and the peer's, alternated ROUNDS times (each in its own process) so that both see the same
    machine: the median time and the highest peak RSS of each. Our first rebuild after the load runs before them
    (it also prunes the loaded revocations' delta index, as the engine's first rebuild after them would)."""
    st = _st(bench)
    if "full" not in st:
        d, _, _ = _dataset(bench)
        peer = _peer_setup(bench)
        first = _tool_json(bench, "crl-build", "--dir", d)
        ours, theirs = [], []
        for _ in range(ROUNDS):
            theirs.append(_run_measured(["openssl", "ca", "-gencrl", "-config", "ca.cnf", "-out", "crl.pem"], peer))
            ours.append(_tool_json(bench, "crl-build", "--dir", d))
        entries = _peer_check(bench, peer)
        st["peer"] = {"seconds": _median([t for t, _ in theirs]), "rss_kb": max(r for _, r in theirs),
                      "entries": entries, "bytes": os.path.getsize(os.path.join(peer, "crl.pem"))}
        st["full"] = {"seconds": _median([r["seconds"] for r in ours]), "first_seconds": first["seconds"],
                      "max_rss_kb": max(r["max_rss_kb"] for r in ours),
                      "rss_after_open_kb": max(r["rss_after_open_kb"] for r in ours),
                      "entries": ours[-1]["entries"], "bytes": ours[-1]["bytes"]}
    return st


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def _delta(bench):
    st = _st(bench)
    if "delta" not in st:
        d, _, _ = _dataset(bench)
        _side_by_side(bench)  # crl-delta adds revocations: the full builds measure the loaded set first
        st["delta"] = _tool_json(bench, "crl-delta", "--dir", d, "--revokes", str(REVOKES))
    return st["delta"]


def peer_openssl_ca_crl(bench):
    p = _side_by_side(bench)["peer"]
    bench.emit("peer_openssl_ca_crl_1m", round(p["seconds"], 3), "s", n=p["entries"], threads=1,
               max_rss_mb=round(p["rss_kb"] / 1024, 1), bytes_pem=p["bytes"])


def crl_full(bench):
    st = _side_by_side(bench)
    p, f = st["peer"], st["full"]
    rss_mb = f["max_rss_kb"] / 1024
    bench.emit("crl_full_1m", round(f["seconds"], 3), "s", n=f["entries"], threads=1,
               entries=f["entries"], max_rss_mb=round(rss_mb, 1),
               first_build_seconds=round(f["first_seconds"], 3), bytes=f["bytes"],
               rss_after_open_mb=round(f["rss_after_open_kb"] / 1024, 1),
               speedup_vs_peer=round(p["seconds"] / f["seconds"], 2),
               rss_ratio_vs_peer=round(f["max_rss_kb"] / p["rss_kb"], 3))


def crl_delta_after_revoke(bench):
    r = _delta(bench)
    bench.emit("crl_delta_after_revoke", round(r["delta_ms"], 3), "ms", n=r["revoked_before"], threads=1,
               delta_entries=r["delta_entries"])


def revoke_latency(bench):
    r = _delta(bench)
    bench.emit("revoke_latency_1m", round(r["revoke_ms"], 3), "ms", n=r["revoked_before"], threads=1,
               vs_empty=round(r["vs_empty"], 3), empty_ms=round(r["revoke_ms_empty"], 3), samples=r["revokes"])


SCENARIOS = [
    ("peer_openssl_ca_crl_1m", peer_openssl_ca_crl),
    ("crl_full_1m", crl_full),
    ("crl_delta_after_revoke", crl_delta_after_revoke),
    ("revoke_latency_1m", revoke_latency),
]
