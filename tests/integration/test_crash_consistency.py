"""Crash consistency: issuance, revocation and configuration load against the real pki-server -dev, on a mount whose
pki-plugin keeps its own RocksDB (pki/) and on one with storage=host (pki-host/), while the test kills a plugin and
then the server with SIGKILL at random moments, round after round. After every restart:

- every certificate whose issue answer reached the client is readable at cert/:serial (and, at the end, listed by
  LIST certs);
- every acknowledged revocation reads as revoked there, is on the next CRL and answers "revoked" over OCSP (a
  sample), and, at the end, is listed by LIST certs/revoked;
- CRL numbers never go backwards;
- every acknowledged role write reads back whole, every listed role, issuer and key reads back, every
  acknowledged key or issuer is there.

A SIGKILL ends processes, not the machine: what a process wrote to the kernel survives it, so this finds writes
held in memory (memtables without a WAL, buffers, answers sent before the write) and half-applied batches, not a
missing fsync (docs/design.md states the fsync policy: every acknowledged certificate and revocation is synced).

Rounds: PKI_CRASH_ROUNDS (default 50, about 90 s), each bounded; PKI_CRASH_SEED fixes the random choices (printed
otherwise).

Run by ctest as: /usr/bin/python3 test_crash_consistency.py --bin-dir build/bin
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

ROUNDS = int(os.environ.get("PKI_CRASH_ROUNDS", "50"))
SEED = int(os.environ.get("PKI_CRASH_SEED", str(int(time.time()))))
MOUNTS = ("pki", "pki-host")


def serial_int(serial):
    return int(serial.replace(":", "").replace("-", ""), 16)


class Acks:
    """What the server acknowledged (a 2xx answer reached the client), per mount."""

    def __init__(self):
        self.lock = threading.Lock()
        self.issued = {m: set() for m in MOUNTS}
        self.revoked = {m: set() for m in MOUNTS}
        self.maybe_revoked = {m: set() for m in MOUNTS}  # revocations sent, answer lost (may have landed)
        self.roles = {m: {} for m in MOUNTS}     # name -> ttl seconds last acknowledged
        self.keys = {m: set() for m in MOUNTS}   # key names
        self.issuers = {m: set() for m in MOUNTS}  # issuer names
        self.pending_roles = {m: {} for m in MOUNTS}  # name -> ttls sent without an answer (may have landed)


class Load:
    """Client threads against both mounts until stop() (errors while the plugin or server is down are expected)."""

    def __init__(self, addr, token, acks, rnd):
        self.addr, self.token, self.acks, self.rnd = addr, token, acks, rnd
        self.stopping = threading.Event()
        self.threads = []
        self.counter = 0

    def post(self, session, path, body):
        try:
            r = session.post(self.addr + "/v1/" + path, json=body, timeout=5, headers={"X-Vault-Token": self.token})
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 and r.text else ({} if r.status_code in (200, 204) else None)

    def next_id(self):
        with self.acks.lock:
            self.counter += 1
            return self.counter

    def issuer_loop(self, mount, seed):
        rnd = random.Random(seed)
        with requests.Session() as s:
            while not self.stopping.is_set():
                if rnd.random() < 0.3:
                    with self.acks.lock:
                        choices = sorted(self.acks.issued[mount] - self.acks.revoked[mount])
                    if choices:
                        serial = rnd.choice(choices)
                        with self.acks.lock:
                            self.acks.maybe_revoked[mount].add(serial)
                        if self.post(s, mount + "/revoke", {"serial_number": serial}) is not None:
                            with self.acks.lock:
                                self.acks.revoked[mount].add(serial)
                        continue
                out = self.post(s, mount + "/issue/web", {"common_name": "h%d.example.com" % self.next_id()})
                if out is not None:
                    with self.acks.lock:
                        self.acks.issued[mount].add(out["data"]["serial_number"])

    def config_loop(self, mount, seed):
        rnd = random.Random(seed)
        with requests.Session() as s:
            while not self.stopping.is_set():
                n = self.next_id()
                kind = rnd.random()
                if kind < 0.7:
                    name, ttl = "r%d" % rnd.randrange(8), 60 + n
                    with self.acks.lock:
                        self.acks.pending_roles[mount].setdefault(name, set()).add(ttl)
                    if self.post(s, mount + "/roles/" + name, {"allow_any_name": True, "ttl": ttl,
                                                              "key_type": "ec", "key_bits": 256}) is not None:
                        with self.acks.lock:
                            self.acks.roles[mount][name] = ttl
                            self.acks.pending_roles[mount][name] = {t for t in self.acks.pending_roles[mount][name]
                                                                    if t > ttl}
                elif kind < 0.85:
                    name = "k%d" % n
                    if self.post(s, mount + "/keys/generate/internal", {"key_name": name, "key_type": "ec"}) is not None:
                        with self.acks.lock:
                            self.acks.keys[mount].add(name)
                else:
                    name = "i%d" % n
                    if self.post(s, mount + "/issuers/generate/root/internal",
                                 {"common_name": "Crash Root %d" % n, "issuer_name": name, "key_type": "ec",
                                  "ttl": "720h"}) is not None:
                        with self.acks.lock:
                            self.acks.issuers[mount].add(name)

    def start(self):
        for m in MOUNTS:
            for i in range(2):
                self.threads.append(threading.Thread(target=self.issuer_loop, args=(m, self.rnd.random())))
            self.threads.append(threading.Thread(target=self.config_loop, args=(m, self.rnd.random())))
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


class CrashConsistency(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.DevServer(ARGS.bin_dir)
        cls.addClassCleanup(cls.server.cleanup)  # also when setUpClass fails (tearDownClass does not run then)
        cls.session = requests.Session()
        cls.addClassCleanup(cls.session.close)
        cls.server.start()
        cls.call("POST", "sys/mounts/pki-host", {"type": "pki", "options": {"storage": "host"}})
        for m in MOUNTS:
            cls.call("POST", m + "/root/generate/internal", {"common_name": m + " crash root", "key_type": "ec",
                                                              "ttl": "8760h"})
            cls.call("POST", m + "/roles/web", {"allowed_domains": "example.com", "allow_subdomains": True,
                                                "ttl": "1h", "key_type": "ec", "key_bits": 256})

    @classmethod
    def call(cls, method, path, body=None, ok=(200, 204), headers=None, **kw):
        r = cls.session.request(method, cls.server.addr + "/v1/" + path, json=body, timeout=60,
                                headers=dict({"X-Vault-Token": cls.server.token}, **(headers or {})), **kw)
        if r.status_code not in ok:
            raise AssertionError("%s %s -> %d: %s" % (method, path, r.status_code, r.text))
        return r

    def kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def crash_round(self, acks, rnd):
        """Load, then SIGKILL a plugin at a random moment, then the server; leaves the server stopped."""
        load = Load(self.server.addr, self.server.token, acks, rnd)
        load.start()
        try:
            time.sleep(rnd.uniform(0.05, 0.6))
            plugins = sorted(harness.plugin_pids(self.server))
            if plugins and rnd.random() < 0.8:
                self.kill(rnd.choice(plugins))
            time.sleep(rnd.uniform(0.0, 0.5))
            # Frozen first, so that no plugin it relaunches escapes the list of those to wait for.
            os.kill(self.server.proc.pid, signal.SIGSTOP)
            children = harness.plugin_pids(self.server)
            self.kill(self.server.proc.pid)
            self.server.proc.wait()
            self.server.proc = None
        finally:
            load.stop()
        # A plugin outlives its host only until it notices: wait for every one (they hold their mount's RocksDB).
        deadline = time.time() + 20
        while any(harness.process_alive(p) for p in children) and time.time() < deadline:
            time.sleep(0.02)
        for p in children:
            self.assertFalse(harness.process_alive(p), "plugin %d outlived its killed server" % p)

    def crl_serials(self, mount):
        der = self.call("GET", mount + "/crl").content
        crl = x509.load_der_x509_crl(der)
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        return {r.serial_number for r in crl}, number

    def check_ocsp(self, mount, serials):
        issuer = x509.load_pem_x509_certificate(self.call("GET", mount + "/ca/pem").content)
        for serial in serials:
            pem = self.call("GET", mount + "/cert/" + serial).json()["data"]["certificate"]
            cert = x509.load_pem_x509_certificate(pem.encode())
            req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
            r = self.call("POST", mount + "/ocsp", ok=(200,), data=req.public_bytes(serialization.Encoding.DER),
                          headers={"Content-Type": "application/ocsp-request"})
            answer = ocsp.load_der_ocsp_response(r.content)
            self.assertEqual(answer.certificate_status, ocsp.OCSPCertStatus.REVOKED, "%s %s" % (mount, serial))

    def check(self, acks, last_crl, rnd, full=False):
        for m in MOUNTS:
            with acks.lock:
                issued, revoked, maybe = set(acks.issued[m]), set(acks.revoked[m]), set(acks.maybe_revoked[m])
                roles, pending = dict(acks.roles[m]), {k: set(v) for k, v in acks.pending_roles[m].items()}
                keys, issuers = set(acks.keys[m]), set(acks.issuers[m])
            # Issued and revoked: each read back (all of them at the end, a sample in between).
            sample = sorted(issued) if full else rnd.sample(sorted(issued), min(len(issued), 40))
            for serial in sample:
                r = self.call("GET", m + "/cert/" + serial, ok=(200, 404))
                self.assertEqual(r.status_code, 200, "%s: acknowledged certificate %s lost" % (m, serial))
                revocation = r.json()["data"]["revocation_time"]
                if serial in revoked:
                    self.assertGreater(revocation, 0, "%s: acknowledged revocation of %s lost" % (m, serial))
                elif serial not in maybe:
                    self.assertEqual(revocation, 0, "%s: %s revoked by nobody" % (m, serial))
            on_crl, number = self.crl_serials(m)
            self.assertGreaterEqual(number, last_crl[m], "%s: CRL number went back" % m)
            last_crl[m] = number
            missing = {s for s in revoked if serial_int(s) not in on_crl}
            self.assertFalse(missing, "%s: acknowledged revocations missing from CRL %d: %s" % (m, number, missing))
            self.check_ocsp(m, rnd.sample(sorted(revoked), min(len(revoked), 5)))
            # Configuration: acknowledged writes whole, everything listed readable.
            listed_roles = self.call("LIST", m + "/roles", ok=(200,)).json()["data"]["keys"]
            for name in listed_roles:
                role = self.call("GET", m + "/roles/" + name, ok=(200,)).json()["data"]
                if name in roles:
                    # The last acknowledged write, or a later one whose answer was lost in a crash.
                    self.assertIn(role["ttl"], {roles[name]} | pending.get(name, set()), "%s role %s" % (m, name))
                self.assertEqual(role["key_type"], "ec", "%s role %s" % (m, name))
            self.assertTrue(set(roles) <= set(listed_roles), "%s: acknowledged roles lost" % m)
            listed_keys = self.call("LIST", m + "/keys", ok=(200,)).json()["data"]["key_info"]
            names = {v["key_name"] for v in listed_keys.values()}
            self.assertTrue(keys <= names, "%s: acknowledged keys lost: %s" % (m, keys - names))
            for key_id in listed_keys:
                self.call("GET", m + "/key/" + key_id, ok=(200,))
            listed_issuers = self.call("LIST", m + "/issuers", ok=(200,)).json()["data"]["key_info"]
            names = {v["issuer_name"] for v in listed_issuers.values()}
            self.assertTrue(issuers <= names, "%s: acknowledged issuers lost: %s" % (m, issuers - names))
            for issuer_id in listed_issuers:
                issuer = self.call("GET", m + "/issuer/" + issuer_id, ok=(200,)).json()["data"]
                x509.load_pem_x509_certificate(issuer["certificate"].encode())
            if full:
                def listed(path):
                    return set(self.call("LIST", m + "/" + path, ok=(200,)).json()["data"]["keys"])
                norm = lambda ss: {s.replace("-", ":") for s in ss}  # noqa: E731
                self.assertTrue(norm(issued) <= norm(listed("certs")), "%s: acknowledged certificates not listed" % m)
                self.assertTrue(norm(revoked) <= norm(listed("certs/revoked")), "%s: revocations not listed" % m)

    def test_nothing_acknowledged_is_lost_across_sigkills(self):
        print("seed %d, %d rounds" % (SEED, ROUNDS), file=sys.stderr)
        rnd = random.Random(SEED)
        acks = Acks()
        last_crl = {m: 0 for m in MOUNTS}
        started = time.time()
        for i in range(ROUNDS):
            self.crash_round(acks, rnd)
            self.server.start()
            self.check(acks, last_crl, rnd)
        self.check(acks, last_crl, rnd, full=True)
        counts = {m: (len(acks.issued[m]), len(acks.revoked[m]), len(acks.roles[m]), len(acks.keys[m]),
                      len(acks.issuers[m])) for m in MOUNTS}
        print("%d rounds in %.0f s; acknowledged (issued, revoked, roles, keys, issuers): %s"
              % (ROUNDS, time.time() - started, counts), file=sys.stderr)
        for m in MOUNTS:
            self.assertGreater(len(acks.issued[m]), ROUNDS, "%s: the load hardly ran" % m)
            self.assertGreater(len(acks.revoked[m]), 0)


if __name__ == "__main__":
    unittest.main()
