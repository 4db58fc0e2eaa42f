"""The plugin's publication listener (mount option publish_address) against the real pki-server -dev: a second PKI
mount publishes its CRLs, CA and OCSP responder on its own plain-HTTP port, which `openssl ocsp` and plain HTTP
clients use without a token; its bytes are the API's; the port goes with the mount, and a taken port refuses it.

Run by ctest as: /usr/bin/python3 test_publish.py --bin-dir build/bin
"""

import base64
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule = SERVER.setup, SERVER.finish


def api(method, path, **kwargs):
    return requests.request(method, SERVER.addr + "/v1/" + path, headers={"X-Vault-Token": SERVER.token},
                            timeout=60, **kwargs)


def mount(path, publish_address, **options):
    return api("POST", "sys/mounts/" + path,
               json={"type": "pki", "options": dict(options, publish_address=publish_address)})


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Publish(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.port = harness.free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        r = mount("pki2", "127.0.0.1:%d" % cls.port)
        assert r.status_code in (200, 204), r.text
        api("POST", "sys/mounts/pki2/tune", json={"max_lease_ttl": "87600h"}).raise_for_status()
        root = api("POST", "pki2/root/generate/internal",
                   json={"common_name": "Publish Root", "key_type": "ec", "ttl": "87600h"})
        root.raise_for_status()
        cls.ca_pem = root.json()["data"]["certificate"]
        api("POST", "pki2/roles/web", json={"allow_any_name": True, "key_type": "ec", "max_ttl": "72h"}).raise_for_status()
        cls.leaves = []
        for name in ("revoked.example.com", "good.example.com"):
            r = api("POST", "pki2/issue/web", json={"common_name": name, "ttl": "24h"})
            r.raise_for_status()
            cls.leaves.append(r.json()["data"])
        revoked = api("POST", "pki2/revoke", json={"serial_number": cls.leaves[0]["serial_number"]})
        assert revoked.status_code == 200, revoked.text

    def openssl_ocsp(self, leaf_pem, url, ca_pem=None):
        with tempfile.TemporaryDirectory() as d:
            ca_path, leaf_path, req_path = (os.path.join(d, n) for n in ("ca.pem", "leaf.pem", "req.der"))
            with open(ca_path, "w") as f:
                f.write((ca_pem or self.ca_pem) + "\n")
            with open(leaf_path, "w") as f:
                f.write(leaf_pem + "\n")
            out = subprocess.run(["openssl", "ocsp", "-issuer", ca_path, "-cert", leaf_path, "-CAfile", ca_path,
                                  "-url", url, "-reqout", req_path], capture_output=True, text=True, timeout=60)
            with open(req_path, "rb") as f:
                request = f.read()
            return out.stdout + out.stderr, leaf_path, request

    def test_openssl_ocsp_against_the_listener(self):
        text, leaf_path, request = self.openssl_ocsp(self.leaves[0]["certificate"], self.base + "/ocsp")
        self.assertIn("Response verify OK", text)
        self.assertIn(leaf_path + ": revoked", text)
        text, leaf_path, _ = self.openssl_ocsp(self.leaves[1]["certificate"], self.base + "/ocsp")
        self.assertIn("Response verify OK", text)
        self.assertIn(leaf_path + ": good", text)

        # GET, with the base64 URL-encoded as RFC 6960 A.1 asks: the same answer as the API's GET.
        b64 = base64.b64encode(request).decode()
        got = requests.get(self.base + "/ocsp/" + urllib.parse.quote(b64, safe=""), timeout=30)
        want = requests.get(SERVER.addr + "/v1/pki2/ocsp/" + b64, timeout=30)
        self.assertEqual(got.status_code, 200)
        self.assertEqual(got.status_code, want.status_code)
        self.assertEqual(got.headers["Content-Type"], "application/ocsp-response")
        self.assertEqual(got.headers["Content-Type"], want.headers["Content-Type"])
        for der in (got.content, want.content):
            response = ocsp.load_der_ocsp_response(der)
            self.assertEqual(response.response_status, ocsp.OCSPResponseStatus.SUCCESSFUL)
            self.assertEqual(response.certificate_status, ocsp.OCSPCertStatus.REVOKED)
            self.assertEqual(response.serial_number, int(self.leaves[0]["serial_number"].replace(":", ""), 16))

        # Garbage is an OCSP malformedRequest, with the API's status.
        garbage = requests.post(self.base + "/ocsp", data=b"garbage",
                                headers={"Content-Type": "application/ocsp-request"}, timeout=30)
        api_garbage = requests.post(SERVER.addr + "/v1/pki2/ocsp", data=b"garbage",
                                    headers={"Content-Type": "application/ocsp-request"}, timeout=30)
        self.assertEqual(garbage.status_code, api_garbage.status_code)
        self.assertEqual(garbage.content, api_garbage.content)
        self.assertEqual(ocsp.load_der_ocsp_response(garbage.content).response_status,
                         ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

    def test_a_host_storage_mount_answers_ocsp_from_its_workers(self):
        # With storage=host every storage read is a call to the host, so the listener answers OCSP on its worker
        # threads rather than on its I/O threads: the same answers, also to concurrent clients.
        port = harness.free_port()
        base = "http://127.0.0.1:%d" % port
        r = mount("pki-host-pub", "127.0.0.1:%d" % port, storage="host")
        self.assertIn(r.status_code, (200, 204), r.text)
        try:
            root = api("POST", "pki-host-pub/root/generate/internal",
                       json={"common_name": "Host Publish Root", "key_type": "ec", "ttl": "8760h"})
            root.raise_for_status()
            ca_pem = root.json()["data"]["certificate"]
            api("POST", "pki-host-pub/roles/web", json={"allow_any_name": True, "key_type": "ec"}).raise_for_status()
            leaves = [api("POST", "pki-host-pub/issue/web", json={"common_name": n}).json()["data"]
                      for n in ("revoked.example.com", "good.example.com")]
            api("POST", "pki-host-pub/revoke", json={"serial_number": leaves[0]["serial_number"]}).raise_for_status()
            requests_der = []
            for leaf, want in zip(leaves, ("revoked", "good")):
                text, leaf_path, request = self.openssl_ocsp(leaf["certificate"], base + "/ocsp", ca_pem)
                self.assertIn("Response verify OK", text)
                self.assertIn(leaf_path + ": " + want, text)
                requests_der.append(request)

            def ask(i):
                got = requests.post(base + "/ocsp", data=requests_der[i % 2], timeout=30,
                                    headers={"Content-Type": "application/ocsp-request"})
                return got.status_code, ocsp.load_der_ocsp_response(got.content).certificate_status

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(ask, range(64)))
            want = [(200, ocsp.OCSPCertStatus.REVOKED), (200, ocsp.OCSPCertStatus.GOOD)]
            self.assertEqual(answers, [want[i % 2] for i in range(64)])
        finally:
            api("DELETE", "sys/mounts/pki-host-pub")
        self.assertTrue(wait_until(lambda: not accepts(port)))

    def test_crl_and_ca_are_the_apis_bytes(self):
        for path in ("crl", "ca"):
            first = requests.get(self.base + "/" + path, timeout=30)
            want = requests.get(SERVER.addr + "/v1/pki2/" + path, timeout=30)
            again = requests.get(self.base + "/" + path, timeout=30)
            self.assertEqual(first.status_code, 200, path)
            self.assertEqual(want.status_code, 200, path)
            self.assertEqual(first.headers["Content-Type"], want.headers["Content-Type"], path)
            self.assertEqual(first.content, want.content, path)
            self.assertEqual(again.content, want.content, path)
        crl = x509.load_der_x509_crl(requests.get(self.base + "/crl", timeout=30).content)
        ca = x509.load_der_x509_certificate(requests.get(self.base + "/ca", timeout=30).content)
        self.assertEqual(ca, x509.load_pem_x509_certificate(self.ca_pem.encode()))
        self.assertTrue(crl.is_signature_valid(ca.public_key()))
        serial = int(self.leaves[0]["serial_number"].replace(":", ""), 16)
        self.assertIsNotNone(crl.get_revoked_certificate_by_serial_number(serial))

        # crl/delta: whatever the API answers for it (a delta CRL, an empty answer, or 404), the listener too.
        got = requests.get(self.base + "/crl/delta", timeout=30)
        want = requests.get(SERVER.addr + "/v1/pki2/crl/delta", timeout=30)
        self.assertEqual(got.status_code, want.status_code)
        if want.status_code == 200:
            self.assertEqual(got.headers["Content-Type"], want.headers["Content-Type"])
            self.assertEqual(got.content, want.content)

    def test_only_the_published_paths_and_no_token(self):
        self.assertEqual(requests.get(self.base + "/roles/web", timeout=30).status_code, 404)
        self.assertEqual(requests.get(self.base + "/v1/pki2/ca", timeout=30).status_code, 404)
        self.assertEqual(requests.get(self.base + "/", timeout=30).status_code, 404)
        self.assertEqual(requests.post(self.base + "/revoke", json={"serial_number": "01"}, timeout=30).status_code,
                         404)
        self.assertEqual(requests.put(self.base + "/crl", data=b"x", timeout=30).status_code, 405)
        self.assertEqual(requests.delete(self.base + "/crl", timeout=30).status_code, 405)
        self.assertEqual(requests.head(self.base + "/ca", timeout=30).status_code, 405)
        self.assertEqual(requests.post(self.base + "/crl", data=b"", timeout=30).status_code, 405)
        # The certificate stayed revoked: the listener changed nothing.
        r = api("GET", "pki2/cert/" + self.leaves[0]["serial_number"])
        self.assertGreater(r.json()["data"]["revocation_time"], 0)

    def test_a_taken_port_refuses_the_mount(self):
        r = mount("pkitaken", "127.0.0.1:%d" % self.port)
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("publish_address 127.0.0.1:%d" % self.port, r.text)
        mounts = api("GET", "sys/mounts").json()
        self.assertNotIn("pkitaken/", mounts.get("data", mounts))
        bad = mount("pkibad", "nonsense")
        self.assertEqual(bad.status_code, 400, bad.text)
        self.assertIn("publish_address", bad.text)
        # The listener of pki2 is unharmed.
        self.assertEqual(requests.get(self.base + "/ca", timeout=30).status_code, 200)

    def test_zz_listener_survives_a_restart_and_goes_with_the_mount(self):
        # Last (zz): restarts the server and unmounts pki2.
        ca_before = requests.get(self.base + "/ca", timeout=30).content
        SERVER.restart()
        self.assertTrue(wait_until(lambda: accepts(self.port)), "listener not back after a restart")
        self.assertEqual(requests.get(self.base + "/ca", timeout=30).content, ca_before)

        r = api("DELETE", "sys/mounts/pki2")
        self.assertIn(r.status_code, (200, 204), r.text)
        self.assertTrue(wait_until(lambda: not accepts(self.port)), "the listener outlived its mount")
        # The address is free for a new mount at once.
        r = mount("pki3", "127.0.0.1:%d" % self.port)
        self.assertIn(r.status_code, (200, 204), r.text)
        self.assertTrue(wait_until(lambda: accepts(self.port)))
        self.assertEqual(requests.get(self.base + "/nope", timeout=30).status_code, 404)
        api("DELETE", "sys/mounts/pki3").raise_for_status()
        self.assertTrue(wait_until(lambda: not accepts(self.port)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
