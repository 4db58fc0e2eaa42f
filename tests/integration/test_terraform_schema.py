"""The Terraform Vault provider's PKI resources against pki-server, attribute by attribute.

The attribute lists come from the provider's generated schema as @cdktf/provider-vault ships it (installed by
`npm ci` from tests/clients/package-lock.json; read by tests/clients/terraform_schema.js at test time, never
copied here). For each resource, the request the provider sends (vault/resource_pki_secret_backend_*.go of
hashicorp/terraform-provider-vault: which attribute goes to which API field, as a list or a comma-joined string,
on which path) is built with every API attribute set, sent, and the answer checked:

- no attribute the provider sends is ignored by the server (Vault's "Endpoint ignored these unrecognized
  parameters" warning) unless the table below says Vault ignores it too;
- what the provider reads back (roles, config/urls, config/crl, issuers) comes back equal and with the type the
  provider's schema has; computed attributes are in the response with their type.

An attribute of the package that is neither sent here nor in the table fails the test, so a provider upgrade
shows its new attributes as gaps.

Run by ctest as: /usr/bin/python3 test_terraform_schema.py --bin-dir build/bin
"""

import datetime
import ipaddress
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import node_clients  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtensionOID, NameOID  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)

RESOURCES = [
    "pki-secret-backend-role", "pki-secret-backend-root-cert", "pki-secret-backend-intermediate-cert-request",
    "pki-secret-backend-intermediate-set-signed", "pki-secret-backend-cert", "pki-secret-backend-sign",
    "pki-secret-backend-config-urls", "pki-secret-backend-crl-config", "pki-secret-backend-issuer",
]

# ---- The table: attributes that are not API fields of the resource's request, and why. -------------------------

# Terraform-side attributes of every resource.
TERRAFORM_ONLY_ALL = {
    "backend": "the mount path: part of the request URL",
    "namespace": "sent as the X-Vault-Namespace header (Vault Enterprise namespaces), not as a field",
    "id": "Terraform's own resource id",
}
# Terraform-side attributes of one resource.
TERRAFORM_ONLY = {
    "pki-secret-backend-role": {"name": "URL: <backend>/roles/<name>"},
    "pki-secret-backend-root-cert": {"type": "URL: <backend>/issuers/generate/root/<type>"},
    "pki-secret-backend-intermediate-cert-request": {"type": "URL: <backend>/issuers/generate/intermediate/<type>"},
    "pki-secret-backend-cert": {
        "name": "URL: <backend>/issue/<name>",
        "auto_renew": "the provider re-issues when renew_pending; no field",
        "min_seconds_remaining": "the provider's renewal threshold; no field",
        "revoke": "on destroy the provider POSTs <backend>/revoke {serial_number} (done below)",
        "revoke_with_key": "on destroy the provider POSTs <backend>/revoke-with-key {serial_number, private_key} "
                           "(done below)",
    },
    "pki-secret-backend-sign": {
        "name": "URL: <backend>/sign/<name>",
        "auto_renew": "the provider re-signs when renew_pending; no field",
        "min_seconds_remaining": "the provider's renewal threshold; no field",
    },
    "pki-secret-backend-issuer": {"issuer_ref": "URL: <backend>/issuer/<issuer_ref>"},
}
# Computed by the provider itself, never read from the API.
PROVIDER_COMPUTED = {
    "renew_pending": "expiration - now < min_seconds_remaining, computed by the provider",
}
# Sent by the provider but not fields of Vault's open-source PKI engine. Each is sent below and must come back in
# the "ignored" warning, as open-source Vault answers it (so implementing one shows up as a table change).
VAULT_ENTERPRISE_ONLY = {
    "cert_metadata": "certificate metadata (Vault Enterprise 1.17+)",
    "disable_critical_extension_checks": "issuance chain-verification switch (Vault Enterprise)",
    "disable_name_checks": "issuance chain-verification switch (Vault Enterprise)",
    "disable_name_constraint_checks": "issuance chain-verification switch (Vault Enterprise)",
    "disable_path_length_checks": "issuance chain-verification switch (Vault Enterprise)",
}
# Managed keys (HSM/KMS) are Vault Enterprise: the provider sends these only with type=kms, which is refused.
MANAGED_KEYS = {"managed_key_name", "managed_key_id"}
# Sent by the provider, ignored by Vault itself on that path (and so here, with the same warning).
VAULT_IGNORES = {
    ("pki-secret-backend-cert", "issuer_ref"): "issue/:name uses the role's issuer_ref; only "
                                               "issuer/:ref/issue/:name takes one (Vault's pathIssueSignCert)",
    ("pki-secret-backend-sign", "issuer_ref"): "sign/:name uses the role's issuer_ref; only "
                                               "issuer/:ref/sign/:name takes one",
}

IGNORED_RE = re.compile(r"Endpoint ignored these unrecognized parameters: \[(.*)\]")


def setUpModule():
    global SCHEMA
    modules = node_clients.install(ARGS.bin_dir)
    SCHEMA = node_clients.run_node(modules, "terraform_schema.js", RESOURCES)
    SERVER.setup()


def tearDownModule():
    SERVER.finish()


def api(method, path, body=None):
    r = requests.request(method, SERVER.addr + "/v1/" + path, json=body, timeout=60,
                         headers={"X-Vault-Token": SERVER.token, "X-Vault-Request": "true"})
    return r


def write(path, body):
    """The provider's client.Logical().Write: PUT with JSON; returns (json or {}, ignored fields)."""
    r = api("PUT", path, body)
    if r.status_code not in (200, 204):
        raise AssertionError("PUT %s -> %d %s" % (path, r.status_code, r.text))
    data = r.json() if r.status_code == 200 else {}
    ignored = set()
    for w in data.get("warnings") or []:
        m = IGNORED_RE.search(w)
        if m:
            ignored.update(m.group(1).split())
    return data, ignored


def read(path):
    r = api("GET", path)
    if r.status_code != 200:
        raise AssertionError("GET %s -> %d %s" % (path, r.status_code, r.text))
    return r.json()["data"]


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def csr_pem(cn, dns=()):
    key = ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


# JSON type a read returns for an attribute of the provider's schema type.
def type_ok(storage, value):
    if storage == "boolean":
        return isinstance(value, bool)
    if storage == "number":
        return isinstance(value, int) and not isinstance(value, bool)
    if storage == "string":
        return isinstance(value, str)
    if storage == "stringList":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError("unexpected schema type " + storage)


COMPUTED_TYPES = {"String": str, "Number": int, "Boolean": bool, "List": list}


class TerraformProviderSchema(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        api("POST", "sys/mounts/pki/tune", {"max_lease_ttl": "87600h"}).raise_for_status()
        # The mount's default issuer, as an earlier vault_pki_secret_backend_root_cert would have made it.
        write("pki/root/generate/internal", {"common_name": "TF Default Root", "key_type": "ec", "ttl": "87600h"})

    def inputs(self, resource):
        return SCHEMA[resource]["inputs"]

    def check_coverage(self, resource, sent, extra_sent=()):
        """Every attribute of the package is either in `sent` (or `extra_sent`: sent in another request of the
        resource) or in the table."""
        table = set(TERRAFORM_ONLY_ALL) | set(TERRAFORM_ONLY.get(resource, {})) | set(VAULT_ENTERPRISE_ONLY) \
            | MANAGED_KEYS | {a for (r, a) in VAULT_IGNORES if r == resource}
        covered = set(sent) | set(extra_sent) | table
        missing = sorted(set(self.inputs(resource)) - covered)
        self.assertEqual(missing, [], "%s: attributes of the provider that this test neither sends nor explains "
                                      "in its table (new in the provider? map them to the API)" % resource)

    def check_ignored(self, resource, ignored):
        allowed = set(VAULT_ENTERPRISE_ONLY) | {a for (r, a) in VAULT_IGNORES if r == resource}
        self.assertEqual(sorted(ignored - allowed), [], "%s: fields the server ignored" % resource)

    def check_computed(self, resource, data, converted=None):
        converted = converted or {}
        for attr, kind in SCHEMA[resource]["computed"].items():
            if attr in PROVIDER_COMPUTED:
                continue
            with self.subTest(resource=resource, computed=attr):
                self.assertIn(attr, data)
                want = converted.get(attr, COMPUTED_TYPES[kind])
                if kind == "List" and data[attr] is None:
                    continue  # a Go nil slice: Vault answers null, the provider stores an empty list
                self.assertIsInstance(data[attr], want)

    # ---- vault_pki_secret_backend_role ---------------------------------------------------------------------

    def test_role_every_attribute_round_trips(self):
        res = "pki-secret-backend-role"
        role = {
            "allow_any_name": False, "allow_bare_domains": True, "allow_glob_domains": True, "allow_ip_sans": False,
            "allow_localhost": False, "allow_subdomains": True, "allow_wildcard_certificates": False,
            "allowed_domains": ["example.com", "example.org"], "allowed_domains_template": False,
            "allowed_other_sans": ["1.3.6.1.4.1.311.20.2.3;UTF8:*"], "allowed_serial_numbers": ["A*"],
            "allowed_uri_sans": ["spiffe://example.com/*"], "allowed_uri_sans_template": False,
            "allowed_user_ids": ["alice", "bob"], "basic_constraints_valid_for_non_ca": True, "client_flag": False,
            "cn_validations": ["hostname"], "code_signing_flag": True, "country": ["DE"],
            "email_protection_flag": True, "enforce_hostnames": False, "ext_key_usage": ["TimeStamping"],
            "ext_key_usage_oids": ["1.3.6.1.5.5.7.3.9"], "generate_lease": False, "issuer_ref": "default",
            "key_bits": 384, "key_type": "ec", "key_usage": ["DigitalSignature", "CertSign"], "locality": ["Berlin"],
            "max_ttl": "7200", "no_store": False, "no_store_metadata": True, "not_after": "2031-01-02T03:04:05Z",
            "not_before_duration": "45s", "organization": ["Example"], "ou": ["Ops", "Dev"],
            "policy_identifiers": ["1.3.6.1.4.1.44947.1.2.3", "2.23.140.1.2.1"], "postal_code": ["10115"],
            "province": ["Berlin"], "require_cn": False, "serial_number_source": "json", "server_flag": True,
            "signature_bits": 384, "street_address": ["Main St 1"], "ttl": "3600", "use_csr_common_name": False,
            "use_csr_sans": False, "use_pss": False,
        }
        # The policy_identifier block goes as one JSON string (the provider's ReadPolicyIdentifierBlocks).
        blocks = [{"cps": "https://cps.example.com", "notice": "For tests", "oid": "1.3.6.1.4.1.44947.1.2.4"}]
        self.check_coverage(res, role, extra_sent=["policy_identifier"])
        for name, body in (("tf-role", role), ("tf-role-blocks", dict(role, policy_identifiers=json.dumps(blocks)))):
            _, ignored = write("pki/roles/" + name, body)
            self.check_ignored(res, ignored)
        inputs = self.inputs(res)
        got = read("pki/roles/tf-role")
        durations = {"ttl": 3600, "max_ttl": 7200, "not_before_duration": 45}
        for attr, value in role.items():
            with self.subTest(attr=attr):
                self.assertIn(attr, got)
                if attr in durations:
                    # Vault answers durations in seconds; the provider stores them as strings (FlattenVaultDuration
                    # for not_before_duration).
                    self.assertEqual(got[attr], durations[attr])
                    continue
                self.assertTrue(type_ok(inputs[attr]["storage"], got[attr]), (attr, got[attr]))
                self.assertEqual(got[attr], value)
        # The block form reads back as JSON object strings (MakePkiPolicyIdentifiersListOrSet parses them into
        # map[string]string).
        got_blocks = read("pki/roles/tf-role-blocks")["policy_identifiers"]
        self.assertEqual([json.loads(s) for s in got_blocks], blocks)
        self.assertTrue(all(s.startswith("{") and s.endswith("}") for s in got_blocks))
        self.assertEqual(sorted(inputs["policy_identifier"]["block_fields"]), ["cps", "notice", "oid"])

        # A role with only a name: the provider's boolean fields all sent (d.Get), lists only when set.
        minimal = {k: False for k in role if inputs[k]["storage"] == "boolean"}
        write("pki/roles/tf-minimal", minimal)
        got = read("pki/roles/tf-minimal")
        self.assertEqual(got["serial_number_source"], "json-csr")
        self.assertIs(got["no_store_metadata"], False)
        # An empty key_usage list (set as [] in the configuration) is sent and kept empty.
        write("pki/roles/tf-minimal", dict(minimal, key_usage=[]))
        self.assertEqual(read("pki/roles/tf-minimal")["key_usage"], [])
        r = api("PUT", "pki/roles/tf-bad", {"serial_number_source": "csr"})
        self.assertEqual(r.status_code, 400, r.text)

    # ---- root cert, intermediate request, set-signed, issuer ---------------------------------------------

    def test_root_intermediate_and_issuer(self):
        res = "pki-secret-backend-root-cert"
        root = {
            "common_name": "TF Root", "ttl": "87600h", "format": "pem", "private_key_format": "der",
            "max_path_length": 3, "ou": "Ops", "organization": "Example", "country": "DE", "locality": "Berlin",
            "province": "Berlin", "street_address": "Main St 1", "postal_code": "10115", "signature_bits": 384,
            "not_before_duration": "60s", "key_type": "ec", "key_bits": 384, "issuer_name": "tf-root",
            "key_name": "tf-root-key", "exclude_cn_from_sans": False,
            "alt_names": "root.example.com", "ip_sans": "10.0.0.1", "uri_sans": "spiffe://example.com/root",
            "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:root@example.com",
            "permitted_dns_domains": "example.com,example.org", "excluded_dns_domains": "bad.example.com",
            "permitted_ip_ranges": "10.0.0.0/8,2001:db8::/32", "excluded_ip_ranges": "10.66.0.0/16",
            "permitted_email_addresses": "example.com", "excluded_email_addresses": "bad@example.com",
            "permitted_uri_domains": ".example.com", "excluded_uri_domains": "bad.example.com",
        }
        self.check_coverage(res, root, extra_sent=["not_after", "key_ref"])
        data, ignored = write("pki/issuers/generate/root/internal", root)
        self.check_ignored(res, ignored)
        d = data["data"]
        self.check_computed(res, d)
        cert = load(d["certificate"])
        names = {a.oid: a.value for a in cert.subject}
        self.assertEqual(names[NameOID.COMMON_NAME], "TF Root")
        self.assertEqual(names[NameOID.ORGANIZATIONAL_UNIT_NAME], "Ops")
        self.assertEqual(names[NameOID.POSTAL_CODE], "10115")
        self.assertEqual(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length, 3)
        self.assertEqual(cert.not_valid_after - cert.not_valid_before, datetime.timedelta(hours=87600, seconds=60))
        self.assertIsInstance(cert.signature_hash_algorithm, hashes.SHA384)
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints)
        self.assertTrue(nc.critical)
        permitted = {(type(n).__name__, str(n.value)) for n in nc.value.permitted_subtrees}
        excluded = {(type(n).__name__, str(n.value)) for n in nc.value.excluded_subtrees}
        self.assertEqual(permitted, {("DNSName", "example.com"), ("DNSName", "example.org"),
                                     ("IPAddress", "10.0.0.0/8"), ("IPAddress", "2001:db8::/32"),
                                     ("RFC822Name", "example.com"), ("UniformResourceIdentifier", ".example.com")})
        self.assertEqual(excluded, {("DNSName", "bad.example.com"), ("IPAddress", "10.66.0.0/16"),
                                    ("RFC822Name", "bad@example.com"),
                                    ("UniformResourceIdentifier", "bad.example.com")})
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.IPAddress), [ipaddress.ip_address("10.0.0.1")])
        self.assertEqual(read("pki/issuer/tf-root")["key_id"], read("pki/key/tf-root-key")["key_id"])
        # A bad range is a 400, not a silent drop.
        r = api("PUT", "pki/issuers/generate/root/internal", {"common_name": "x", "permitted_ip_ranges": "10.0.0.1"})
        self.assertEqual(r.status_code, 400, r.text)

        # type=existing with key_ref, and not_after instead of ttl.
        again, ignored = write("pki/issuers/generate/root/existing",
                               {"common_name": "TF Root Again", "key_ref": "tf-root-key",
                                "not_after": "2035-01-01T00:00:00Z", "issuer_name": "tf-root-again"})
        self.check_ignored(res, ignored)
        self.assertEqual(again["data"]["key_id"], d["key_id"])
        self.assertEqual(load(again["data"]["certificate"]).not_valid_after, datetime.datetime(2035, 1, 1))
        # Managed keys are Vault Enterprise: type=kms is refused.
        r = api("PUT", "pki/issuers/generate/root/kms", {"common_name": "x", "managed_key_name": "hsm"})
        self.assertEqual(r.status_code, 400, r.text)

        # vault_pki_secret_backend_intermediate_cert_request on another mount.
        api("POST", "sys/mounts/tf-int", {"type": "pki"}).raise_for_status()
        res = "pki-secret-backend-intermediate-cert-request"
        req = {
            "common_name": "TF Intermediate", "format": "pem", "private_key_format": "der", "ou": "Ops",
            "organization": "Example", "country": "DE", "locality": "Berlin", "province": "Berlin",
            "street_address": "Main St 1", "postal_code": "10115", "serial_number": "TF-0001",
            "signature_bits": 256, "key_type": "ec", "key_bits": 256, "key_name": "tf-int-key",
            "exclude_cn_from_sans": False, "add_basic_constraints": True, "alt_names": "int.example.com",
            "ip_sans": "10.0.0.2", "uri_sans": "spiffe://example.com/int",
            "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:int@example.com", "key_usage": "CertSign,CRLSign",
        }
        self.check_coverage(res, req, extra_sent=["key_ref"])
        data, ignored = write("tf-int/issuers/generate/intermediate/exported", req)
        self.check_ignored(res, ignored)
        gen = data["data"]
        self.check_computed(res, gen)
        csr = x509.load_pem_x509_csr(gen["csr"].encode())
        self.assertTrue(csr.is_signature_valid)
        self.assertEqual(csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value, "TF-0001")
        self.assertTrue(csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        ku = csr.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(ku.key_cert_sign and ku.crl_sign)
        self.assertFalse(ku.digital_signature)
        key = serialization.load_der_private_key(__import__("base64").b64decode(gen["private_key"]), None) \
            if "BEGIN" not in gen["private_key"] else serialization.load_pem_private_key(gen["private_key"].encode(),
                                                                                         None)
        self.assertEqual(key.public_key().public_numbers(), csr.public_key().public_numbers())
        # type=existing with key_ref: a second CSR for the same key.
        again, ignored = write("tf-int/issuers/generate/intermediate/existing",
                               {"common_name": "TF Intermediate", "key_ref": "tf-int-key"})
        self.check_ignored(res, ignored)
        self.assertEqual(x509.load_pem_x509_csr(again["data"]["csr"].encode()).public_key().public_numbers(),
                         csr.public_key().public_numbers())

        # vault_pki_secret_backend_root_sign_intermediate's usual companion: sign with the root, then set-signed.
        signed = write("pki/issuer/tf-root/sign-intermediate",
                       {"csr": gen["csr"], "common_name": "TF Intermediate", "ttl": "8760h",
                        "permitted_dns_domains": "example.com"})[0]["data"]
        res = "pki-secret-backend-intermediate-set-signed"
        body = {"certificate": signed["certificate"] + "\n" + signed["issuing_ca"]}
        self.check_coverage(res, body)
        data, ignored = write("tf-int/intermediate/set-signed", body)
        self.check_ignored(res, ignored)
        self.check_computed(res, data["data"])
        # The intermediate (with the key generated above) and the root from the bundle (no key here).
        mapping = data["data"]["mapping"]
        self.assertEqual(sorted(mapping.values()), sorted(["", gen["key_id"]]))

        # vault_pki_secret_backend_issuer on the new intermediate (create: Write; update: JSON merge patch).
        res = "pki-secret-backend-issuer"
        issuer_id = [i for i, k in mapping.items() if k == gen["key_id"]][0]
        root_id = [i for i, k in mapping.items() if k == ""][0]  # the root as imported into tf-int
        upd = {
            "issuer_name": "tf-int", "leaf_not_after_behavior": "truncate", "manual_chain": [issuer_id, root_id],
            "usage": "read-only,issuing-certificates,crl-signing,ocsp-signing",
            "revocation_signature_algorithm": "ECDSAWithSHA256",
            "issuing_certificates": ["http://pki.example.com/ca"],
            "crl_distribution_points": ["http://pki.example.com/crl"],
            "ocsp_servers": ["http://pki.example.com/ocsp"], "enable_aia_url_templating": False,
        }
        enterprise = {k: False for k in VAULT_ENTERPRISE_ONLY if k in self.inputs(res)}
        self.check_coverage(res, upd)
        _, ignored = write("tf-int/issuer/" + issuer_id, dict(upd, **enterprise))
        self.check_ignored(res, ignored)
        self.assertEqual(ignored, set(enterprise))  # open-source Vault ignores them too
        got = read("tf-int/issuer/tf-int")
        self.check_computed(res, got)
        inputs = self.inputs(res)
        for attr, value in upd.items():
            with self.subTest(attr=attr):
                self.assertTrue(type_ok(inputs[attr]["storage"], got[attr]), (attr, got[attr]))
                self.assertEqual(got[attr], value)
        # Update: the provider sends only the changed attributes as a JSON merge patch.
        r = requests.patch(SERVER.addr + "/v1/tf-int/issuer/tf-int", data=json.dumps({"leaf_not_after_behavior": "err"}),
                           headers={"X-Vault-Token": SERVER.token, "Content-Type": "application/merge-patch+json"},
                           timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        got = read("tf-int/issuer/tf-int")
        self.assertEqual(got["leaf_not_after_behavior"], "err")
        self.assertEqual(got["manual_chain"], [issuer_id, root_id])

    # ---- vault_pki_secret_backend_cert and _sign ---------------------------------------------------------

    def test_cert_and_sign(self):
        write("pki/roles/tf-issue", {"allowed_domains": ["example.com"], "allow_subdomains": True,
                                     "allowed_uri_sans": ["spiffe://example.com/*"], "allowed_user_ids": ["*"],
                                     "allowed_other_sans": ["*"], "key_type": "ec", "max_ttl": "72h"})
        res = "pki-secret-backend-cert"
        cert = {
            "common_name": "app.example.com", "ttl": "3600", "format": "pem", "private_key_format": "pkcs8",
            "user_ids": "alice,bob", "exclude_cn_from_sans": False, "alt_names": "api.example.com,www.example.com",
            "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:app@example.com", "ip_sans": "10.1.2.3",
            "uri_sans": "spiffe://example.com/app",
        }
        self.check_coverage(res, cert, extra_sent=["not_after"])
        with_ent = dict(cert, issuer_ref="default", cert_metadata="dGVzdA==")
        data, ignored = write("pki/issue/tf-issue", with_ent)
        self.check_ignored(res, ignored)
        self.assertEqual(ignored, {"issuer_ref", "cert_metadata"})
        d = data["data"]
        # The provider joins ca_chain (a list in the API) into one string for this resource.
        self.check_computed(res, d, converted={"ca_chain": list})
        leaf = load(d["certificate"])
        self.assertIn("BEGIN PRIVATE KEY", d["private_key"])
        uids = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.USER_ID)]
        self.assertEqual(uids, ["alice", "bob"])
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(sorted(san.get_values_for_type(x509.DNSName)),
                         ["api.example.com", "app.example.com", "www.example.com"])
        self.assertEqual(san.get_values_for_type(x509.UniformResourceIdentifier), ["spiffe://example.com/app"])
        self.assertEqual(len([n for n in san if isinstance(n, x509.OtherName)]), 1)
        self.assertEqual(leaf.not_valid_after - leaf.not_valid_before, datetime.timedelta(hours=1, seconds=30))
        # not_after instead of ttl.
        later = (datetime.datetime.utcnow() + datetime.timedelta(hours=5)).replace(microsecond=0)
        d2 = write("pki/issue/tf-issue", {"common_name": "late.example.com",
                                          "not_after": later.strftime("%Y-%m-%dT%H:%M:%SZ")})[0]["data"]
        self.assertEqual(load(d2["certificate"]).not_valid_after, later)
        # The provider reads the mount (GET sys/mounts/<backend>) to refresh the resource.
        mount = read("sys/mounts/pki")
        self.assertEqual(mount["type"], "pki")
        # Destroy with revoke = true, and with revoke_with_key = true.
        self.assertGreater(write("pki/revoke", {"serial_number": d["serial_number"]})[0]["data"]["revocation_time"], 0)
        self.assertGreater(write("pki/revoke-with-key", {"serial_number": d2["serial_number"],
                                                         "private_key": d2["private_key"]})[0]["data"]
                           ["revocation_time"], 0)

        res = "pki-secret-backend-sign"
        sign = {
            "csr": csr_pem("signed.example.com", dns=["signed.example.com"]), "common_name": "signed.example.com",
            "ttl": "2h", "format": "pem_bundle", "exclude_cn_from_sans": True, "alt_names": "alt.example.com",
            "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:s@example.com", "ip_sans": "10.1.2.4",
            "uri_sans": "spiffe://example.com/signed",
        }
        self.check_coverage(res, sign, extra_sent=["not_after"])
        data, ignored = write("pki/sign/tf-issue", dict(sign, issuer_ref="default", cert_metadata="dGVzdA=="))
        self.check_ignored(res, ignored)
        d = data["data"]
        self.check_computed(res, d)
        self.assertIn("BEGIN CERTIFICATE", d["certificate"])
        signed = load(d["certificate"])
        self.assertEqual(signed.not_valid_after - signed.not_valid_before, datetime.timedelta(hours=2, seconds=30))
        d3 = write("pki/sign/tf-issue", {"csr": sign["csr"], "common_name": "signed.example.com",
                                         "not_after": later.strftime("%Y-%m-%dT%H:%M:%SZ")})[0]["data"]
        self.assertEqual(load(d3["certificate"]).not_valid_after, later)

    # ---- config/urls and config/crl ----------------------------------------------------------------------

    def test_config_urls_round_trip(self):
        res = "pki-secret-backend-config-urls"
        body = {"issuing_certificates": ["http://a.example.com/ca", "http://b.example.com/ca"],
                "crl_distribution_points": ["http://a.example.com/crl"],
                "ocsp_servers": ["http://a.example.com/ocsp"], "enable_templating": False}
        self.check_coverage(res, body)
        _, ignored = write("pki/config/urls", body)
        self.check_ignored(res, ignored)
        got = read("pki/config/urls")
        inputs = self.inputs(res)
        for attr, value in body.items():
            with self.subTest(attr=attr):
                self.assertTrue(type_ok(inputs[attr]["storage"], got[attr]), (attr, got[attr]))
                self.assertEqual(got[attr], value)
        write("pki/config/urls", {"issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": [],
                                  "enable_templating": False})

    def test_crl_config_round_trip(self):
        res = "pki-secret-backend-crl-config"
        body = {"expiry": "48h", "disable": False, "ocsp_disable": False, "ocsp_expiry": "6h",
                "auto_rebuild": True, "auto_rebuild_grace_period": "6h", "enable_delta": True,
                "delta_rebuild_interval": "10m", "cross_cluster_revocation": False, "unified_crl": False,
                "unified_crl_on_existing_paths": False, "max_crl_entries": 50000}
        self.check_coverage(res, body)
        _, ignored = write("pki/config/crl", body)
        self.check_ignored(res, ignored)
        got = read("pki/config/crl")
        inputs = self.inputs(res)
        for attr, value in body.items():
            with self.subTest(attr=attr):
                self.assertTrue(type_ok(inputs[attr]["storage"], got[attr]), (attr, got[attr]))
                self.assertEqual(got[attr], value)
        # The cross-cluster features are Vault Enterprise: asking for them is refused, not ignored.
        for flag in ("cross_cluster_revocation", "unified_crl", "unified_crl_on_existing_paths"):
            r = api("PUT", "pki/config/crl", {flag: True})
            self.assertEqual(r.status_code, 400, (flag, r.text))
        self.assertEqual(read("pki/config/crl"), got)
        write("pki/config/crl", {"expiry": "72h", "ocsp_expiry": "12h", "auto_rebuild": False, "enable_delta": False,
                                 "auto_rebuild_grace_period": "12h", "delta_rebuild_interval": "15m",
                                 "max_crl_entries": -1})

    def test_table_names_only_attributes_the_package_has(self):
        every = set()
        for r in RESOURCES:
            every |= set(self.inputs(r)) | set(SCHEMA[r]["computed"])
        table = set(TERRAFORM_ONLY_ALL) | set(PROVIDER_COMPUTED) | set(VAULT_ENTERPRISE_ONLY) | MANAGED_KEYS
        for r, t in TERRAFORM_ONLY.items():
            self.assertEqual(sorted(set(t) - set(self.inputs(r))), [], r)
        self.assertEqual(sorted(table - every), [], "table entries the provider no longer has")


if __name__ == "__main__":
    unittest.main()
