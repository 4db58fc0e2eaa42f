"""Tokens and ACL policies against the real pki-server -dev, with hvac: a least-privilege service token, its
children, revocation, sudo on root paths, and persistence across a restart.

Run by ctest as: /usr/bin/python3 test_policies.py --bin-dir build/bin
"""

import datetime
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import hvac  # noqa: E402
import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, root_client = SERVER.setup, SERVER.client
CLIENTS = []

WEB_ISSUER = {"path": {"pki/issue/web": {"capabilities": ["update"]}}}


def tearDownModule():
    for c in CLIENTS:
        c.adapter.close()
    SERVER.finish()


def client_for(token):
    c = hvac.Client(url=SERVER.addr, token=token)
    CLIENTS.append(c)
    return c


def raw(method, path, token, body=None):
    """A plain HTTP call, to see statuses and bodies exactly."""
    return requests.request(method, SERVER.addr + "/v1/" + path, headers={"X-Vault-Token": token},
                            data=None if body is None else json.dumps(body), timeout=30)


def self_issued_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class PoliciesAndTokens(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        c = root_client()
        root = c.secrets.pki.generate_root(type="internal", common_name="Policy Test Root",
                                           extra_params={"ttl": "8760h", "key_type": "ec", "key_bits": 256})
        cls.anchor = root["data"]["certificate"]
        for role in ("web", "other"):
            c.secrets.pki.create_or_update_role(role, extra_params={"allowed_domains": ["example.com"],
                                                                    "allow_subdomains": True, "ttl": "1h"})
        c.sys.create_or_update_policy("web-issuer", WEB_ISSUER)
        cls.web_token = c.auth.token.create(policies=["web-issuer"], ttl="1h")["auth"]["client_token"]

    def assertForbidden(self, method, path, token, body=None):
        r = raw(method, path, token, body)
        self.assertEqual(r.status_code, 403, "%s %s: %s" % (method, path, r.text))
        self.assertEqual(r.json(), {"errors": ["permission denied"]})

    def test_1_policy_endpoints_as_hvac_uses_them(self):
        c = root_client()
        read = c.sys.read_policy("web-issuer")
        self.assertEqual(json.loads(read["data"]["rules"]), WEB_ISSUER)
        self.assertIn("web-issuer", c.sys.list_policies()["data"]["policies"])
        self.assertIn("root", c.sys.list_policies()["data"]["keys"])
        # The newer sys/policies/acl API (hvac 0.11 has no methods for it).
        scratch = {"path": {"x/*": {"capabilities": ["read"]}}}
        put = raw("PUT", "sys/policies/acl/scratch", SERVER.token, {"policy": json.dumps(scratch)})
        self.assertEqual(put.status_code, 204, put.text)
        got = raw("GET", "sys/policies/acl/scratch", SERVER.token).json()["data"]
        self.assertEqual((got["name"], json.loads(got["policy"])), ("scratch", scratch))
        self.assertIn("scratch", raw("LIST", "sys/policies/acl", SERVER.token).json()["data"]["keys"])
        self.assertEqual(raw("DELETE", "sys/policies/acl/scratch", SERVER.token).status_code, 204)
        self.assertNotIn("scratch", raw("LIST", "sys/policies/acl", SERVER.token).json()["data"]["keys"])
        # HCL is refused with a clear 400; so is an unknown capability; root cannot be written.
        with self.assertRaises(hvac.exceptions.InvalidRequest) as hcl:
            c.sys.create_or_update_policy("hcl", 'path "pki/*" {\n  capabilities = ["read"]\n}\n')
        self.assertIn("only the JSON form", str(hcl.exception))
        with self.assertRaises(hvac.exceptions.InvalidRequest):
            c.sys.create_or_update_policy("bad", {"path": {"pki/*": {"capabilities": ["fly"]}}})
        with self.assertRaises(hvac.exceptions.InvalidRequest):
            c.sys.create_or_update_policy("root", {"path": {}})
        with self.assertRaises(hvac.exceptions.InvalidRequest):
            c.sys.delete_policy("default")

    def test_2_service_token_issues_on_its_role_only(self):
        svc = client_for(self.web_token)
        issued = svc.write("pki/issue/web", common_name="svc.example.com")["data"]
        ok, out = harness.openssl_verify(issued["certificate"], self.anchor)
        self.assertTrue(ok, out)
        self.assertForbidden("GET", "pki/roles/web", self.web_token)
        self.assertForbidden("POST", "pki/roles/web", self.web_token, {"ttl": "2h"})
        self.assertForbidden("POST", "pki/issue/other", self.web_token, {"common_name": "a.example.com"})
        self.assertForbidden("POST", "pki/revoke", self.web_token, {"serial_number": issued["serial_number"]})
        self.assertForbidden("POST", "pki/root/generate/internal", self.web_token, {"common_name": "evil"})
        self.assertForbidden("LIST", "pki/roles", self.web_token)
        self.assertForbidden("POST", "sys/mounts/pki-evil", self.web_token, {"type": "pki"})
        self.assertForbidden("PUT", "sys/policy/web-issuer", self.web_token, {"policy": "{}"})
        # Nothing changed behind the refusals.
        self.assertEqual(root_client().secrets.pki.read_role("web")["data"]["ttl"], 3600)
        self.assertNotIn("pki-evil/", root_client().sys.list_mounted_secrets_engines()["data"])
        # Unauthenticated paths stay open.
        self.assertEqual(requests.get(SERVER.addr + "/v1/pki/ca/pem", timeout=30).status_code, 200)
        # lookup-self (default policy) shows the token's policies; capabilities-self answers `vault token
        # capabilities`.
        me = svc.auth.token.lookup_self()["data"]
        self.assertEqual(me["policies"], ["default", "web-issuer"])
        self.assertEqual(me["display_name"], "token-token")
        caps = raw("POST", "sys/capabilities-self", self.web_token, {"paths": ["pki/issue/web", "pki/roles/web"]})
        self.assertEqual(caps.status_code, 200, caps.text)
        self.assertEqual(caps.json()["data"], {"pki/issue/web": ["update"], "pki/roles/web": ["deny"]})

    def test_3_children_die_with_their_parent_and_revoke_self_ends_a_token(self):
        c = root_client()
        c.sys.create_or_update_policy("token-maker", {"path": {
            "auth/token/create": {"capabilities": ["update"]},
            "auth/token/create-orphan": {"capabilities": ["update"]}}})
        parent = c.auth.token.create(policies=["web-issuer", "token-maker"], ttl="1h")["auth"]["client_token"]
        # web-issuer alone cannot create tokens.
        with self.assertRaises(hvac.exceptions.Forbidden):
            client_for(self.web_token).auth.token.create(policies=["web-issuer"])
        child = client_for(parent).auth.token.create(policies=["web-issuer"], ttl="30m")["auth"]
        self.assertEqual(child["policies"], ["default", "web-issuer"])
        self.assertFalse(child["orphan"])
        created = raw("POST", "auth/token/create-orphan", parent, {"policies": ["web-issuer"]})
        self.assertEqual(created.status_code, 200, created.text)
        self.assertTrue(created.json()["auth"]["orphan"])
        orphan = created.json()["auth"]["client_token"]
        # A child may not widen its parent's policies.
        with self.assertRaises(hvac.exceptions.InvalidRequest):
            client_for(parent).auth.token.create(policies=["web-issuer", "other"])
        client_for(child["client_token"]).write("pki/issue/web", common_name="c.example.com")
        client_for(parent).auth.token.revoke_self()
        for t in (parent, child["client_token"]):
            self.assertForbidden("POST", "pki/issue/web", t, {"common_name": "x.example.com"})
            self.assertForbidden("GET", "auth/token/lookup-self", t)
        client_for(orphan).write("pki/issue/web", common_name="o.example.com")
        # Limited uses: two requests, then the token is gone.
        twice = c.auth.token.create(policies=["web-issuer"], num_uses=2)["auth"]["client_token"]
        client_for(twice).write("pki/issue/web", common_name="t.example.com")
        client_for(twice).write("pki/issue/web", common_name="t.example.com")
        self.assertForbidden("POST", "pki/issue/web", twice, {"common_name": "t.example.com"})

    def test_4_root_paths_need_sudo(self):
        c = root_client()
        c.sys.create_or_update_policy("ca-admin", {"path": {"pki/root/sign-self-issued": {"capabilities": ["update"]},
                                                            "pki/root/generate/*": {"capabilities": ["update"]}}})
        c.sys.create_or_update_policy("ca-admin-sudo", {"path": {
            "pki/root/sign-self-issued": {"capabilities": ["update", "sudo"]}}})
        plain = c.auth.token.create(policies=["ca-admin"])["auth"]["client_token"]
        sudo = c.auth.token.create(policies=["ca-admin-sudo"])["auth"]["client_token"]
        pem = self_issued_ca("Next Root")
        self.assertForbidden("POST", "pki/root/sign-self-issued", plain, {"certificate": pem})
        r = raw("POST", "pki/root/sign-self-issued", sudo, {"certificate": pem})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("BEGIN CERTIFICATE", r.json()["data"]["certificate"])
        # pki/root/generate/* is not a root path (Vault's root paths are exact): update suffices.
        caps = raw("POST", "sys/capabilities", SERVER.token, {"token": plain, "path": "pki/root/generate/internal"})
        self.assertEqual(caps.json()["data"]["capabilities"], ["update"])

    def test_9_tokens_and_policies_survive_a_restart(self):
        c = root_client()
        c.sys.create_or_update_policy("persisted", WEB_ISSUER)
        survivor = c.auth.token.create(policies=["persisted"], ttl="2h")["auth"]
        SERVER.restart()
        self.assertEqual(json.loads(root_client().sys.read_policy("persisted")["data"]["rules"]), WEB_ISSUER)
        svc = client_for(survivor["client_token"])
        me = svc.auth.token.lookup_self()["data"]
        self.assertEqual(me["accessor"], survivor["accessor"])
        self.assertEqual(me["policies"], ["default", "persisted"])
        issued = svc.write("pki/issue/web", common_name="after.example.com")["data"]
        ok, out = harness.openssl_verify(issued["certificate"], self.anchor)
        self.assertTrue(ok, out)
        self.assertForbidden("GET", "pki/roles/web", survivor["client_token"])
        # The token is stored only as a digest: its text is nowhere in the server's RocksDB files.
        secret = survivor["client_token"][len("hvs."):].encode()
        sys_dir = os.path.join(SERVER.data_dir, "data", "sys")
        for dirpath, _, files in os.walk(sys_dir):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(secret, f.read(), name)


if __name__ == "__main__":
    unittest.main()
