"""Certificate listing at 10,000 certificates against the real pki-server -dev (plugin-hosted): LIST certs and
LIST certs/detailed page with OpenBao's after/limit so that every issued serial appears exactly once, and detailed
entries agree with the issued certificates as python cryptography parses them.

Run by ctest as: /usr/bin/python3 test_listing.py --bin-dir build/bin
"""

import concurrent.futures
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SERVER = None
COUNT = 10000
WORKERS = 16
MAX_NAMES = 5  # key_info name lists hold the first five of each kind, as OpenBao's dns_names

_local = threading.local()
_sessions = []  # every thread's session, closed at the end
_sessions_lock = threading.Lock()


def setUpModule():
    global SERVER
    SERVER = harness.DevServer(ARGS.bin_dir)
    SERVER.start()


def tearDownModule():
    with _sessions_lock:
        for s in _sessions:
            s.close()
    SERVER.cleanup()


def session():
    """One keep-alive connection per thread."""
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.headers["X-Vault-Token"] = SERVER.token
        _local.session = s
        with _sessions_lock:
            _sessions.append(s)
    return s


def call(method, path, **kwargs):
    return session().request(method, SERVER.addr + "/v1/" + path, timeout=60, **kwargs)


def ok(method, path, **kwargs):
    r = call(method, path, **kwargs)
    if r.status_code != 200:
        raise AssertionError("%s %s: %d %s" % (method, path, r.status_code, r.text))
    return r.json()


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(i):
    d = ok("POST", "pki/issue/web", json={
        "common_name": "h%d.example.com" % i,
        "alt_names": "h%d-alt.example.com,ops%d@example.com" % (i, i),
        "ip_sans": "10.%d.%d.1,2001:db8::%x" % (i >> 8 & 255, i & 255, i),
        "uri_sans": "spiffe://example/w%d" % i,
        "ttl": "%dh" % (24 + i % 48),
    })["data"]
    return {"serial_number": d["serial_number"], "certificate": d["certificate"], "expiration": d["expiration"]}


def pages(path, limit):
    """Every page of a LIST, each following the previous page's last key; returns the pages' data."""
    out = []
    after = None
    while True:
        params = {"limit": limit}
        if after is not None:
            params["after"] = after
        r = call("LIST", path, params=params)
        if r.status_code == 404:
            assert r.json() == {"errors": []}, r.text
            return out
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        out.append(data)
        after = data["keys"][-1]


class Listing(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        r = call("POST", "sys/mounts/pki/tune", json={"max_lease_ttl": "87600h"})
        assert r.status_code in (200, 204), r.text
        root = ok("POST", "pki/root/generate/internal",
                  json={"common_name": "Listing Root", "key_type": "ec", "ttl": "87600h"})["data"]
        cls.root_serial = root["serial_number"]
        cls.issuer_id = root["issuer_id"]
        r = call("POST", "pki/roles/web", json={"allow_any_name": True, "key_type": "ec", "key_bits": 256,
                                                "no_store": False, "allowed_uri_sans": "spiffe://*",
                                                "max_ttl": "720h"})
        assert r.status_code in (200, 204), r.text

        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
            cls.issued = list(pool.map(issue, range(COUNT), chunksize=64))
        cls.issue_seconds = time.monotonic() - start
        print("\n[listing] issued %d certificates in %.1f s (%.0f/s, %d client threads)"
              % (COUNT, cls.issue_seconds, COUNT / cls.issue_seconds, WORKERS), file=sys.stderr)
        cls.by_serial = {c["serial_number"]: c for c in cls.issued}
        assert len(cls.by_serial) == COUNT

    def expected_serials(self):
        return set(self.by_serial) | {self.root_serial}

    def test_every_serial_once_across_pages(self):
        whole = ok("LIST", "pki/certs")["data"]["keys"]
        self.assertEqual(len(whole), COUNT + 1)
        self.assertEqual(set(whole), self.expected_serials())
        for path in ("pki/certs", "pki/certs/detailed"):
            for limit in (1000, 777):
                start = time.monotonic()
                got = pages(path, limit)
                seconds = time.monotonic() - start
                print("[listing] LIST %s limit=%d: %d pages in %.2f s" % (path, limit, len(got), seconds),
                      file=sys.stderr)
                keys = [k for page in got for k in page["keys"]]
                self.assertEqual(keys, whole, "%s limit %d" % (path, limit))  # same order, each once
                self.assertEqual(len(got), -(-len(whole) // limit))
                for page in got:
                    self.assertLessEqual(len(page["keys"]), limit)
                    if path.endswith("detailed"):
                        self.assertEqual(set(page["key_info"]), set(page["keys"]))

    def test_detailed_entries_match_the_issued_certificates(self):
        # The first three are test_revoked_state_in_detailed_entries' to revoke.
        sample = random.Random(7).sample(self.issued[3:], 200)
        for c in sample:
            serial = c["serial_number"]
            # A page of one starting after this serial's predecessor: `after` is exclusive.
            data = ok("LIST", "pki/certs/detailed", params={"after": self.predecessor(serial), "limit": 1})["data"]
            self.assertEqual(data["keys"], [serial])
            info = data["key_info"][serial]
            cert = x509.load_pem_x509_certificate(c["certificate"].encode())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            self.assertEqual(info["common_name"], cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
            self.assertEqual(info["issuer"], cert.issuer.rfc4514_string())
            self.assertEqual(info["key_type"], "ec")
            self.assertIsInstance(cert.public_key(), ec.EllipticCurvePublicKey)
            self.assertEqual(info["key_bits"], cert.public_key().curve.key_size)
            self.assertEqual(info["not_before"], rfc3339(cert.not_valid_before))
            self.assertEqual(info["not_after"], rfc3339(cert.not_valid_after))
            self.assertEqual(info["expiration"], c["expiration"])
            self.assertEqual(info["dns_names"], san.get_values_for_type(x509.DNSName)[:MAX_NAMES])
            self.assertEqual(info["ip_addresses"], [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])
            self.assertEqual(info["email_addresses"], san.get_values_for_type(x509.RFC822Name))
            self.assertEqual(info["uris"], san.get_values_for_type(x509.UniformResourceIdentifier))
            self.assertEqual(info["issuer_id"], self.issuer_id)
            self.assertEqual(info["role"], "web")
            self.assertFalse(info["revoked"])
            self.assertEqual(info["revocation_time"], 0)
            self.assertNotIn("error", info)

    def predecessor(self, serial):
        """The key just before `serial` in storage order (hyphen-serial order), from the full listing."""
        if not hasattr(self, "_order"):
            Listing._order = ok("LIST", "pki/certs")["data"]["keys"]
            Listing._index = {k: i for i, k in enumerate(Listing._order)}
        i = self._index[serial]
        # The first key has no predecessor: a serial sorting before every stored one ("00") starts the listing.
        return self._order[i - 1] if i > 0 else "00"

    def test_root_is_listed_with_an_empty_role(self):
        info = ok("LIST", "pki/certs/detailed", params={"after": self.predecessor(self.root_serial),
                                                        "limit": 1})["data"]["key_info"][self.root_serial]
        self.assertEqual(info["role"], "")
        self.assertEqual(info["common_name"], "Listing Root")
        self.assertEqual(info["issuer"], "CN=Listing Root")
        self.assertEqual(info["issuer_id"], self.issuer_id)

    def test_revoked_state_in_detailed_entries(self):
        revoked = {}
        for c in self.issued[:3]:
            revoked[c["serial_number"]] = ok("POST", "pki/revoke",
                                             json={"serial_number": c["serial_number"]})["data"]
        for serial, answer in revoked.items():
            info = ok("LIST", "pki/certs/detailed", params={"after": self.predecessor(serial),
                                                            "limit": 1})["data"]["key_info"][serial]
            self.assertTrue(info["revoked"])
            self.assertEqual(info["revocation_time"], answer["revocation_time"])
            self.assertEqual(info["revocation_time_rfc3339"], answer["revocation_time_rfc3339"])
        listed = set(ok("LIST", "pki/certs/revoked")["data"]["keys"])
        self.assertTrue(set(revoked) <= listed)

    def test_bad_paging_parameters_are_400(self):
        for path in ("pki/certs", "pki/certs/detailed", "pki/certs/revoked"):
            r = call("LIST", path, params={"after": "zz:top"})
            self.assertEqual(r.status_code, 400, r.text)
            self.assertEqual(r.json()["errors"],
                             ['invalid "after": "zz:top" is not a serial number (colon- or hyphen-separated hex)'])
            r = call("LIST", path, params={"limit": "-1"})
            self.assertEqual(r.status_code, 400, r.text)
            self.assertEqual(r.json()["errors"], ["limit must be non-negative"])
        # GET ?list=true is the same listing; past the last key there is nothing (Vault's empty LIST: 404).
        last = ok("LIST", "pki/certs")["data"]["keys"][-1]
        r = call("GET", "pki/certs/detailed", params={"list": "true", "after": last})
        self.assertEqual(r.status_code, 404, r.text)
        self.assertEqual(r.json(), {"errors": []})

    def test_detailed_listing_needs_a_token(self):
        r = requests.request("LIST", SERVER.addr + "/v1/pki/certs/detailed", timeout=30)
        self.assertEqual(r.status_code, 403, r.text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
