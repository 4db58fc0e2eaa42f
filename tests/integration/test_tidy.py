"""Tidy against the real pki-server -dev (plugin-hosted): short-lived certificates, some revoked, are removed from
`LIST certs`, `LIST certs/revoked` and the CRL (parsed and verified with python cryptography) once expired past the
safety buffer; long-lived ones stay. Waits a few seconds of real time for the short certificates to expire.

Run by ctest as: /usr/bin/python3 test_tidy.py --bin-dir build/bin
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client


def api(method, path, body=None):
    return requests.request(method, SERVER.addr + "/v1/pki/" + path, headers={"X-Vault-Token": SERVER.token},
                            json=body, timeout=30)


def listed(path):
    r = api("LIST", path)
    if r.status_code == 404:
        return set()
    r.raise_for_status()
    return set(r.json()["data"]["keys"])


def crl_serials(ca_pem):
    r = requests.get(SERVER.addr + "/v1/pki/crl", timeout=30)
    r.raise_for_status()
    crl = x509.load_der_x509_crl(r.content)
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    assert crl.is_signature_valid(ca.public_key())
    return {"%x" % entry.serial_number for entry in crl}


def hex_of(colon_serial):
    return "%x" % int(colon_serial.replace(":", ""), 16)


class Tidy(unittest.TestCase):

    def test_expired_certificates_leave_storage_and_the_crl(self):
        c = client()
        c.sys.tune_mount_configuration(path="pki", max_lease_ttl="87600h")
        root = c.secrets.pki.generate_root(type="internal", common_name="Tidy Root",
                                           extra_params={"key_type": "ec", "ttl": "87600h"})
        ca_pem = root["data"]["certificate"]
        # The short ones must still be valid when revoked below (an expired certificate is not put on the CRL):
        # 8 s leaves room for a loaded machine (2 s did not, once, in CI beside other jobs).
        c.secrets.pki.create_or_update_role("short", {"allow_any_name": True, "key_type": "ec", "max_ttl": "8s"})
        c.secrets.pki.create_or_update_role("long", {"allow_any_name": True, "key_type": "ec", "max_ttl": "24h"})
        short = [c.secrets.pki.generate_certificate("short", common_name="s%d.example.com" % i,
                                                    extra_params={"ttl": "8s"})["data"] for i in range(4)]
        long = [c.secrets.pki.generate_certificate("long", common_name="l%d.example.com" % i,
                                                   extra_params={"ttl": "24h"})["data"] for i in range(2)]
        for leaf in (short[0], short[1], long[0]):
            self.assertEqual(c.secrets.pki.revoke_certificate(serial_number=leaf["serial_number"])["data"]["state"],
                             "revoked")
        self.assertEqual(crl_serials(ca_pem), {hex_of(l["serial_number"]) for l in (short[0], short[1], long[0])})

        # Refused parameters start nothing.
        bad = api("POST", "tidy", {"tidy_cert_store": True, "safety_buffer": 0})
        self.assertEqual(bad.status_code, 400, bad.text)
        self.assertEqual(bad.json()["errors"], ["safety_buffer must be greater than zero"])
        idle = api("GET", "tidy-status").json()["data"]
        self.assertEqual(idle["state"], "Inactive")
        self.assertEqual(idle["current_cert_store_count"], 7)  # the root's record and six leaves
        self.assertEqual(idle["current_revoked_cert_count"], 3)

        # Tidy removes a certificate once now > notAfter + safety_buffer.
        due = max(leaf["expiration"] for leaf in short) + 1
        while time.time() < due + 1:
            time.sleep(0.2)
        started = api("POST", "tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": 1})
        self.assertEqual(started.status_code, 202, started.text)
        self.assertIsNone(started.json()["data"])
        self.assertEqual(started.json()["warnings"], [
            "Tidy operation successfully started. Any information from the operation will be printed to Vault's "
            "server logs."])

        deadline = time.time() + 15
        while True:
            status = api("GET", "tidy-status").json()["data"]
            if status["state"] not in ("Running", "Cancelling") or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status["state"], "Finished", status)
        self.assertIsNone(status["error"])
        self.assertEqual(status["cert_store_deleted_count"], 2)
        self.assertEqual(status["revoked_cert_deleted_count"], 2)
        self.assertEqual(status["current_cert_store_count"], 3)
        self.assertEqual(status["current_revoked_cert_count"], 1)
        self.assertEqual(status["safety_buffer"], 1)
        self.assertTrue(status["tidy_cert_store"] and status["tidy_revoked_certs"])
        self.assertIsNotNone(status["time_finished"])

        certs = listed("certs")
        for leaf in short:
            self.assertNotIn(leaf["serial_number"], certs)
            self.assertEqual(api("GET", "cert/" + leaf["serial_number"]).status_code, 404)
        for leaf in long:
            self.assertIn(leaf["serial_number"], certs)
        self.assertIn(root["data"]["serial_number"], certs)
        self.assertEqual(listed("certs/revoked"), {long[0]["serial_number"]})
        self.assertEqual(crl_serials(ca_pem), {hex_of(long[0]["serial_number"])})

        cancel = api("POST", "tidy-cancel")
        self.assertEqual(cancel.status_code, 200, cancel.text)
        self.assertEqual(cancel.json()["warnings"], ["Tidy operation cannot be cancelled as none is currently running."])

    def test_tidy_through_host_storage(self):
        # storage=host: the engine's keys live in pki-server's storage behind pb.Storage, listed folder by folder.
        h = {"X-Vault-Token": SERVER.token}
        base = SERVER.addr + "/v1/"
        r = requests.post(base + "sys/mounts/pki-host", json={"type": "pki", "options": {"storage": "host"}},
                          headers=h, timeout=30)
        self.assertIn(r.status_code, (200, 204), r.text)

        def call(method, path, body=None):
            return requests.request(method, base + "pki-host/" + path, json=body, headers=h, timeout=30)

        self.assertEqual(call("POST", "root/generate/internal", {"common_name": "Host Root", "key_type": "ec"})
                         .status_code, 200)
        # 8 s: short[0] must still be valid when revoked, also on a loaded machine (see the test above).
        self.assertEqual(call("POST", "roles/short", {"allow_any_name": True, "key_type": "ec", "max_ttl": "8s"})
                         .status_code, 200)
        short = [call("POST", "issue/short", {"common_name": "h%d.example.com" % i, "ttl": "8s"}).json()["data"]
                 for i in range(3)]
        self.assertEqual(call("POST", "revoke", {"serial_number": short[0]["serial_number"]}).status_code, 200)
        while time.time() < max(leaf["expiration"] for leaf in short) + 2:
            time.sleep(0.2)
        started = call("POST", "tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": 1})
        self.assertEqual(started.status_code, 202, started.text)
        deadline = time.time() + 15
        while True:
            status = call("GET", "tidy-status").json()["data"]
            if status["state"] not in ("Running", "Cancelling") or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status["state"], "Finished", status)
        self.assertEqual(status["cert_store_deleted_count"], 2)
        self.assertEqual(status["revoked_cert_deleted_count"], 1)
        self.assertEqual(status["current_cert_store_count"], 1)  # the root's own record
        self.assertEqual(status["current_revoked_cert_count"], 0)
        keys = call("LIST", "certs").json()["data"]["keys"]
        self.assertEqual(len(keys), 1)
        self.assertEqual(call("LIST", "certs/revoked").status_code, 404)

    def test_auto_tidy_configuration(self):
        self.assertEqual(api("GET", "config/auto-tidy").json()["data"]["interval_duration"], 43200)
        refused = api("POST", "config/auto-tidy", {"enabled": True})
        self.assertEqual(refused.status_code, 400, refused.text)
        self.assertIn("Auto-tidy enabled but no tidy operations were requested.", refused.json()["errors"][0])
        ok = api("POST", "config/auto-tidy", {"enabled": True, "tidy_cert_store": True, "interval_duration": "1h",
                                              "pause_duration": "250ms"})
        self.assertEqual(ok.status_code, 200, ok.text)
        self.assertEqual(ok.json()["data"]["interval_duration"], 3600)
        self.assertEqual(ok.json()["data"]["pause_duration"], "250ms")
        self.assertEqual(api("GET", "config/auto-tidy").json()["data"], ok.json()["data"])
        off = api("POST", "config/auto-tidy", {"enabled": False})
        self.assertEqual(off.status_code, 200, off.text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
