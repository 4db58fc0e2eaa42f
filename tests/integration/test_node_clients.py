"""node-vault (npm, pinned in tests/clients/package-lock.json) against the real pki-server -dev.

tests/clients/node_vault.js drives the calls and asserts node-vault's answers; this test installs the locked
client into the build tree (node_clients.install), runs the script, and verifies what it got with openssl and
python cryptography: the issued certificate chains to the root, the private key matches, and after the
revocation the CRL lists the serial.

Run by ctest as: /usr/bin/python3 test_node_clients.py --bin-dir build/bin
"""

import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import node_clients  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule = SERVER.setup, SERVER.finish


class NodeVault(unittest.TestCase):

    def test_role_issue_read_ca_list_revoke(self):
        modules = node_clients.install(ARGS.bin_dir)
        out = node_clients.run_node(modules, "node_vault.js", ["pki-node"],
                                    env={"VAULT_ADDR": SERVER.addr, "VAULT_TOKEN": SERVER.token})
        ok, text = harness.openssl_verify(out["certificate"], out["root"])
        self.assertTrue(ok, text)
        cert = x509.load_pem_x509_certificate(out["certificate"].encode())
        key = serialization.load_pem_private_key(out["private_key"].encode(), None)
        self.assertEqual(cert.public_key().public_numbers(), key.public_key().public_numbers())
        self.assertEqual(cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)[0].value,
                         "Node Org")
        # The CA node-vault read is what relying parties fetch without a token.
        ca = requests.get(SERVER.addr + "/v1/pki-node/ca/pem", timeout=30)
        self.assertEqual(ca.text.strip(), out["root"].strip())
        crl = x509.load_pem_x509_crl(requests.get(SERVER.addr + "/v1/pki-node/crl/pem", timeout=30).content)
        self.assertTrue(crl.is_signature_valid(x509.load_pem_x509_certificate(out["root"].encode()).public_key()))
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        self.assertIsNotNone(entry)
        self.assertEqual(entry.revocation_date.replace(tzinfo=datetime.timezone.utc).timestamp(),
                         out["revocation_time"])

    def test_install_is_idempotent(self):
        first = node_clients.install(ARGS.bin_dir)
        stamp = os.path.join(first, ".pki-client-lock.sha256")
        before = os.stat(stamp).st_mtime_ns
        self.assertEqual(node_clients.install(ARGS.bin_dir), first)
        self.assertEqual(os.stat(stamp).st_mtime_ns, before)  # the second call found the lock installed


if __name__ == "__main__":
    unittest.main()
