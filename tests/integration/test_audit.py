"""The audit log of the real pki-server -dev (-audit-log=PATH), driven by hvac: issue, revoke and a CA bundle import
with its private key are logged as request/response pairs in Vault's file-audit shape, with the serial in clear and
neither the root token nor any private key anywhere in the file; sys/audit-hash gives the token's HMAC as logged;
an audit log that cannot be written (a directory renamed into its place, then SIGHUP) fails requests with 500 and
runs nothing, until it is restored.

Run by ctest as: /usr/bin/python3 test_audit.py --bin-dir build/bin
"""

import json
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import hvac  # noqa: E402
import requests  # noqa: E402

TOKEN = "audit-root-token-7f3a9c"


def pem_body(pem):
    """The base64 lines of a PEM block: what would show if a key leaked in any re-encoding of its text."""
    return [line for line in pem.strip().splitlines() if not line.startswith("-----")]


class AuditLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.DevServer(ARGS.bin_dir, token=TOKEN)
        cls.audit_dir = os.path.join(cls.server.data_dir, "audit")
        os.mkdir(cls.audit_dir)
        cls.audit_path = os.path.join(cls.audit_dir, "audit.log")
        cls.server.extra_args = ["-audit-log=" + cls.audit_path]
        cls.server.start()
        cls.client = hvac.Client(url=cls.server.addr, token=TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.client.adapter.close()
        cls.server.cleanup()

    def read_lines(self, path=None):
        with open(path or self.audit_path) as f:
            text = f.read()
        self.assertTrue(text.endswith("\n"))
        return text, [json.loads(line) for line in text.splitlines()]

    def hup(self):
        self.server.proc.send_signal(signal.SIGHUP)

    def test_1_operations_are_logged_with_secrets_hashed(self):
        c = self.client
        c.secrets.pki.generate_root(type="internal", common_name="Audit Root", extra_params={"ttl": "87600h"})
        c.secrets.pki.create_or_update_role("web", {"allowed_domains": "example.com", "allow_subdomains": True,
                                                    "key_type": "ec", "key_bits": 256, "ttl": "1h"})
        leaf = c.secrets.pki.generate_certificate("web", common_name="a.example.com")["data"]
        serial = leaf["serial_number"]
        c.secrets.pki.revoke_certificate(serial_number=serial)
        bundle, imported_key = harness.ca_bundle("Imported Audit CA")
        c.secrets.pki.submit_ca_information(pem_bundle=bundle)
        # Unauthenticated paths are logged too, with no auth; a bad token is logged with its error.
        ca = requests.get(self.server.addr + "/v1/pki/ca/pem", timeout=10)
        self.assertEqual(ca.status_code, 200)
        bad = requests.get(self.server.addr + "/v1/pki/roles/web", headers={"X-Vault-Token": "wrong-token-55"},
                           timeout=10)
        self.assertEqual(bad.status_code, 403)
        health_before = len(self.read_lines()[1])
        self.assertEqual(requests.get(self.server.addr + "/v1/sys/health", timeout=10).status_code, 200)
        token_hash = c.sys.calculate_hash(path="file", input_to_hash=TOKEN)["data"]["hash"]

        text, lines = self.read_lines()
        # sys/health is not audited (Vault serves it outside its router); sys/audit-hash is.
        self.assertFalse(any(l["request"]["path"] == "sys/health" for l in lines))
        self.assertEqual(lines[health_before]["request"]["path"], "sys/audit-hash/file")

        # Pairs: every request line has exactly one response line with the same id, but for the refused token.
        requests_by_id, responses_by_id = {}, {}
        for line in lines:
            self.assertIn(line["type"], ("request", "response"))
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            target = requests_by_id if line["type"] == "request" else responses_by_id
            self.assertNotIn(line["request"]["id"], target)
            target[line["request"]["id"]] = line
            self.assertEqual(line["request"]["remote_address"], "127.0.0.1")
        refused = [l for l in requests_by_id.values() if l.get("error") == "permission denied"]
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0]["request"]["path"], "pki/roles/web")
        self.assertEqual(set(requests_by_id) - set(responses_by_id), {refused[0]["request"]["id"]})
        self.assertEqual(set(responses_by_id) - set(requests_by_id), set())

        # Who: the root token only as its HMAC (the one sys/audit-hash gives), the accessor in clear.
        self.assertTrue(token_hash.startswith("hmac-sha256:"))
        authed = [l for l in lines if l["auth"]]
        self.assertTrue(authed)
        accessor = c.lookup_token()["data"]["accessor"]
        for line in authed:
            self.assertEqual(line["auth"]["client_token"], token_hash)
            self.assertEqual(line["auth"]["accessor"], accessor)
            self.assertEqual(line["request"]["client_token"], token_hash)
        unauth = [l for l in lines if l["request"]["path"] == "pki/ca/pem"]
        self.assertEqual(len(unauth), 2)
        self.assertEqual(unauth[0]["auth"], {})
        self.assertEqual(unauth[1]["response"]["data"], {"http_content_type": ca.headers["Content-Type"],
                                                         "http_raw_body_bytes": len(ca.content),
                                                         "http_status_code": 200})

        # The issued and revoked serial in clear.
        issued = [l for l in responses_by_id.values() if l["request"]["path"] == "pki/issue/web"]
        self.assertEqual(len(issued), 1)
        self.assertEqual(issued[0]["response"]["status"], 200)
        self.assertEqual(issued[0]["response"]["data"]["serial_number"], serial)
        self.assertEqual(issued[0]["request"]["data"]["common_name"], "a.example.com")
        self.assertTrue(issued[0]["response"]["data"]["private_key"].startswith("hmac-sha256:"))
        revoked = [l for l in requests_by_id.values() if l["request"]["path"] == "pki/revoke"]
        self.assertEqual(len(revoked), 1)
        self.assertEqual(revoked[0]["request"]["data"]["serial_number"], serial)
        imported = [l for l in requests_by_id.values() if l["request"]["path"] == "pki/config/ca"]
        self.assertEqual(len(imported), 1)
        self.assertTrue(imported[0]["request"]["data"]["pem_bundle"].startswith("hmac-sha256:"))

        # No secret anywhere in the file, in any form.
        self.assertNotIn(TOKEN, text)
        self.assertNotIn("wrong-token-55", text)
        self.assertNotIn("PRIVATE KEY", text)
        for pem in (leaf["private_key"], imported_key):
            for chunk in pem_body(pem):
                self.assertNotIn(chunk, text)
        self.assertNotIn(json.dumps(leaf["private_key"])[1:-1], text)  # nor JSON-escaped

    def test_2_unwritable_log_fails_requests_and_runs_nothing(self):
        c = self.client  # test_1 created the role and issued
        certs_before = len(c.secrets.pki.list_certificates()["data"]["keys"])
        # Rotation with a directory in place of the new file: the reopen on SIGHUP fails.
        rotated = self.audit_path + ".1"
        os.rename(self.audit_path, rotated)
        os.mkdir(self.audit_path)
        self.hup()
        deadline = time.time() + 10
        while True:
            try:
                c.secrets.pki.read_role("web")
            except hvac.exceptions.InternalServerError:
                break
            self.assertLess(time.time(), deadline, "requests still succeed after the audit log became unwritable")
            time.sleep(0.05)
        for i in range(3):
            with self.assertRaises(hvac.exceptions.InternalServerError) as cm:
                c.secrets.pki.generate_certificate("web", common_name="fail%d.example.com" % i)
            self.assertIn("internal error", str(cm.exception))
        r = requests.get(self.server.addr + "/v1/pki/ca/pem", timeout=10)  # unauthenticated: audited, so refused
        self.assertEqual(r.status_code, 500)
        self.assertEqual(r.json(), {"errors": ["1 error occurred:\n\t* internal error\n\n"]})  # Vault's text
        # sys/health is not audited: the server stays healthy for its load balancer.
        self.assertEqual(requests.get(self.server.addr + "/v1/sys/health", timeout=10).status_code, 200)

        # Restored: requests work again and nothing was issued meanwhile.
        os.rmdir(self.audit_path)
        self.hup()
        deadline = time.time() + 10
        while True:
            try:
                c.secrets.pki.read_role("web")
                break
            except hvac.exceptions.InternalServerError:
                self.assertLess(time.time(), deadline, "requests still fail after the audit log was restored")
                time.sleep(0.05)
        self.assertEqual(len(c.secrets.pki.list_certificates()["data"]["keys"]), certs_before)
        c.secrets.pki.generate_certificate("web", common_name="after.example.com")
        self.assertEqual(len(c.secrets.pki.list_certificates()["data"]["keys"]), certs_before + 1)
        _, new_lines = self.read_lines()
        self.assertTrue(any(l["request"]["path"] == "pki/issue/web" and l["type"] == "response"
                            for l in new_lines))
        self.assertFalse(any("fail" in json.dumps(l["request"].get("data", {})) for l in new_lines))
        old_text, old_lines = self.read_lines(rotated)
        self.assertTrue(old_lines)
        self.assertNotIn("fail0.example.com", old_text)
        self.assertIn("SIGHUP", self.server.log())
        mode = os.stat(self.audit_path).st_mode & 0o777
        self.assertEqual(mode, 0o600)


if __name__ == "__main__":
    unittest.main(verbosity=2)
