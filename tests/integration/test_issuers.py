"""Multiple issuers against the real pki-server -dev (plugin-hosted), checked by outside tools: hvac drives root
rotation, role moves and cross-signing; `openssl verify` judges every chain; python cryptography reads the
per-issuer CRLs and checks their signatures.

Run by ctest as: /usr/bin/python3 test_issuers.py --bin-dir build/bin
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client


def unauthenticated(path):
    r = requests.get(SERVER.addr + "/v1/pki/" + path, timeout=30)
    r.raise_for_status()
    return r


def subject(pem):
    return x509.load_pem_x509_certificate(pem.encode()).subject


class Issuers(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        c = client()
        c.sys.tune_mount_configuration(path="pki", max_lease_ttl="87600h")
        root = c.write("pki/root/generate/internal", common_name="Root A", key_type="ec", ttl="8760h",
                       issuer_name="root-a")
        cls.root_a = root["data"]["certificate"]
        c.write("pki/roles/web", allow_any_name=True, key_type="ec", max_ttl="72h")

    def issue(self, path, cn="svc.example.com"):
        return client().write("pki/" + path, common_name=cn, ttl="1h")["data"]

    def test_rotate_root_and_move_role(self):
        c = client()
        before = self.issue("issue/web")
        rotated = c.write("pki/root/rotate/internal", common_name="Root B", key_type="ec", ttl="8760h",
                          issuer_name="root-b")["data"]
        root_b = rotated["certificate"]
        # Rotation adds an issuer without taking the default.
        listing = requests.request("LIST", SERVER.addr + "/v1/pki/issuers", timeout=30).json()["data"]
        names = {info["issuer_name"]: info for info in listing["key_info"].values()}
        self.assertTrue(names["root-a"]["is_default"])
        self.assertFalse(names["root-b"]["is_default"])
        self.assertEqual(unauthenticated("issuer/root-b/pem").text.strip(), root_b.strip())

        # Move the role to the new issuer; issue from both.
        c.write("pki/roles/web-b", allow_any_name=True, key_type="ec", max_ttl="72h", issuer_ref="root-b")
        after = self.issue("issue/web-b")
        self.assertEqual(subject(before["certificate"]).rfc4514_string(), "CN=svc.example.com")
        ok, out = harness.openssl_verify(before["certificate"], self.root_a)
        self.assertTrue(ok, out)
        ok, out = harness.openssl_verify(after["certificate"], root_b)
        self.assertTrue(ok, out)
        ok, _ = harness.openssl_verify(after["certificate"], self.root_a)
        self.assertFalse(ok)
        ok, out = harness.openssl_verify(self.issue("issuer/root-b/issue/web")["certificate"], root_b)
        self.assertTrue(ok, out)

    def test_cross_signed_intermediate_verifies_both_ways(self):
        c = client()
        if "root-x" not in str(c.list("pki/issuers")):
            c.write("pki/root/rotate/internal", common_name="Root X", key_type="ec", ttl="8760h",
                    issuer_name="root-x")
        root_x = unauthenticated("issuer/root-x/pem").text
        csr = c.write("pki/issuers/generate/intermediate/internal", common_name="Shared Intermediate",
                      key_type="ec", key_name="shared-int")["data"]["csr"]
        int_a = c.write("pki/issuer/root-a/sign-intermediate", csr=csr, ttl="4380h")["data"]["certificate"]
        c.write("pki/intermediate/set-signed", certificate=int_a)
        cross_csr = c.write("pki/intermediate/cross-sign", common_name="Shared Intermediate",
                            key_ref="shared-int")["data"]["csr"]
        int_x = c.write("pki/issuer/root-x/sign-intermediate", csr=cross_csr, ttl="4380h")["data"]["certificate"]
        imported = c.write("pki/issuers/import/cert", pem_bundle=int_x)["data"]
        int_x_id = imported["imported_issuers"][0]
        self.assertTrue(imported["mapping"][int_x_id])  # paired with the stored key

        c.write("pki/roles/shared", allow_any_name=True, key_type="ec", max_ttl="72h", issuer_ref=int_x_id)
        leaf = self.issue("issue/shared")
        chain = leaf["ca_chain"]
        self.assertEqual(len(chain), 4, chain)
        for pem in (int_a, int_x, self.root_a, root_x):
            self.assertIn(pem.strip(), [p.strip() for p in chain])
        ok, out = harness.openssl_verify(leaf["certificate"], self.root_a, [int_a])
        self.assertTrue(ok, out)
        ok, out = harness.openssl_verify(leaf["certificate"], root_x, [int_x])
        self.assertTrue(ok, out)

    def test_each_issuer_has_its_own_crl(self):
        c = client()
        if "root-y" not in str(c.list("pki/issuers")):
            c.write("pki/root/rotate/internal", common_name="Root Y", key_type="ec", ttl="8760h",
                    issuer_name="root-y")
        leaf = self.issue("issuer/root-y/issue/web", cn="revoked.example.com")
        c.write("pki/revoke", serial_number=leaf["serial_number"])
        serial = x509.load_pem_x509_certificate(leaf["certificate"].encode()).serial_number

        def crl_of(ref):
            crl = x509.load_pem_x509_crl(unauthenticated("issuer/%s/crl/pem" % ref).content)
            issuer = x509.load_pem_x509_certificate(unauthenticated("issuer/%s/pem" % ref).content)
            self.assertTrue(crl.is_signature_valid(issuer.public_key()))
            return {e.serial_number for e in crl}

        self.assertIn(serial, crl_of("root-y"))
        self.assertNotIn(serial, crl_of("root-a"))
        self.assertEqual(c.read("pki/issuer/root-y/crl")["data"]["crl"].split("\n")[0], "-----BEGIN X509 CRL-----")

    def test_update_and_delete_issuer(self):
        c = client()
        c.write("pki/root/rotate/internal", common_name="Root Z", key_type="ec", ttl="8760h", issuer_name="root-z")
        r = requests.patch(SERVER.addr + "/v1/pki/issuer/root-z", json={"usage": "read-only,crl-signing"},
                           headers={"X-Vault-Token": SERVER.token,
                                    "Content-Type": "application/merge-patch+json"}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["data"]["usage"], "read-only,crl-signing")
        refused = requests.post(SERVER.addr + "/v1/pki/issuer/root-z/issue/web",
                                json={"common_name": "x.example.com"},
                                headers={"X-Vault-Token": SERVER.token}, timeout=30)
        self.assertEqual(refused.status_code, 400, refused.text)
        self.assertIn("issuing-certificates", refused.json()["errors"][0])
        key_id = c.read("pki/issuer/root-z")["data"]["key_id"]
        r = requests.delete(SERVER.addr + "/v1/pki/issuer/root-z", headers={"X-Vault-Token": SERVER.token},
                            timeout=30)
        self.assertIn(r.status_code, (200, 204), r.text)
        missing = requests.get(SERVER.addr + "/v1/pki/issuer/root-z", headers={"X-Vault-Token": SERVER.token},
                               timeout=30)
        self.assertEqual(missing.status_code, 400, missing.text)
        self.assertEqual(c.read("pki/key/" + key_id)["data"]["key_id"], key_id)  # keys outlive issuers


if __name__ == "__main__":
    unittest.main(verbosity=2)
