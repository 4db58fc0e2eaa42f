"""The tools scripts/bench relies on, as built (no figures asserted): `pki_bench` lists its commands, `ceiling`
prints its JSON for every kind and refuses bad options, `csrs` writes distinct CSRs that parse and verify (python
cryptography) with the names asked for.

Run by ctest as: /usr/bin/python3 test_bench_tools.py --bin-dir build/bin
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

TOOL = os.path.join(ARGS.bin_dir, "pki_bench")


def run(*args):
    return subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True, timeout=120)


class PkiBenchToolsTest(unittest.TestCase):
    def test_lists_commands(self):
        out = run()
        self.assertEqual(out.returncode, 2)
        self.assertIn("ceiling", out.stderr)
        self.assertIn("csrs", out.stderr)
        out = run("no-such-command")
        self.assertEqual(out.returncode, 2)
        self.assertIn("unknown command", out.stderr)

    def test_ceiling_prints_json_for_every_kind(self):
        for kind in ("issue_ec256", "sign_ec256", "issue_rsa2048"):
            with self.subTest(kind=kind):
                out = run("ceiling", "--kind", kind, "--threads", 2, "--seconds", 0.3)
                self.assertEqual(out.returncode, 0, out.stderr)
                result = json.loads(out.stdout)
                self.assertEqual(result["kind"], kind)
                self.assertEqual(result["threads"], 2)
                self.assertGreaterEqual(result["seconds"], 0.3)
                self.assertAlmostEqual(result["ops_per_sec"], result["n"] / result["seconds"], delta=1e-6)
                if kind != "issue_rsa2048":  # a slow RSA keygen may not finish in 0.3 s
                    self.assertGreater(result["n"], 0)

    def test_ceiling_refuses_bad_options(self):
        for args in (["--kind", "issue_dsa"], ["--threads", "0"], ["--seconds", "x"], ["--bogus", "1"],
                     ["--kind"]):
            with self.subTest(args=args):
                out = run("ceiling", *args)
                self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
                self.assertEqual(out.stdout, "")

    def test_csrs_are_distinct_valid_and_named(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "csrs.jsonl")
            out = run("csrs", "--count", 25, "--key", "ec256", "--cn-suffix", "bench.test", "--out", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(path) as f:
                bodies = [json.loads(line) for line in f]
        self.assertEqual(len(bodies), 25)
        keys = set()
        for i, body in enumerate(bodies):
            self.assertEqual(body["common_name"], "h%d.bench.test" % i)
            self.assertEqual(body["ttl"], "1h")
            csr = x509.load_pem_x509_csr(body["csr"].encode())
            self.assertTrue(csr.is_signature_valid)
            cn = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
            self.assertEqual(cn, body["common_name"])
            key = csr.public_key()
            self.assertIsInstance(key, ec.EllipticCurvePublicKey)
            self.assertEqual(key.curve.name, "secp256r1")
            keys.add(key.public_numbers().x)
        self.assertEqual(len(keys), 25, "every CSR has its own key")

    def test_csrs_needs_out(self):
        out = run("csrs", "--count", 2)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--out", out.stderr)


if __name__ == "__main__":
    unittest.main()
