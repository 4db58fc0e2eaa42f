"""Mixed load through pki-server (plugin out of process, RocksDB storage): 64 connections sending, in a fixed
interleaving, issue (stored), sign (distinct client CSRs), revoke (certificates issued for it beforehand), full
CRL reads and OCSP POSTs (through the API, /v1/pki/ocsp) for a bounded time. Every answer must be 2xx; the OCSP
and CRL answers of a sample are checked with openssl before the run.

Scenario load_mixed: ops/s over the whole mix, latency p50/p99/max, and the resident memory of pki-server and of
its pki-plugin after a warm-up run and after the measured run (growth reported, and bounded: RSS_BOUND_MB each
process at the end: the plugin's RocksDB keeps up to about 128 MB of recent writes in memtables (a WAL past
128 MB forces a flush) and a 128 MB block cache, storage/rocksdb_storage.cc).
Standard library only (plus the openssl CLI)."""

import json
import os
import subprocess
import tempfile
import urllib.request

from benchlib.common import BenchError, PkiDevServer, WRK_DONE_LUA, WRK_LENGTH_PREFIXED_LUA

CONNECTIONS = 64
THREADS = 2
# One request of each kind per slot, in this order, over and over (each wrk thread starts at its own offset):
# 40% issue, 20% sign, 10% revoke, 10% CRL, 20% OCSP.
MIX = ["issue", "sign", "ocsp", "issue", "revoke", "issue", "crl", "sign", "ocsp", "issue"]
RSS_BOUND_MB = {"server": 100, "plugin": 400}


OCSP_CERTS = 100  # certificates asked about over OCSP (a tenth of them revoked before the run)


def _durations(bench):
    """(warm-up seconds, measured seconds, certificates issued beforehand for the runs' revocations)."""
    return (1, 3, 1500) if bench.quick else (3, 15, 6000)


WRK_LOAD_LUA = r"""
local kinds = {%(mix)s}
local sign_bodies, revoke_bodies, ocsp_bodies = {}, {}, {}
local slot, n_sign, n_revoke, n_ocsp = 0, 0, 0, 0
local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end
local function lines(path, into)
  for line in io.lines(path) do
    if #line > 0 then into[#into + 1] = line end
  end
  if #into == 0 then error("no bodies in " .. path) end
end
function init(args)
  lines(args[1], sign_bodies)
  lines(args[2], revoke_bodies)
  ocsp_bodies = read_length_prefixed(args[3])
  -- Threads take disjoint CSRs and revocations (stride = thread count) and start at different slots of the mix;
  -- revocations start at args[5], past those an earlier run made.
  local stride = tonumber(args[4])
  slot, n_sign, n_revoke, n_ocsp = thread_id, thread_id, tonumber(args[5]) + thread_id, thread_id
  step = stride
end
-- wrk.format's headers replace wrk.headers (the -H token among them): each kind's set is a copy plus its type.
local json, der
local function with_type(content_type)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Content-Type"] = content_type
  return h
end
function request()
  if not json then json, der = with_type("application/json"), with_type("application/ocsp-request") end
  local kind = kinds[(slot %% #kinds) + 1]
  slot = slot + 1
  if kind == "issue" then
    return wrk.format("POST", "/v1/pki/issue/ec-stored", json, '{"common_name":"load.example.com","ttl":"1h"}')
  elseif kind == "sign" then
    local body = sign_bodies[(n_sign %% #sign_bodies) + 1]
    n_sign = n_sign + step
    return wrk.format("POST", "/v1/pki/sign/ec-stored", json, body)
  elseif kind == "revoke" then
    local body = revoke_bodies[(n_revoke %% #revoke_bodies) + 1]
    n_revoke = n_revoke + step
    return wrk.format("POST", "/v1/pki/revoke", json, body)
  elseif kind == "crl" then
    return wrk.format("GET", "/v1/pki/crl", wrk.headers)
  else
    local body = ocsp_bodies[(n_ocsp %% #ocsp_bodies) + 1]
    n_ocsp = n_ocsp + 1
    return wrk.format("POST", "/v1/pki/ocsp", der, body)
  end
end
"""


def _script(path):
    with open(path, "w") as f:
        f.write(WRK_LENGTH_PREFIXED_LUA)
        f.write(WRK_LOAD_LUA % {"mix": ", ".join('"%s"' % k for k in MIX)})
        f.write(WRK_DONE_LUA)
    return path


def _ocsp_requests(bench, server, leaves, out_path, d):
    """DER OCSP requests (no nonce, as browsers send them) for `leaves`, length-prefixed into out_path; checks the
    answers to the first good and the first revoked one with openssl."""
    ca = os.path.join(d, "ca.pem")
    with open(ca, "w") as f:
        f.write(server.request("GET", "pki/cert/ca")["data"]["certificate"])
    with open(out_path, "wb") as out:
        for i, pem in enumerate(leaves):
            leaf = os.path.join(d, "leaf%d.pem" % i)
            req = os.path.join(d, "req%d.der" % i)
            with open(leaf, "w") as f:
                f.write(pem)
            bench.run(["openssl", "ocsp", "-issuer", ca, "-cert", leaf, "-no_nonce", "-reqout", req])
            with open(req, "rb") as f:
                body = f.read()
            out.write(len(body).to_bytes(2, "big") + body)
    return ca


def load_mixed(bench):
    warm_s, load_s, prepared = _durations(bench)
    d = tempfile.mkdtemp(prefix="load-", dir=bench.work)
    csrs = bench.csr_file(20000 if bench.quick else 60000)
    with PkiDevServer(bench, "load_mixed") as server:
        server.request("POST", "pki/root/generate/internal",
                       {"common_name": "Load Root", "key_type": "ec", "key_bits": 256, "ttl": "720h"})
        server.request("POST", "pki/roles/ec-stored", {"allowed_domains": "example.com", "allow_subdomains": True,
                                                      "max_ttl": "24h", "ttl": "1h", "key_type": "ec",
                                                      "key_bits": 256})
        # Certificates to revoke during the run (each once, then again idempotently if the run outlasts them) and
        # to ask OCSP about (a tenth of them revoked now, so both answers are exercised).
        leaves = []
        for _ in range(prepared):
            data = server.request("POST", "pki/issue/ec-stored", {"common_name": "prep.example.com"})["data"]
            leaves.append((data["serial_number"], data["certificate"]))
        for _ in range(OCSP_CERTS):
            data = server.request("POST", "pki/issue/ec-stored", {"common_name": "ocsp.example.com"})["data"]
            leaves.append((data["serial_number"], data["certificate"]))
        ocsp_leaves = leaves[-OCSP_CERTS:]
        for serial, _ in ocsp_leaves[::10]:
            server.request("POST", "pki/revoke", {"serial_number": serial})
        revoke_path = os.path.join(d, "revoke.jsonl")
        with open(revoke_path, "w") as f:
            for serial, _ in leaves[:prepared]:
                f.write(json.dumps({"serial_number": serial}) + "\n")
        ocsp_path = os.path.join(d, "ocsp.bin")
        ca = _ocsp_requests(bench, server, [pem for _, pem in ocsp_leaves], ocsp_path, d)
        for want, (_, pem) in (("revoked", ocsp_leaves[0]), ("good", ocsp_leaves[1])):
            leaf = os.path.join(d, "check.pem")
            with open(leaf, "w") as f:
                f.write(pem)
            out = subprocess.run(["openssl", "ocsp", "-issuer", ca, "-cert", leaf, "-no_nonce", "-CAfile", ca,
                                  "-url", server.addr + "/v1/pki/ocsp"], capture_output=True, text=True)
            if out.returncode != 0 or ": " + want not in out.stdout or "Response verify OK" not in out.stderr:
                raise BenchError("OCSP answer for a %s certificate: %s %s" % (want, out.stdout, out.stderr))
        crl = os.path.join(d, "crl.der")
        with open(crl, "wb") as f:
            f.write(_get(server, "pki/crl"))
        checked = bench.run(["openssl", "crl", "-inform", "DER", "-in", crl, "-CAfile", ca, "-noout"])
        if "verify OK" not in checked.stderr + checked.stdout:  # openssl crl exits 0 on a failed verification
            raise BenchError("the CRL does not verify: %s%s" % (checked.stdout, checked.stderr))

        script = _script(os.path.join(d, "load.lua"))
        warm_run = bench.wrk(server.addr, script, warm_s, THREADS, CONNECTIONS, headers=[server.token_header()],
                             script_args=[csrs, revoke_path, ocsp_path, THREADS, 0])
        warm = server.rss_kb()
        # Exactly one request in len(MIX) is a revocation: the measured run starts past the warm-up's (and those
        # in flight when it stopped), so that its revocations are new ones until the prepared list runs out.
        revoked_before = warm_run["requests"] * MIX.count("revoke") // len(MIX) + CONNECTIONS
        summary = bench.wrk(server.addr, script, load_s, THREADS, CONNECTIONS, headers=[server.token_header()],
                            script_args=[csrs, revoke_path, ocsp_path, THREADS, revoked_before])
        revokes = summary["requests"] * MIX.count("revoke") // len(MIX)
        new_revokes = max(0, min(revokes, prepared - revoked_before))
        after = server.rss_kb()
    rss = {k: round(v / 1024.0, 1) for k, v in after.items()}
    growth = {k: round((after[k] - warm[k]) / 1024.0, 1) for k in after}
    over = [k for k in rss if rss[k] > RSS_BOUND_MB[k]]
    if over:
        raise BenchError("load_mixed: resident memory beyond its bound: %s (bounds %s MB)" % (rss, RSS_BOUND_MB))
    bench.emit("load_mixed", summary["rps"], "ops/s", threads=THREADS, n=summary["requests"],
               concurrency=CONNECTIONS, seconds=load_s, mix="40% issue, 20% sign, 10% revoke, 10% crl, 20% ocsp",
               errors=0, p50_ms=summary["p50_us"] / 1000.0, p99_ms=summary["p99_us"] / 1000.0,
               max_ms=summary["max_us"] / 1000.0, revocations=revokes, new_revocations=new_revokes,
               server_rss_mb=rss["server"], plugin_rss_mb=rss["plugin"],
               server_rss_growth_mb=growth["server"], plugin_rss_growth_mb=growth["plugin"],
               rss_bound_mb=RSS_BOUND_MB)


def _get(server, path):
    req = urllib.request.Request(server.addr + "/v1/" + path, headers={"X-Vault-Token": server.TOKEN})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


SCENARIOS = [
    ("load_mixed", load_mixed),
]
