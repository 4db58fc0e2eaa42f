"""Key material at rest and in logs, against the real pki-server -dev and its pki-plugin: after a full flow on a
mount with the plugin's own RocksDB and on one with storage=host (CA keys generated and exported, a CA bundle
imported with its key, leaves issued with their keys), no byte of any private key appears in any file of the data
directory (RocksDB tables, WALs, manifests, logs) nor in the server's log or the audit log: not its PEM, not its
DER, not its base64, not its secret numbers (EC scalar, RSA d, p, q). Files that hold keys that seal others are
0600 and directories 0700.

Run by ctest as: /usr/bin/python3 test_key_protection.py --bin-dir build/bin
"""

import base64
import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402


def secret_forms(key_pem):
    """Byte strings any of which, found in a file, would leak the key: its PEM body lines, its DER (PKCS#8 and the
    traditional form), their base64, and its secret numbers."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    forms = {}
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        forms["der " + fmt.name] = der
        forms["base64 " + fmt.name] = base64.b64encode(der)[16:80]  # a run from the middle, as wrapped or not
    for line in key_pem.splitlines():
        if line and not line.startswith("-----"):
            forms["pem line"] = line.encode()[:48]
            break
    if isinstance(key, ec.EllipticCurvePrivateKey):
        n = key.private_numbers().private_value
        forms["ec scalar"] = n.to_bytes((key.curve.key_size + 7) // 8, "big")
    elif isinstance(key, rsa.RSAPrivateKey):
        nums = key.private_numbers()
        for name in ("d", "p", "q"):
            v = getattr(nums, name)
            forms["rsa " + name] = v.to_bytes((v.bit_length() + 7) // 8, "big")[:64]
    return forms


class KeyProtection(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.audit_dir = harness.tempfile.mkdtemp(prefix="pki-it-audit-")
        cls.audit_log = os.path.join(cls.audit_dir, "audit.log")
        cls.server = harness.DevServer(ARGS.bin_dir, extra_args=["-audit-log=" + cls.audit_log])
        # tearDownClass does not run when setUpClass fails: these do.
        cls.addClassCleanup(harness.shutil.rmtree, cls.audit_dir, ignore_errors=True)
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()
        cls.keys = {}  # what -> PEM of every private key seen in this flow
        try:
            cls.flow()
        finally:
            cls.server.stop()

    @classmethod
    def call(cls, method, path, body=None):
        r = requests.request(method, cls.server.addr + "/v1/" + path, json=body, timeout=60,
                             headers={"X-Vault-Token": cls.server.token})
        if r.status_code >= 300:
            raise AssertionError("%s %s -> %d: %s" % (method, path, r.status_code, r.text))
        return r.json() if r.text else None

    @classmethod
    def flow(cls):
        cls.call("POST", "sys/mounts/pki-host", {"type": "pki", "options": {"storage": "host"}})
        for mount in ("pki", "pki-host"):
            root = cls.call("POST", mount + "/root/generate/exported",
                            {"common_name": mount + " root", "key_type": "ec", "key_bits": 256, "ttl": "720h"})
            cls.keys[mount + " root"] = root["data"]["private_key"]
            inter = cls.call("POST", mount + "/intermediate/generate/exported",
                             {"common_name": mount + " intermediate", "key_type": "rsa", "key_bits": 2048})
            cls.keys[mount + " intermediate"] = inter["data"]["private_key"]
            signed = cls.call("POST", mount + "/root/sign-intermediate",
                              {"csr": inter["data"]["csr"], "ttl": "240h", "common_name": mount + " intermediate"})
            cls.call("POST", mount + "/intermediate/set-signed", {"certificate": signed["data"]["certificate"]})
            bundle, key_pem = harness.ca_bundle(mount + " imported")
            cls.call("POST", mount + "/config/ca", {"pem_bundle": bundle})
            cls.keys[mount + " imported"] = key_pem
            cls.call("POST", mount + "/roles/web", {"allowed_domains": "example.com", "allow_subdomains": True,
                                                    "ttl": "1h", "key_type": "ec", "key_bits": 256})
            for i in range(3):
                leaf = cls.call("POST", mount + "/issue/web", {"common_name": "h%d.example.com" % i})
                cls.keys["%s leaf %d" % (mount, i)] = leaf["data"]["private_key"]
            cls.call("POST", mount + "/tidy", {"tidy_cert_store": True})
            cls.call("GET", mount + "/crl/rotate")
        # A restart replays the WALs and flushes: both the log files and the tables they become are looked at.
        cls.server.restart()
        cls.call("POST", "pki/issue/web", {"common_name": "after.example.com"})

    def files(self):
        for root, _, names in os.walk(self.server.data_dir):
            for name in names:
                yield os.path.join(root, name)
        yield self.audit_log

    def test_no_private_key_byte_in_any_file_or_log(self):
        self.assertEqual(len(self.keys), 12)
        forms = {(what, form): data for what, pem in self.keys.items() for form, data in secret_forms(pem).items()}
        scanned = 0
        for path in self.files():
            with open(path, "rb") as f:
                content = f.read()
            scanned += len(content)
            for (what, form), data in forms.items():
                self.assertNotIn(data, content, "%s of the %s key found in %s" % (form, what, path))
        self.assertGreater(scanned, 100000)  # the databases, logs and audit log really were read
        with open(self.audit_log) as f:
            self.assertIn("private_key", f.read())  # the audit log saw the keys go by (as HMACs)

    def test_key_files_and_directories_are_private(self):
        data = os.path.join(self.server.data_dir, "data")
        for root, dirs, names in os.walk(data):
            for d in dirs:
                mode = stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode)
                self.assertEqual(mode & 0o077, 0, "%s is mode %o" % (os.path.join(root, d), mode))
            for name in names:
                path = os.path.join(root, name)
                mode = stat.S_IMODE(os.stat(path).st_mode)
                self.assertEqual(mode & 0o077, 0, "%s is mode %o" % (path, mode))  # RocksDB's files too
                if name.endswith("seal.key") or name.endswith("seal-key"):
                    self.assertEqual(mode, 0o600, "%s is mode %o" % (path, mode))
        self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.audit_log).st_mode), 0o600)
        seal_keys = [n for _, _, names in os.walk(data) for n in names if n.endswith(("seal.key", "seal-key"))]
        self.assertGreaterEqual(len(seal_keys), 2)  # the server's and the plugin mount's


if __name__ == "__main__":
    unittest.main()
