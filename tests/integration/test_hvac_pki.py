"""Every method of hvac's `client.secrets.pki` (Debian's hvac 0.11) against the real pki-server -dev.

Each method is called as an application would call it, and what hvac hands back is checked: certificates parsed
with python cryptography, chains judged by `openssl verify`, CRLs parsed and their signatures checked. The last test
fails when hvac has a public method of its Pki class that no test called (so an hvac upgrade shows what is new).

Mounts: pki (root CA), pki-int (intermediate signed by pki), pki-import (CA bundle imported, then deleted).

Run by ctest as: /usr/bin/python3 test_hvac_pki.py --bin-dir build/bin
"""

import datetime
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
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID  # noqa: E402
from hvac.api.secrets_engines.pki import Pki  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client

CALLED = set()  # names of the hvac Pki methods the tests called


class RecordingPki:
    """client.secrets.pki, noting which methods are called."""

    def __getattr__(self, name):
        attr = getattr(client().secrets.pki, name)
        if callable(attr):
            CALLED.add(name)
        return attr


pki = RecordingPki()


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def serial_hex(cert):
    raw = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 7) // 8, "big")
    return ":".join("%02x" % b for b in raw)


def make_csr(key, cn, dns=()):
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def self_signed_ca(cn, key):
    """A self-signed CA certificate made here (python cryptography), valid for a day."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def enable(path):
    client().sys.enable_secrets_engine(backend_type="pki", path=path)
    client().sys.tune_mount_configuration(path=path, max_lease_ttl="87600h")


class HvacPki(unittest.TestCase):
    """A root CA on pki/, an intermediate on pki-int/, and the operations around them."""

    @classmethod
    def setUpClass(cls):
        client().sys.tune_mount_configuration(path="pki", max_lease_ttl="87600h")
        cls.root = pki.generate_root(type="internal", common_name="hvac Root",
                                     extra_params={"ttl": "87600h", "key_type": "ec", "key_bits": 384})["data"]
        pki.create_or_update_role("web", extra_params={"allowed_domains": "example.com", "allow_subdomains": True,
                                                       "key_type": "ec", "max_ttl": "72h"})

    # --- root, CA fetches -------------------------------------------------------------------------------

    def test_generate_root_and_read_ca(self):
        root = self.root
        cert = load(root["certificate"])
        self.assertEqual(cert.subject, cert.issuer)
        self.assertTrue(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertIsInstance(cert.public_key(), ec.EllipticCurvePublicKey)
        self.assertEqual(cert.public_key().curve.name, "secp384r1")
        self.assertEqual(root["serial_number"], serial_hex(cert))
        self.assertEqual(root["issuing_ca"], root["certificate"])
        self.assertNotIn("private_key", root)
        # read_ca_certificate and read_ca_certificate_chain return text (PEM).
        self.assertEqual(pki.read_ca_certificate().strip(), root["certificate"].strip())
        chain = pki.read_ca_certificate_chain()
        self.assertEqual([load(p + "-----END CERTIFICATE-----") for p in chain.split("-----END CERTIFICATE-----")
                          if p.strip()], [cert])

    def test_generate_exported_root_then_delete_it_and_submit_a_bundle(self):
        enable("pki-import")
        exported = pki.generate_root(type="exported", common_name="Exported Root", mount_point="pki-import",
                                     extra_params={"key_type": "rsa", "key_bits": 2048, "ttl": "24h"})["data"]
        key = serialization.load_pem_private_key(exported["private_key"].encode(), None)
        self.assertIsInstance(key, rsa.RSAPrivateKey)
        self.assertEqual(exported["private_key_type"], "rsa")
        self.assertEqual(load(exported["certificate"]).public_key().public_numbers(),
                         key.public_key().public_numbers())

        deleted = pki.delete_root(mount_point="pki-import")
        self.assertIn("DELETE /root deletes all keys and issuers", deleted["warnings"][0])  # as Vault warns
        self.assertEqual(pki.read_ca_certificate(mount_point="pki-import"), "")
        listing = requests.request("LIST", SERVER.addr + "/v1/pki-import/issuers")
        self.assertEqual(listing.status_code, 404)

        # submit_ca_information (config/ca): a bundle made here becomes the mount's CA.
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = self_signed_ca("Imported CA", ca_key)
        bundle = pem(ca) + ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()).decode()
        resp = pki.submit_ca_information(bundle, mount_point="pki-import")
        self.assertEqual(len(resp["data"]["imported_issuers"]), 1)
        self.assertEqual(len(resp["data"]["imported_keys"]), 1)
        self.assertEqual(load(pki.read_ca_certificate(mount_point="pki-import")), ca)
        pki.create_or_update_role("any", mount_point="pki-import",
                                  extra_params={"allow_any_name": True, "key_type": "ec", "ttl": "1h"})
        leaf = pki.generate_certificate("any", "leaf.imported.test", mount_point="pki-import")["data"]
        ok, out = harness.openssl_verify(leaf["certificate"], pem(ca))
        self.assertTrue(ok, out)

    def test_sign_self_issued(self):
        key = ec.generate_private_key(ec.SECP256R1())
        ca = self_signed_ca("Other Self-Issued CA", key)
        d = pki.sign_self_issued(pem(ca))["data"]
        resigned = load(d["certificate"])
        self.assertEqual(d["issuing_ca"].strip(), self.root["certificate"].strip())
        self.assertEqual(resigned.subject, ca.subject)
        self.assertEqual(resigned.issuer, load(self.root["certificate"]).subject)
        self.assertEqual(resigned.public_key().public_numbers(), key.public_key().public_numbers())
        ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)

    # --- intermediate -------------------------------------------------------------------------------------

    def test_intermediate_generate_sign_and_set_signed(self):
        enable("pki-int")
        gen = pki.generate_intermediate("internal", "hvac Intermediate", mount_point="pki-int",
                                        extra_params={"key_type": "ec", "key_bits": 256})["data"]
        csr = x509.load_pem_x509_csr(gen["csr"].encode())
        self.assertTrue(csr.is_signature_valid)
        self.assertEqual(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "hvac Intermediate")
        self.assertNotIn("private_key", gen)

        signed = pki.sign_intermediate(gen["csr"], "hvac Intermediate",
                                       extra_params={"ttl": "8760h", "max_path_length": 0})["data"]
        inter = load(signed["certificate"])
        bc = inter.extensions.get_extension_for_class(x509.BasicConstraints).value
        self.assertTrue(bc.ca)
        self.assertEqual(bc.path_length, 0)
        self.assertEqual(signed["issuing_ca"].strip(), self.root["certificate"].strip())
        self.assertEqual(inter.public_key().public_numbers(), csr.public_key().public_numbers())
        ok, out = harness.openssl_verify(signed["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)

        resp = pki.set_signed_intermediate(signed["certificate"] + "\n" + signed["issuing_ca"], mount_point="pki-int")
        # Both certificates of the bundle become issuers; only the intermediate has its key here.
        imported = resp["data"]["imported_issuers"]
        self.assertEqual(len(imported), 2)
        self.assertEqual(sorted(v for v in resp["data"]["mapping"].values()), sorted(["", gen["key_id"]]))
        self.assertEqual(load(pki.read_ca_certificate(mount_point="pki-int")), inter)
        chain = pki.read_ca_certificate_chain(mount_point="pki-int")
        self.assertIn(signed["certificate"].strip(), chain)
        self.assertIn(self.root["certificate"].strip(), chain)

        pki.create_or_update_role("svc", mount_point="pki-int",
                                  extra_params={"allowed_domains": ["int.example.com"], "allow_subdomains": True,
                                                "key_type": "rsa", "key_bits": 2048, "ttl": "1h"})
        leaf = pki.generate_certificate("svc", "a.int.example.com", mount_point="pki-int")["data"]
        self.assertEqual([c.strip() for c in leaf["ca_chain"]],
                         [signed["certificate"].strip(), self.root["certificate"].strip()])
        ok, out = harness.openssl_verify(leaf["certificate"], self.root["certificate"], [signed["certificate"]])
        self.assertTrue(ok, out)

    # --- roles --------------------------------------------------------------------------------------------

    def test_role_create_read_list_delete(self):
        resp = pki.create_or_update_role("temp", extra_params={
            "allowed_domains": ["temp.example.com", "other.example.com"], "allow_bare_domains": True,
            "ttl": "2h", "max_ttl": "4h", "key_type": "rsa", "key_bits": 3072, "ou": "Ops",
            "ext_key_usage": ["ServerAuth"], "no_store": False})
        self.assertEqual(resp["data"]["allowed_domains"], ["temp.example.com", "other.example.com"])  # Vault echoes
        role = pki.read_role("temp")["data"]
        self.assertEqual(role["allowed_domains"], ["temp.example.com", "other.example.com"])
        self.assertIs(role["allow_bare_domains"], True)
        self.assertEqual((role["ttl"], role["max_ttl"]), (7200, 14400))
        self.assertEqual((role["key_type"], role["key_bits"]), ("rsa", 3072))
        self.assertEqual(role["ou"], ["Ops"])
        self.assertEqual(role["ext_key_usage"], ["ServerAuth"])
        self.assertIn("temp", pki.list_roles()["data"]["keys"])
        self.assertEqual(pki.delete_role("temp").status_code, 204)
        with self.assertRaises(hvac.exceptions.InvalidPath):
            pki.read_role("temp")
        self.assertNotIn("temp", pki.list_roles()["data"]["keys"])

    # --- issuance -----------------------------------------------------------------------------------------

    def test_generate_certificate_formats(self):
        d = pki.generate_certificate("web", "pem.example.com",
                                     extra_params={"alt_names": "alt.example.com", "ip_sans": "10.0.0.1",
                                                   "ttl": "1h", "private_key_format": "pkcs8"})["data"]
        self.assertIn("BEGIN PRIVATE KEY", d["private_key"])
        cert = load(d["certificate"])
        key = serialization.load_pem_private_key(d["private_key"].encode(), None)
        self.assertEqual(cert.public_key().public_numbers(), key.public_key().public_numbers())
        self.assertEqual(d["serial_number"], serial_hex(cert))
        ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)

        der = pki.generate_certificate("web", "der.example.com", extra_params={"format": "der"})["data"]
        import base64
        self.assertEqual(x509.load_der_x509_certificate(base64.b64decode(der["certificate"])).subject.rfc4514_string(),
                         "CN=der.example.com")
        serialization.load_der_private_key(base64.b64decode(der["private_key"]), None)

        bundle = pki.generate_certificate("web", "bundle.example.com", extra_params={"format": "pem_bundle"})["data"]
        self.assertIn("PRIVATE KEY", bundle["certificate"])
        self.assertIn(self.root["certificate"].strip(), bundle["certificate"])

    def test_sign_certificate_and_sign_verbatim(self):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = make_csr(key, "csr.example.com", dns=["csr-alt.example.com"])
        d = pki.sign_certificate("web", csr, "csr.example.com", extra_params={"ttl": "30m"})["data"]
        cert = load(d["certificate"])
        self.assertEqual(cert.public_key().public_numbers(), key.public_key().public_numbers())
        self.assertEqual(sorted(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                                .value.get_values_for_type(x509.DNSName)),
                         ["csr-alt.example.com", "csr.example.com"])
        self.assertNotIn("private_key", d)
        ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)

        # sign-verbatim takes any name (no role), and sign-verbatim/:role takes the role's TTL limits.
        odd = make_csr(key, "anything.internal", dns=["whatever.corp"])
        v = pki.sign_verbatim(odd, extra_params={"ttl": "1h"})["data"]
        vc = load(v["certificate"])
        self.assertEqual(vc.subject.rfc4514_string(), "CN=anything.internal")
        self.assertEqual(vc.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                         .value.get_values_for_type(x509.DNSName), ["whatever.corp"])
        r = pki.sign_verbatim(odd, name="web", extra_params={"ttl": "100h"})
        self.assertEqual(load(r["data"]["certificate"]).subject.rfc4514_string(), "CN=anything.internal")
        self.assertTrue(any("maxTTL" in w for w in r["warnings"]), r["warnings"])
        ok, out = harness.openssl_verify(v["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)

    def test_read_and_list_certificates(self):
        d = pki.generate_certificate("web", "listed.example.com")["data"]
        got = pki.read_certificate(d["serial_number"])["data"]
        self.assertEqual(load(got["certificate"]), load(d["certificate"]))
        self.assertEqual(got["revocation_time"], 0)
        keys = pki.list_certificates()["data"]["keys"]
        self.assertIn(d["serial_number"], keys)
        self.assertIn(self.root["serial_number"], keys)
        with self.assertRaises(hvac.exceptions.InvalidPath):
            pki.read_certificate("01:02:03:04")

    # --- revocation, CRL ----------------------------------------------------------------------------------

    def test_revoke_and_read_crl(self):
        d = pki.generate_certificate("web", "revoked.example.com")["data"]
        resp = pki.revoke_certificate(d["serial_number"])["data"]
        self.assertGreater(resp["revocation_time"], 0)
        self.assertEqual(pki.read_certificate(d["serial_number"])["data"]["revocation_time"], resp["revocation_time"])
        crl = x509.load_pem_x509_crl(pki.read_crl().encode())
        self.assertTrue(crl.is_signature_valid(load(self.root["certificate"]).public_key()))
        entry = crl.get_revoked_certificate_by_serial_number(load(d["certificate"]).serial_number)
        self.assertIsNotNone(entry)
        self.assertEqual(int(entry.revocation_date.replace(tzinfo=datetime.timezone.utc).timestamp()),
                         resp["revocation_time"])
        ok, out = harness.openssl_verify(d["certificate"], self.root["certificate"])
        self.assertTrue(ok, out)  # without a CRL openssl does not know; with it:
        with_crl = self._verify_with_crl(d["certificate"], pki.read_crl())
        self.assertIn("certificate revoked", with_crl)

    def _verify_with_crl(self, leaf_pem, crl_pem):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for name, text in (("ca", self.root["certificate"]), ("crl", crl_pem), ("leaf", leaf_pem)):
                paths[name] = os.path.join(tmp, name + ".pem")
                with open(paths[name], "w") as f:
                    f.write(text.strip() + "\n")
            out = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", paths["ca"], "-CRLfile", paths["crl"],
                                  paths["leaf"]], capture_output=True, text=True)
            return out.stdout + out.stderr

    def test_crl_configuration_and_rotation(self):
        conf = pki.read_crl_configuration()["data"]
        self.assertEqual(conf["expiry"], "72h")
        self.assertIs(conf["disable"], False)
        pki.set_crl_configuration(expiry="48h", disable=False, extra_params={"ocsp_expiry": "6h"})
        conf = pki.read_crl_configuration()["data"]
        self.assertEqual((conf["expiry"], conf["ocsp_expiry"]), ("48h", "6h"))
        rotated = pki.rotate_crl()
        self.assertEqual(rotated["data"], {"success": True})
        crl = x509.load_pem_x509_crl(pki.read_crl().encode())
        self.assertEqual(crl.next_update - crl.last_update, datetime.timedelta(hours=48))
        pki.set_crl_configuration(expiry="72h")
        self.assertEqual(pki.read_crl_configuration()["data"]["expiry"], "72h")

    # --- URLs ---------------------------------------------------------------------------------------------

    def test_urls_round_trip_and_land_in_certificates(self):
        urls = {"issuing_certificates": ["http://pki.test/v1/pki/ca"],
                "crl_distribution_points": ["http://pki.test/v1/pki/crl"],
                "ocsp_servers": ["http://pki.test/v1/pki/ocsp"]}
        pki.set_urls(urls)
        got = pki.read_urls()["data"]
        for k, v in urls.items():
            self.assertEqual(got[k], v)
        try:
            cert = load(pki.generate_certificate("web", "urls.example.com")["data"]["certificate"])
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            by_method = {(d.access_method, d.access_location.value) for d in aia}
            self.assertIn((AuthorityInformationAccessOID.CA_ISSUERS, "http://pki.test/v1/pki/ca"), by_method)
            self.assertIn((AuthorityInformationAccessOID.OCSP, "http://pki.test/v1/pki/ocsp"), by_method)
            cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            self.assertEqual([n.value for dp in cdp for n in dp.full_name], ["http://pki.test/v1/pki/crl"])
        finally:
            pki.set_urls({"issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": []})
        self.assertEqual(pki.read_urls()["data"]["ocsp_servers"], [])

    # --- tidy ---------------------------------------------------------------------------------------------

    def test_tidy(self):
        resp = pki.tidy(extra_params={"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "1s"})
        self.assertEqual(resp.status_code, 202)
        self.assertIn("Tidy operation successfully started", " ".join(resp.json()["warnings"]))
        import time
        deadline = time.time() + 30
        while time.time() < deadline:
            status = client().read("pki/tidy-status")["data"]
            if status["state"] != "Running":
                break
            time.sleep(0.1)
        self.assertEqual(status["state"], "Finished", status)
        self.assertIs(status["tidy_cert_store"], True)
        # Nothing here has expired: every certificate issued by the tests is still listed.
        self.assertIn(self.root["serial_number"], pki.list_certificates()["data"]["keys"])


class ZzEveryMethodCalled(unittest.TestCase):
    """Runs last (classes run in name order): every public method of hvac's Pki was exercised above."""

    def test_every_public_method_was_called(self):
        public = {name for name, value in vars(Pki).items() if callable(value) and not name.startswith("_")}
        self.assertGreaterEqual(len(public), 26)
        self.assertEqual(sorted(public - CALLED), [])


if __name__ == "__main__":
    unittest.main()
