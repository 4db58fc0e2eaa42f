"""cert-manager's Vault issuer against the real pki-server -dev.

The request is the one cert-manager's Vault client sends in Sign() (internal/vault/vault.go): an HTTP POST to
/v1/<spec.vault.path> (e.g. pki/sign/<role>) through HashiCorp's Go API client, so with the X-Vault-Token and
X-Vault-Request headers, and a JSON body of strings only:

    common_name, alt_names (CSR DNS names joined by ","), ip_sans, uri_sans (likewise), ttl (Go's
    time.Duration.String(), e.g. "2160h0m0s"), csr (the PEM), exclude_cn_from_sans "true"

It decodes `data` with certutil.ParsePKIMap (certificate, issuing_ca, ca_chain, serial_number, private_key ...),
then builds the Secret's tls.crt and ca.crt with pki.ParseSingleCertificateChainPEM over
ca_chain + issuing_ca + certificate: duplicates removed, the certificates linked child -> parent by signature into
exactly one chain (else "certificate chain is malformed or broken"); tls.crt is the leaf and every non-self-signed
certificate above it, ca.crt the top of the chain. That logic is reproduced here and the result is judged by
`openssl verify`, for a role under a root and a role under an intermediate on another mount.

Run by ctest as: /usr/bin/python3 test_cert_manager_vault.py --bin-dir build/bin
"""

import datetime
import ipaddress
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client

PEM_END = "-----END CERTIFICATE-----"


def go_duration(seconds):
    """Go's time.Duration.String() for whole seconds: 2160h0m0s, 1h0m0s, 5m0s, 30s."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return "%dh%dm%ds" % (h, m, s)
    if m:
        return "%dm%ds" % (m, s)
    return "%ds" % s


def cert_manager_csr(key, cn, dns=(), ips=(), uris=()):
    """A CSR like cert-manager's for a Certificate resource: CN plus DNS/IP/URI SANs."""
    sans = ([x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            + [x509.UniformResourceIdentifier(u) for u in uris])
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def cert_manager_sign(vault_path, csr_pem, duration_seconds):
    """Sign() of cert-manager's Vault client, on the wire; returns the decoded JSON response."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parameters = {
        "common_name": cns[0].value if cns else "",
        "alt_names": ",".join(san.get_values_for_type(x509.DNSName)),
        "ip_sans": ",".join(str(i) for i in san.get_values_for_type(x509.IPAddress)),
        "uri_sans": ",".join(san.get_values_for_type(x509.UniformResourceIdentifier)),
        "ttl": go_duration(duration_seconds),
        "csr": csr_pem,
        "exclude_cn_from_sans": "true",
    }
    r = requests.post(SERVER.addr + "/v1/" + vault_path, json=parameters, timeout=30,
                      headers={"X-Vault-Token": SERVER.token, "X-Vault-Request": "true"})
    return r


def split_pems(text):
    return [p.strip() + "\n" + PEM_END for p in text.split(PEM_END) if p.strip()]


def signed_by(child, parent):
    """Whether parent's key verifies child's signature (Go's CheckSignatureFrom, without the CA checks)."""
    if child.issuer != parent.subject:
        return False
    key = parent.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), child.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def parse_single_certificate_chain(pems):
    """cert-manager's pki.ParseSingleCertificateChainPEM: returns (chain_pems, ca_pem); raises on a broken chain."""
    certs = {}
    for p in pems:
        c = x509.load_pem_x509_certificate(p.encode())
        certs[c.public_bytes(serialization.Encoding.DER)] = c
    certs = list(certs.values())
    parent = {}
    for c in certs:
        ps = [p for p in certs if p is not c and signed_by(c, p)]
        if len(ps) > 1:
            raise ValueError("certificate chain is malformed or broken (two parents)")
        if ps:
            parent[id(c)] = ps[0]
    children = {id(p) for p in parent.values()}
    leaves = [c for c in certs if id(c) not in children and not (signed_by(c, c) and len(certs) > 1)]
    if len(leaves) != 1:
        raise ValueError("certificate chain is malformed or broken (%d leaves)" % len(leaves))
    chain, node = [], leaves[0]
    while True:
        chain.append(node)
        if id(node) not in parent:
            break
        node = parent[id(node)]
    if len(chain) != len(certs):
        raise ValueError("certificate chain is malformed or broken (certificates left over)")
    top = chain[-1]
    if signed_by(top, top) and len(chain) > 1:
        chain = chain[:-1]  # the self-signed root goes to ca.crt only
    to_pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
    return [to_pem(c) for c in chain], to_pem(top)


class CertManagerVaultIssuer(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        c = client()
        c.sys.tune_mount_configuration(path="pki", max_lease_ttl="87600h")
        cls.root = c.write("pki/root/generate/internal", common_name="cm Root", key_type="rsa", key_bits=2048,
                           ttl="87600h")["data"]["certificate"]
        c.write("pki/roles/cluster", allowed_domains="svc.cluster.local", allow_subdomains=True, allow_ip_sans=True,
                allowed_uri_sans="spiffe://cluster.local/*", key_type="any", max_ttl="2160h")
        # An intermediate on its own mount, signed by the root, with the root in the imported bundle.
        c.sys.enable_secrets_engine(backend_type="pki", path="pki-int")
        c.sys.tune_mount_configuration(path="pki-int", max_lease_ttl="43800h")
        csr = c.write("pki-int/intermediate/generate/internal", common_name="cm Intermediate",
                      key_type="ec", key_bits=256)["data"]["csr"]
        signed = c.write("pki/root/sign-intermediate", csr=csr, common_name="cm Intermediate",
                         ttl="43800h")["data"]
        cls.intermediate = signed["certificate"]
        c.write("pki-int/intermediate/set-signed", certificate=signed["certificate"] + "\n" + signed["issuing_ca"])
        c.write("pki-int/roles/cluster", allowed_domains="svc.cluster.local", allow_subdomains=True,
                allowed_uri_sans="spiffe://cluster.local/*", key_type="any", max_ttl="2160h")

    def sign_and_check(self, vault_path, expect_chain_len, key=None):
        key = key or ec.generate_private_key(ec.SECP256R1())
        csr = cert_manager_csr(key, "web.default.svc.cluster.local",
                               dns=["web.default.svc.cluster.local", "web.svc.cluster.local"],
                               ips=["10.96.0.12"], uris=["spiffe://cluster.local/ns/default/sa/web"])
        r = cert_manager_sign(vault_path, csr, 90 * 24 * 3600)
        self.assertEqual(r.status_code, 200, r.text)
        body = r.json()
        data = body["data"]
        # What certutil.ParsePKIMap decodes: strings and a list of strings.
        self.assertIsInstance(data["certificate"], str)
        self.assertIsInstance(data["issuing_ca"], str)
        self.assertIsInstance(data["serial_number"], str)
        self.assertIsInstance(data["ca_chain"], list)
        self.assertTrue(all(isinstance(p, str) for p in data["ca_chain"]))
        self.assertNotIn("private_key", data)

        leaf = x509.load_pem_x509_certificate(data["certificate"].encode())
        self.assertEqual(leaf.public_key().public_numbers(), key.public_key().public_numbers())
        self.assertEqual(leaf.not_valid_after - leaf.not_valid_before, datetime.timedelta(days=90, seconds=30))
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(sorted(san.get_values_for_type(x509.DNSName)),
                         ["web.default.svc.cluster.local", "web.svc.cluster.local"])
        self.assertEqual([str(i) for i in san.get_values_for_type(x509.IPAddress)], ["10.96.0.12"])
        self.assertEqual(san.get_values_for_type(x509.UniformResourceIdentifier),
                         ["spiffe://cluster.local/ns/default/sa/web"])

        # cert-manager's bundle: ca_chain + issuing_ca + certificate -> one chain.
        pems = []
        for p in data["ca_chain"] + [data["issuing_ca"], data["certificate"]]:
            pems += split_pems(p)
        chain, ca = parse_single_certificate_chain(pems)
        self.assertEqual(len(chain), expect_chain_len)
        self.assertEqual(x509.load_pem_x509_certificate(chain[0].encode()), leaf)
        self.assertEqual(x509.load_pem_x509_certificate(ca.encode()),
                         x509.load_pem_x509_certificate(self.root.encode()))
        tls_crt = "".join(chain)
        ok, out = harness.openssl_verify(chain[0], ca, chain[1:])
        self.assertTrue(ok, out)
        # The way a TLS peer sees it: ca.crt trusted, tls.crt presented as sent.
        ok, out = harness.openssl_verify(split_pems(tls_crt)[0], ca, split_pems(tls_crt)[1:])
        self.assertTrue(ok, out)
        return data

    def test_root_issued_role(self):
        data = self.sign_and_check("pki/sign/cluster", expect_chain_len=1)
        self.assertEqual(data["issuing_ca"].strip(), self.root.strip())

    def test_intermediate_issued_role(self):
        data = self.sign_and_check("pki-int/sign/cluster", expect_chain_len=2,
                                   key=rsa.generate_private_key(65537, 2048))
        self.assertEqual(data["issuing_ca"].strip(), self.intermediate.strip())
        self.assertEqual([p.strip() for p in data["ca_chain"]], [self.intermediate.strip(), self.root.strip()])

    def test_issuer_scoped_path(self):
        # spec.vault.path may name an issuer: pki/issuer/<ref>/sign/<role>.
        self.sign_and_check("pki/issuer/default/sign/cluster", expect_chain_len=1)

    def test_refusal_reaches_cert_manager_as_vaults_error(self):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = cert_manager_csr(key, "evil.example.org", dns=["evil.example.org"])
        r = cert_manager_sign("pki/sign/cluster", csr, 3600)
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json(), {"errors": ["common name evil.example.org not allowed by this role"]})
        r = requests.post(SERVER.addr + "/v1/pki/sign/cluster", json={"csr": csr}, timeout=30,
                          headers={"X-Vault-Token": "wrong", "X-Vault-Request": "true"})
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json(), {"errors": ["permission denied"]})

    def test_empty_san_strings_are_accepted(self):
        # A Certificate with only a common name: cert-manager still sends alt_names/ip_sans/uri_sans as "".
        key = ec.generate_private_key(ec.SECP256R1())
        csr = cert_manager_csr(key, "only-cn.svc.cluster.local")
        r = cert_manager_sign("pki/sign/cluster", csr, 3600)
        self.assertEqual(r.status_code, 200, r.text)
        leaf = x509.load_pem_x509_certificate(r.json()["data"]["certificate"].encode())
        self.assertEqual(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "only-cn.svc.cluster.local")


if __name__ == "__main__":
    unittest.main()
