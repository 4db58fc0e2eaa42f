"""pkictl against the real pki-server -dev: the vault CLI's verbs, flags, data arguments, output and exit codes,
with openssl judging what it fetched.

Run by ctest as: /usr/bin/python3 test_pkictl.py --bin-dir build/bin
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client


def pkictl(*args, stdin=None, token=None):
    env = dict(os.environ, VAULT_ADDR=SERVER.addr, VAULT_TOKEN=token or SERVER.token)
    env.pop("VAULT_FORMAT", None)
    return subprocess.run([os.path.join(ARGS.bin_dir, "pkictl")] + list(args), input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


class Pkictl(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pkictl-it-")
        r = pkictl("secrets", "tune", "-max-lease-ttl=87600h", "pki")
        assert r.returncode == 0, r.stderr
        root = pkictl("write", "-field=certificate", "pki/root/generate/internal", "common_name=CLI Root",
                      "key_type=ec", "ttl=8760h")
        assert root.returncode == 0, root.stderr
        cls.root_pem = root.stdout
        r = pkictl("write", "pki/roles/web", "allowed_domains=example.com", "allow_subdomains=true", "max_ttl=72h",
                   "key_type=ec")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def verify(self, pem):
        return harness.openssl_verify(pem, self.root_pem)

    def test_issue_with_field_and_verify(self):
        r = pkictl("write", "-field=certificate", "pki/issue/web", "common_name=a.example.com", "ttl=1h")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("-----BEGIN CERTIFICATE-----"))
        ok, out = self.verify(r.stdout)
        self.assertTrue(ok, out)
        # Both flag spellings work.
        r2 = pkictl("write", "--field=serial_number", "pki/issue/web", "common_name=b.example.com")
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertRegex(r2.stdout, r"^[0-9a-f]{2}(:[0-9a-f]{2})+$")

    def test_sign_with_csr_from_file_and_json_from_stdin(self):
        key = os.path.join(self.dir, "k.pem")
        csr = os.path.join(self.dir, "req.pem")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", csr, "-subj", "/CN=c.example.com"], check=True, capture_output=True)
        r = pkictl("write", "-field=certificate", "pki/sign/web", "csr=@" + csr, "common_name=c.example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.verify(r.stdout)[0])
        r = pkictl("write", "-format=json", "pki/issue/web", "-", stdin=json.dumps({"common_name": "d.example.com"}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["data"]["private_key_type"], "ec")

    def test_read_list_delete(self):
        pkictl("write", "pki/roles/tmp", "allow_any_name=true")
        r = pkictl("list", "pki/roles")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("Keys\n----\n"), r.stdout)
        self.assertIn("tmp\n", r.stdout)
        r = pkictl("read", "-format=json", "pki/roles/web")
        self.assertEqual(json.loads(r.stdout)["data"]["max_ttl"], 259200)
        r = pkictl("read", "pki/roles/web")
        self.assertIn("allowed_domains", r.stdout)
        self.assertIn("[example.com]", r.stdout)
        self.assertEqual(pkictl("delete", "pki/roles/tmp").stdout, "Success! Data deleted (if it existed) at: "
                                                                   "pki/roles/tmp\n")
        r = pkictl("read", "pki/roles/tmp")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "No value found at pki/roles/tmp\n")

    def test_errors_are_readable_with_vaults_exit_codes(self):
        r = pkictl("write", "pki/issue/web", "common_name=evil.org")
        self.assertEqual(r.returncode, 2)
        self.assertIn("Code: 400. Errors:", r.stderr)
        self.assertIn("URL: PUT " + SERVER.addr + "/v1/pki/issue/web", r.stderr)
        self.assertTrue(r.stderr.startswith("Error writing data to pki/issue/web: "), r.stderr)
        r = pkictl("read", "pki/roles/web", token="wrong-token")
        self.assertEqual(r.returncode, 2)
        self.assertIn("Code: 403", r.stderr)
        self.assertEqual(pkictl("write", "pki/roles/web", "novalue").returncode, 1)

    def test_secrets_and_status(self):
        r = pkictl("secrets", "enable", "-path=pki-cli", "pki")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Success! Enabled the pki secrets engine at: pki-cli/\n")
        listing = pkictl("secrets", "list")
        self.assertIn("pki-cli/", listing.stdout)
        self.assertEqual(pkictl("secrets", "disable", "pki-cli").returncode, 0)
        self.assertNotIn("pki-cli/", pkictl("secrets", "list").stdout)
        status = pkictl("status")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("Sealed", status.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
