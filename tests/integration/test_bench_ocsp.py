"""The OCSP benchmark scenarios (scripts/benchlib/ocsp.py over pki_bench's crl-load, ocsp-reqs and ocsp-verify, a
`pki-server -dev` with the data set mounted and `openssl ocsp -multi 2`) at a tiny scale: both scenarios run and emit
their lines, and what they rely on holds. No timing is asserted (CONTRACT section 5).

Checked here: crl-load writes the CA (certificate and key), its seal key and openssl's index with every stored
certificate (R for the revoked, V for the others); ocsp-reqs asks distinct serials of the data set in the asked mix;
every answer of both responders to every request (not only the module's sample) is signed by the data set's CA and
says good or revoked as the data set does; ocsp-verify refuses an answer with the wrong status or from another CA;
and the module's wrk script fails a run when an answer is not 200.

Run by ctest as: /usr/bin/python3 test_bench_ocsp.py --bin-dir build/bin
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
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import common, ocsp  # noqa: E402

STORED = 2000
DISTINCT = 400


def make_bench(work):
    bench = common.Bench(ROOT, True, os.path.join(work, "results.jsonl"), work)
    bench.bin_dir = os.path.abspath(ARGS.bin_dir)  # the test build, not build/release
    bench.tool = os.path.join(bench.bin_dir, "pki_bench")
    open(bench.results_path, "w").close()
    return bench


def tool(*args):
    return subprocess.run([os.path.join(os.path.abspath(ARGS.bin_dir), "pki_bench"), *[str(a) for a in args]],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (scripts/deps installs it)")
class OcspBenchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-ocsp-")
        self.addCleanup(self.tmp.cleanup)
        for name, value in (("QUICK_STORED", STORED), ("DISTINCT", DISTINCT), ("SAMPLE", 50)):
            self.addCleanup(setattr, ocsp, name, getattr(ocsp, name))
            setattr(ocsp, name, value)

    def test_scenarios_run_and_every_answer_is_right(self):
        bench = make_bench(self.tmp.name)
        for _, scenario in ocsp.SCENARIOS:
            scenario(bench)
        lines = {r["name"]: r for r in bench.records}
        self.assertEqual(set(lines), {"peer_openssl_ocsp", "ocsp_post"})
        for name in lines:
            self.assertEqual(lines[name]["stored"], STORED)
            self.assertEqual(lines[name]["distinct"], DISTINCT)
            self.assertGreater(lines[name]["n"], 0)
            self.assertGreaterEqual(lines[name]["checked"], 50)
        ours = lines["ocsp_post"]
        self.assertGreater(ours["vs_peer_openssl_ocsp"], 0)
        self.assertGreater(ours["rss_plugin_mb"], 0)
        self.assertGreater(lines["peer_openssl_ocsp"]["rss_mb"], 0)

        ds = ocsp._dataset(bench)
        # The index: every stored certificate, the first tenth revoked, all serials distinct.
        with open(ds["index"]) as f:
            rows = [line.rstrip("\n").split("\t") for line in f]
        self.assertEqual(len(rows), STORED)
        self.assertEqual(len({r[3] for r in rows}), STORED)
        revoked = {r[3] for r in rows if r[0] == "R"}
        self.assertEqual(len(revoked), STORED // 10)
        self.assertTrue(all(r[0] == "V" and r[2] == "" for r in rows if r[3] not in revoked))
        # The requests: distinct serials of the data set, 10% of them revoked, as expect.tsv says.
        serials = [e[0] for e in ds["expected"]]
        self.assertEqual(len(set(serials)), DISTINCT)
        self.assertTrue(all(s in {r[3] for r in rows} for s in serials))
        self.assertEqual(sum(1 for e in ds["expected"] if e[1] == "revoked"), DISTINCT // 10)
        self.assertTrue(all((e[1] == "revoked") == (e[0] in revoked) for e in ds["expected"]))

        # Every request against both responders (started again on the same data), not only the sample; each is asked
        # twice, so that ours answers the second from its cache.
        ocsp.SAMPLE = DISTINCT
        with ocsp.PeerResponder(bench, ds) as peer:
            result = ocsp.check_responder(bench, ds, peer.url, "peer-all")
            self.assertEqual((result["checked"], result["revoked"]), (2 * DISTINCT, 2 * DISTINCT // 10))
        self.assertFalse(os.path.exists(os.path.join(ds["dir"], "db")))  # it moved into the server's mount
        server = common.PkiDevServer(bench, "ocsp-server")  # the same data directory, mount and listener
        server.start()
        try:
            mounts = server.request("GET", "sys/mounts")
            publish = (mounts.get("data") or mounts)[ocsp.MOUNT]["options"]["publish_address"]
            url = "http://%s/ocsp" % publish
            result = ocsp.check_responder(bench, ds, url, "ours-all")
            self.assertEqual((result["checked"], result["revoked"]), (2 * DISTINCT, 2 * DISTINCT // 10))

            # A revocation through the API is answered "revoked" at once, though "good" was cached just before.
            good = next(i for i, e in enumerate(ds["expected"]) if e[1] == "good")
            serial = ds["expected"][good][0]
            colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
            self.assertEqual(self.status_of(bench, ds, url, good, serial), "good")
            server.request("POST", ocsp.MOUNT + "revoke", {"serial_number": colons})
            self.assertEqual(self.status_of(bench, ds, url, good, serial), "revoked")

            # The wrk script counts answers other than 200 and Bench.wrk fails the run: a GET-only path answers 405.
            script = ocsp._wrk_script(bench)
            with self.assertRaises(common.BenchError) as raised:
                bench.wrk("http://%s/crl" % publish, script, 1, threads=1, connections=1,
                          script_args=(ds["requests"], 1))
            self.assertIn("err_not200", str(raised.exception))
        finally:
            server.stop()


    def status_of(self, bench, ds, url, i, serial):
        status, der = ocsp._post(url, ds["bodies"][i])
        self.assertEqual(status, 200)
        for want in ("good", "revoked"):
            path = os.path.join(self.tmp.name, "one.tsv")
            with open(path, "w") as f:
                f.write("%s\t%s\t%s\n" % (der.hex(), serial, want))
            if tool("ocsp-verify", "--ca", ds["ca_pem"], "--in", path).returncode == 0:
                return want
        return "neither"

    def test_verify_refuses_wrong_answers(self):
        bench = make_bench(self.tmp.name)
        ds = ocsp._dataset(bench)
        with ocsp.PeerResponder(bench, ds) as peer:
            revoked = next(i for i, e in enumerate(ds["expected"]) if e[1] == "revoked")
            status, der = ocsp._post(peer.url, ds["bodies"][revoked])
        self.assertEqual(status, 200)
        serial = ds["expected"][revoked][0]
        path = os.path.join(self.tmp.name, "answers.tsv")

        def verify(ca, line):
            with open(path, "w") as f:
                f.write(line)
            return tool("ocsp-verify", "--ca", ca, "--in", path)

        right = verify(ds["ca_pem"], "%s\t%s\trevoked\n" % (der.hex(), serial))
        self.assertEqual(right.returncode, 0, right.stderr)
        self.assertEqual(json.loads(right.stdout)["revoked"], 1)
        wrong = verify(ds["ca_pem"], "%s\t%s\tgood\n" % (der.hex(), serial))
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("answered revoked, expected good", wrong.stderr)
        other = os.path.join(self.tmp.name, "other")
        os.mkdir(other)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(other, "ca.key"), "-out", os.path.join(other, "ca.pem"),
                        "-subj", "/CN=Bench CRL Root", "-days", "2"], check=True, capture_output=True)
        foreign = verify(os.path.join(other, "ca.pem"), "%s\t%s\trevoked\n" % (der.hex(), serial))
        self.assertEqual(foreign.returncode, 1)
        self.assertIn("signature does not verify", foreign.stderr)
        garbage = verify(ds["ca_pem"], "00ff\t%s\trevoked\n" % serial)
        self.assertEqual(garbage.returncode, 1)
        self.assertIn("not an OCSP response", garbage.stderr)
        usage = tool("ocsp-reqs", "--dir", other, "--count", 10, "--out", path, "--expect", path)
        self.assertEqual(usage.returncode, 1)
        self.assertIn("not a pki_bench crl-load data set", usage.stderr)


if __name__ == "__main__":
    unittest.main()
