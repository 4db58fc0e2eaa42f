"""Operator and service flow against the real pki-server -dev, with hvac, cryptography, requests and openssl.

Run by ctest as: /usr/bin/python3 test_server_flow.py --bin-dir build/bin
"""

import datetime
import ipaddress
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
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def make_csr(key, cn, dns=()):
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


class OperatorAndServiceFlow(unittest.TestCase):
    """One CA, a role, and a service issuing and signing through it; then a restart."""

    @classmethod
    def setUpClass(cls):
        c = client()
        c.sys.tune_mount_configuration(path="pki", max_lease_ttl="87600h")
        root = c.secrets.pki.generate_root(
            type="internal", common_name="Integration Root",
            extra_params={"ttl": "87600h", "key_type": "ec", "key_bits": 384, "issuer_name": "root-2026"})
        cls.root = root["data"]
        c.secrets.pki.create_or_update_role(
            "web", extra_params={"allowed_domains": ["example.com"], "allow_subdomains": True,
                                 "max_ttl": "72h", "key_type": "any", "organization": "Example Org"})
        c.secrets.pki.create_or_update_role(
            "rsa-web", extra_params={"allowed_domains": "example.com", "allow_subdomains": True,
                                     "key_type": "rsa", "key_bits": 2048, "ttl": "24h"})
        c.secrets.pki.create_or_update_role(
            "ec-web", extra_params={"allowed_domains": "example.com", "allow_subdomains": True,
                                    "key_type": "ec", "key_bits": 256, "ttl": "24h"})

    def test_root_generation_response(self):
        root = self.root
        self.assertIn("BEGIN CERTIFICATE", root["certificate"])
        self.assertEqual(root["issuing_ca"], root["certificate"])
        self.assertNotIn("private_key", root)
        self.assertTrue(root["issuer_id"])
        self.assertTrue(root["key_id"])
        self.assertEqual(root["issuer_name"], "root-2026")
        cert = load(root["certificate"])
        self.assertTrue(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        life = cert.not_valid_after - cert.not_valid_before
        self.assertGreater(life, datetime.timedelta(days=3640))
        self.assertEqual(root["serial_number"], ":".join("%02x" % b for b in
                                                          cert.serial_number.to_bytes(20, "big").lstrip(b"\0")))
        self.assertEqual(client().secrets.pki.read_ca_certificate().strip(), root["certificate"])

    def test_issue_ec_and_rsa(self):
        c = client()
        for role, key_type, key_class in (("ec-web", "ec", ec.EllipticCurvePrivateKey),
                                          ("rsa-web", "rsa", rsa.RSAPrivateKey)):
            resp = c.secrets.pki.generate_certificate(
                role, "svc.example.com",
                extra_params={"alt_names": "api.example.com,ops@svc.example.com", "ip_sans": "127.0.0.1", "ttl": "2h"})
            d = resp["data"]
            self.assertEqual(d["private_key_type"], key_type)
            key = serialization.load_pem_private_key(d["private_key"].encode(), None)
            self.assertIsInstance(key, key_class)
            cert = load(d["certificate"])
            self.assertEqual(cert.public_key().public_numbers(), key.public_key().public_numbers())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            self.assertEqual(sorted(san.get_values_for_type(x509.DNSName)), ["api.example.com", "svc.example.com"])
            self.assertEqual(san.get_values_for_type(x509.RFC822Name), ["ops@svc.example.com"])
            self.assertEqual(san.get_values_for_type(x509.IPAddress), [ipaddress.ip_address("127.0.0.1")])
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            self.assertTrue(ku.digital_signature and ku.key_agreement and ku.key_encipherment)
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            self.assertEqual(set(eku), {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH})
            life = cert.not_valid_after - cert.not_valid_before
            self.assertEqual(life, datetime.timedelta(hours=2, seconds=30))  # 30 s backdating
            self.assertEqual(d["expiration"], int(cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()))
            self.assertEqual(d["ca_chain"], [self.root["certificate"]])
            ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
            self.assertTrue(ok, out)

    def test_sign_ec_and_rsa_csrs(self):
        c = client()
        for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)):
            csr = make_csr(key, "csr.example.com", dns=["alt.example.com"])
            d = c.secrets.pki.sign_certificate("web", csr, "ignored.example.com")["data"]
            self.assertNotIn("private_key", d)
            cert = load(d["certificate"])
            self.assertEqual(cert.public_key().public_numbers(), key.public_key().public_numbers())
            self.assertEqual(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "csr.example.com")
            self.assertEqual(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value, "Example Org")
            ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
            self.assertTrue(ok, out)

    def test_ttl_capped_by_role_with_warning(self):
        resp = client().secrets.pki.generate_certificate("web", "a.example.com",
                                                         extra_params={"ttl": "100h", "key_type": "ec"})
        self.assertEqual(resp["warnings"],
                         ['TTL "100h0m0s" is longer than permitted maxTTL "72h0m0s", so maxTTL is being used'])

    def test_refused_names_get_400_in_vault_envelope(self):
        r = requests.post(SERVER.addr + "/v1/pki/issue/ec-web", headers={"X-Vault-Token": SERVER.token},
                          json={"common_name": "evil.org"})
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json(), {"errors": ["common name evil.org not allowed by this role"]})
        r = requests.post(SERVER.addr + "/v1/pki/issue/ec-web", headers={"X-Vault-Token": SERVER.token},
                          json={"common_name": "a.example.com", "alt_names": "b.evil.org"})
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json(), {"errors": ["subject alternate name b.evil.org not allowed by this role"]})
        with self.assertRaises(hvac.exceptions.InvalidRequest):
            client().secrets.pki.generate_certificate("ec-web", "evil.org")

    def test_missing_or_wrong_token_gets_403(self):
        for headers in ({}, {"X-Vault-Token": "wrong"}):
            r = requests.post(SERVER.addr + "/v1/pki/issue/ec-web", headers=headers,
                              json={"common_name": "a.example.com"})
            self.assertEqual(r.status_code, 403)
            self.assertEqual(r.json(), {"errors": ["permission denied"]})
        # Unauthenticated paths need none.
        r = requests.get(SERVER.addr + "/v1/pki/ca/pem")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.text.strip(), self.root["certificate"])
        r = requests.get(SERVER.addr + "/v1/pki/ca")
        self.assertEqual(r.headers["Content-Type"], "application/pkix-cert")
        self.assertEqual(x509.load_der_x509_certificate(r.content), load(self.root["certificate"]))

    def test_certs_list_and_read_return_what_was_issued(self):
        c = client()
        d = c.secrets.pki.generate_certificate("ec-web", "listed.example.com")["data"]
        serial = d["serial_number"]
        keys = c.secrets.pki.list_certificates()["data"]["keys"]
        self.assertIn(serial, keys)
        self.assertIn(self.root["serial_number"], keys)
        got = c.secrets.pki.read_certificate(serial)["data"]
        self.assertEqual(got["certificate"], d["certificate"])
        self.assertEqual(got["revocation_time"], 0)
        dashed = serial.replace(":", "-")
        self.assertEqual(c.secrets.pki.read_certificate(dashed)["data"]["certificate"], d["certificate"])
        raw = requests.get(SERVER.addr + "/v1/pki/cert/%s/raw" % serial)
        self.assertEqual(x509.load_der_x509_certificate(raw.content), load(d["certificate"]))
        # LIST verb and ?list=true agree.
        h = {"X-Vault-Token": SERVER.token}
        via_get = requests.get(SERVER.addr + "/v1/pki/certs?list=true", headers=h).json()["data"]["keys"]
        via_list = requests.request("LIST", SERVER.addr + "/v1/pki/certs", headers=h).json()["data"]["keys"]
        self.assertEqual(via_get, via_list)
        missing = requests.get(SERVER.addr + "/v1/pki/cert/01:02:03")
        self.assertEqual(missing.status_code, 404)

    def test_roles_read_list_and_validation(self):
        c = client()
        role = c.secrets.pki.read_role("web")["data"]
        self.assertEqual(role["max_ttl"], 72 * 3600)
        self.assertEqual(role["allowed_domains"], ["example.com"])
        self.assertEqual(role["key_usage"], ["DigitalSignature", "KeyAgreement", "KeyEncipherment"])
        self.assertIn("web", c.secrets.pki.list_roles()["data"]["keys"])
        r = requests.post(SERVER.addr + "/v1/pki/roles/bad", headers={"X-Vault-Token": SERVER.token},
                          json={"key_type": "ec", "key_bits": 1024})
        self.assertEqual(r.status_code, 400)
        self.assertIn("errors", r.json())
        self.assertEqual(requests.get(SERVER.addr + "/v1/pki/roles/bad",
                                      headers={"X-Vault-Token": SERVER.token}).status_code, 404)

    def test_zz_everything_survives_restart(self):
        c = client()
        d = c.secrets.pki.generate_certificate("ec-web", "before-restart.example.com")["data"]
        SERVER.restart()
        c = client()
        self.assertEqual(c.secrets.pki.read_certificate(d["serial_number"])["data"]["certificate"], d["certificate"])
        self.assertEqual(c.secrets.pki.read_role("web")["data"]["max_ttl"], 72 * 3600)
        self.assertEqual(c.secrets.pki.read_ca_certificate().strip(), self.root["certificate"])
        after = c.secrets.pki.generate_certificate("ec-web", "after-restart.example.com")["data"]
        ok, out = harness.openssl_verify(after["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)
        mounts = c.sys.list_mounted_secrets_engines()
        self.assertEqual(mounts["pki/"]["config"]["max_lease_ttl"], 87600 * 3600)


class IntermediateFlow(unittest.TestCase):
    """A second mount holds an intermediate signed by the first mount's root; leaves verify to the root."""

    def test_intermediate_chain(self):
        c = client()
        c.sys.enable_secrets_engine("pki", path="pki_root")
        c.sys.tune_mount_configuration(path="pki_root", max_lease_ttl="87600h")
        root_pem = c.secrets.pki.generate_root("internal", "Second Root", mount_point="pki_root",
                                               extra_params={"ttl": "87600h"})["data"]["certificate"]
        c.sys.enable_secrets_engine("pki", path="pki_int")
        c.sys.tune_mount_configuration(path="pki_int", max_lease_ttl="43800h")
        csr = c.secrets.pki.generate_intermediate("internal", "Integration Intermediate", mount_point="pki_int",
                                                  extra_params={"key_type": "rsa", "key_bits": 2048})["data"]["csr"]
        signed = c.secrets.pki.sign_intermediate(csr, "Integration Intermediate", mount_point="pki_root",
                                                 extra_params={"ttl": "43800h", "format": "pem_bundle"})["data"]
        c.secrets.pki.set_signed_intermediate(signed["certificate"], mount_point="pki_int")
        c.secrets.pki.create_or_update_role("svc", mount_point="pki_int",
                                            extra_params={"allow_any_name": True, "key_type": "ec"})
        leaf = c.secrets.pki.generate_certificate("svc", "svc.internal", mount_point="pki_int")["data"]
        self.assertEqual(len(leaf["ca_chain"]), 2)
        self.assertEqual(leaf["ca_chain"][1].strip(), root_pem)
        ok, out = harness.openssl_verify(leaf["certificate"], root_pem, untrusted=[leaf["issuing_ca"]])
        self.assertTrue(ok, out)
        inter = load(leaf["issuing_ca"])
        self.assertTrue(inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        chain = c.secrets.pki.read_ca_certificate_chain(mount_point="pki_int")
        self.assertEqual(chain.count("BEGIN CERTIFICATE"), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
