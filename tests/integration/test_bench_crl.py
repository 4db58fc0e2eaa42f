"""The CRL benchmark scenarios (scripts/benchlib/crl.py over pki_bench's crl-* subcommands) at a tiny scale: every
scenario runs and emits its line, both CRLs (ours and `openssl ca -gencrl`'s) list every revoked serial of the data
set, and the delta CRL lists exactly the revocations made after the complete one. No timing is asserted (CONTRACT
section 5: benchmarks are never timed assertions). Also: crl-load refuses to replace a directory that is not one of
its data sets, and crl-build refuses a directory without one.

Run by ctest as: /usr/bin/python3 test_bench_crl.py --bin-dir build/bin
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
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import crl  # noqa: E402

N = 2000


class RecordingBench:
    """The part of scripts/benchlib/common.Bench that crl.py uses, recording what it emits."""

    def __init__(self, work):
        self.quick = True
        self.root = ROOT
        self.bin_dir = os.path.abspath(ARGS.bin_dir)
        self.tool = os.path.join(self.bin_dir, "pki_bench")
        self.work = work
        self.lines = {}

    def emit(self, name, value, unit, limit=None, threads=2, n=None, **extra):
        self.lines[name] = dict(value=value, unit=unit, limit=limit, threads=threads, n=n, **extra)


class CrlBenchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-crl-")
        self.addCleanup(self.tmp.cleanup)

    def test_scenarios_run_and_check_both_crls(self):
        saved = crl.QUICK_N
        crl.QUICK_N = N
        self.addCleanup(setattr, crl, "QUICK_N", saved)
        bench = RecordingBench(self.tmp.name)
        for _, scenario in crl.SCENARIOS:
            scenario(bench)
        lines = bench.lines
        self.assertEqual(set(lines), {"crl_load_1m", "peer_openssl_ca_crl_1m", "crl_full_1m",
                                      "crl_delta_after_revoke", "revoke_latency_1m"})
        self.assertEqual(lines["crl_load_1m"]["n"], N)
        # The peer's CRL was checked against its CA and counted by the module; ours by pki_bench with OpenSSL.
        self.assertEqual(lines["peer_openssl_ca_crl_1m"]["n"], N)
        full = lines["crl_full_1m"]
        self.assertEqual((full["entries"], full["n"], full["unit"]), (N, N, "s"))
        for key in ("max_rss_mb", "speedup_vs_peer", "rss_ratio_vs_peer", "first_build_seconds"):
            self.assertGreater(full[key], 0, key)
        delta = lines["crl_delta_after_revoke"]
        self.assertEqual((delta["delta_entries"], delta["n"], delta["unit"]), (crl.REVOKES, N, "ms"))
        revoke = lines["revoke_latency_1m"]
        self.assertEqual((revoke["samples"], revoke["n"], revoke["unit"]), (crl.REVOKES, N, "ms"))
        self.assertGreater(revoke["vs_empty"], 0)
        # The peer's index holds the data set's serials: as many, all distinct.
        with open(os.path.join(self.tmp.name, "crl", "peer", "index.txt")) as f:
            serials = [line.split("\t")[3] for line in f]
        self.assertEqual(len(set(serials)), N)
        # After crl-delta's revocations a full rebuild lists them too.
        built = self.tool("crl-build", "--dir", os.path.join(self.tmp.name, "crl", "dataset"))
        self.assertEqual(built.returncode, 0, built.stderr)
        self.assertEqual(json.loads(built.stdout)["entries"], N + crl.REVOKES)

    def test_refuses_foreign_directories(self):
        other = os.path.join(self.tmp.name, "other")
        os.mkdir(other)
        keep = os.path.join(other, "keep.txt")
        with open(keep, "w") as f:
            f.write("not a data set\n")
        load = self.tool("crl-load", "--dir", other, "--revoked", "10")
        self.assertEqual(load.returncode, 1)
        self.assertIn("refusing to replace", load.stderr)
        self.assertTrue(os.path.exists(keep))
        build = self.tool("crl-build", "--dir", other)
        self.assertEqual(build.returncode, 1)
        self.assertIn("not a pki_bench CRL data set", build.stderr)
        usage = self.tool("crl-load", "--revoked", "x")
        self.assertEqual(usage.returncode, 2)

    def tool(self, *args):
        return subprocess.run([os.path.join(ARGS.bin_dir, "pki_bench"), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=300)


if __name__ == "__main__":
    unittest.main()
