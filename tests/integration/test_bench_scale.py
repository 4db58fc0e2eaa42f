"""The scale benchmark scenarios (scripts/benchlib/scale.py over pki_bench's scale-* subcommands) at a tiny scale:
every scenario runs and emits its line; data sets loaded by SST ingestion are readable through the engine as
pki-plugin serves them (LIST certs lists every record, a record reads back as a certificate of the CA, LIST
certs/revoked lists every revocation, the counters are exact); tidy removes exactly the expired certificates; the
cache reuses a data set whose stamp matches and regenerates a stale one; scale-load refuses to replace a
directory that is not one of its data sets. No timing is asserted (CONTRACT section 5).

Run by ctest as: /usr/bin/python3 test_bench_scale.py --bin-dir build/bin
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
from benchlib import common, scale  # noqa: E402

BIG, BASE = 3000, 300


class RecordingBench(common.Bench):
    """scripts/bench's Bench with its data sets and results under a temporary directory, recording emitted lines."""

    def __init__(self, work):
        super().__init__(ROOT, True, os.path.join(work, "results.jsonl"), work)
        self.bin_dir = os.path.abspath(ARGS.bin_dir)
        self.tool = os.path.join(self.bin_dir, "pki_bench")
        self.datasets_dir = os.path.join(work, "datasets")
        self.lines = {}

    def emit(self, name, value, unit, limit=None, threads=2, n=None, **extra):
        self.lines[name] = dict(value=value, unit=unit, limit=limit, threads=threads, n=n, **extra)
        return super().emit(name, value, unit, limit, threads, n, **extra)


class ScaleBenchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-scale-")
        self.addCleanup(self.tmp.cleanup)
        saved = dict(scale.QUICK)
        scale.QUICK.update(big=BIG, base=BASE)
        self.addCleanup(scale.QUICK.update, saved)
        self.bench = RecordingBench(self.tmp.name)

    def tool(self, *args):
        return subprocess.run([self.bench.tool, *[str(a) for a in args]], capture_output=True, text=True)

    def test_scenarios_run(self):
        bench = self.bench
        for _, scenario in scale.SCENARIOS:
            scenario(bench)
        lines = bench.lines
        self.assertEqual(set(lines), {"scale_load_crl_10m", "scale_load_crl_1m", "crl_full_10m",
                                      "scale_load_certs_10m", "scale_load_certs_1m_expired", "tidy_1m_of_10m",
                                      "scale_load_empty", "startup_10m", "rss_10m"})
        self.assertEqual(lines["scale_load_crl_10m"]["n"], BIG)
        crl = lines["crl_full_10m"]
        self.assertEqual((crl["entries"], crl["n"], crl["baseline_n"]), (BIG, BIG, BASE))
        self.assertGreater(crl["baseline_seconds"], 0)
        self.assertNotIn("crl_full_1m_seconds", crl)  # crl.py did not run here
        tidy = lines["tidy_1m_of_10m"]
        self.assertEqual((tidy["n"], tidy["stored_before"], tidy["stored_after"]), (BASE, BIG + 1, BIG + 1 - BASE))
        self.assertEqual(tidy["baseline_stored"], BASE + 1)
        start = lines["startup_10m"]
        self.assertEqual((start["n"], start["unit"]), (BIG + 1, "ms"))
        self.assertGreater(start["vs_empty"], 0)
        rss = lines["rss_10m"]
        self.assertEqual(rss["n"], BIG + 1)
        self.assertGreater(rss["value"], 1)
        self.assertIn("issue 20", rss["traffic"])

        # Cached: a second run of a scenario loads nothing.
        bench.lines.clear()
        scale.tidy_1m_of_10m(bench)
        self.assertEqual(set(bench.lines), {"tidy_1m_of_10m"})

    def test_loaded_data_served_by_the_plugin(self):
        bench = self.bench
        d, marker = scale.dataset(bench, "scale_load_mixed", BIG, expired=BASE, revoked=100)
        self.assertEqual((marker["stored"], marker["expired"], marker["revoked"]), (BIG, BASE, 100))
        server = scale.MountServer(bench, "read", scale.clone(bench, d, "read"))
        self.addCleanup(server.stop)
        server.setup()
        server.start()
        listed = []
        after = ""
        while True:
            page = server.call("LIST", "big/certs?limit=1000" + ("&after=" + after if after else ""))["data"]["keys"]
            listed += page
            if len(page) < 1000:
                break
            after = page[-1]
        self.assertEqual(len(listed), BIG + 1)  # + the CA's certificate
        self.assertEqual(len(set(listed)), BIG + 1)
        ca = server.call("GET", "big/cert/ca")["data"]["certificate"]
        status = server.call("GET", "big/tidy-status")["data"]
        self.assertEqual((status["current_cert_store_count"], status["current_revoked_cert_count"]), (BIG + 1, 100))
        revoked = server.call("LIST", "big/certs/revoked")["data"]["keys"]
        self.assertEqual(len(revoked), 100)
        # A loaded record reads back as a certificate the CA signed; a revoked one says so.
        leaf = server.call("GET", "big/cert/" + revoked[0])["data"]
        self.assertGreater(leaf["revocation_time"], 0)
        with tempfile.NamedTemporaryFile("w", suffix=".pem", dir=self.tmp.name, delete=False) as f:
            f.write(ca)
        v = subprocess.run(["openssl", "verify", "-partial_chain", "-CAfile", f.name], input=leaf["certificate"],
                           capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # The mount takes new writes on top of the ingested files.
        issued = server.call("POST", "big/issue/web", {"common_name": "new.example.com", "ttl": "1h"})["data"]
        self.assertEqual(server.call("GET", "big/tidy-status")["data"]["current_cert_store_count"], BIG + 2)
        server.call("POST", "big/revoke", {"serial_number": issued["serial_number"]})
        self.assertEqual(len(server.call("LIST", "big/certs/revoked")["data"]["keys"]), 101)

    def test_cache_stamp(self):
        bench = self.bench
        d, first = scale.dataset(bench, "scale_load_a", 50)
        self.assertIn("scale_load_a", bench.lines)
        bench.lines.clear()
        self.assertEqual(scale.dataset(bench, "scale_load_a", 50)[1]["load_seconds"], first["load_seconds"])
        self.assertEqual(bench.lines, {})
        # A stamp of another key layout (or loader version) is stale: the data set is generated again.
        with open(os.path.join(d, "pki_bench-scale.json")) as f:
            marker = json.load(f)
        marker["layout"] = "0" * 64
        with open(os.path.join(d, "pki_bench-scale.json"), "w") as f:
            json.dump(marker, f)
        scale.dataset(bench, "scale_load_a", 50)
        self.assertIn("scale_load_a", bench.lines)

    def test_tidy_removes_exactly_the_expired(self):
        d, _ = scale.dataset(self.bench, "scale_load_t", 500, expired=120)
        out = self.tool("scale-tidy", "--dir", scale.clone(self.bench, d, "t"))
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual((result["deleted"], result["stored_before"], result["stored_after"]), (120, 501, 381))

    def test_refuses_foreign_directories(self):
        other = os.path.join(self.tmp.name, "other")
        os.makedirs(other)
        with open(os.path.join(other, "keep.txt"), "w") as f:
            f.write("not a data set\n")
        out = self.tool("scale-load", "--dir", other, "--stored", "10")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("refusing", out.stderr)
        self.assertTrue(os.path.exists(os.path.join(other, "keep.txt")))
        out = self.tool("scale-tidy", "--dir", other)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("not a pki_bench scale data set", out.stderr)
        out = self.tool("scale-load", "--dir", os.path.join(self.tmp.name, "x"), "--stored", "5", "--expired", "6")
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main()
