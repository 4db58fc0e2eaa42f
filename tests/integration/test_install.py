"""`cmake --install <build dir> --prefix <tmp>`: the three binaries land in <tmp>/bin and nothing else is installed
(no test executables); installing builds nothing; the installed pki-server -dev finds the installed pki-plugin next
to itself, and the installed pkictl issues a certificate through it, which openssl verifies.

Run by ctest as: /usr/bin/python3 test_install.py --bin-dir build/bin (the build dir is the parent of --bin-dir)
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
BINARIES = ["pki-plugin", "pki-server", "pkictl"]


def build_outputs(build_dir):
    """Modification times of what a build writes (binaries, static libraries, object files): a rebuild would move
    them. Other files of the build tree are left out: other tests may write there meanwhile."""
    state = {}
    for root, _, files in os.walk(build_dir):
        rel = os.path.relpath(root, build_dir)
        for name in files:
            in_bin = rel == "bin"
            if not (in_bin or (rel == "." and name.endswith(".a")) or
                    (rel.startswith("CMakeFiles") and name.endswith(".o"))):
                continue
            path = os.path.join(root, name)
            try:
                state[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return state


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_dir = os.path.dirname(os.path.abspath(ARGS.bin_dir))
        cls.prefix = tempfile.mkdtemp(prefix="pki-install-")
        before = build_outputs(cls.build_dir)
        cmake = shutil.which("cmake")
        assert cmake, "cmake not on PATH"
        cls.install = subprocess.run([cmake, "--install", cls.build_dir, "--prefix", cls.prefix],
                                     capture_output=True, text=True, timeout=120)
        cls.changed = sorted(p for p, t in build_outputs(cls.build_dir).items() if before.get(p) != t)
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.cleanup()
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def test_1_installs_exactly_the_three_binaries_without_building(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        installed = []
        for root, dirs, files in os.walk(self.prefix):
            installed += [os.path.relpath(os.path.join(root, f), self.prefix) for f in files]
        self.assertEqual(sorted(installed), ["bin/" + b for b in BINARIES])
        for b in BINARIES:
            path = os.path.join(self.prefix, "bin", b)
            self.assertTrue(os.access(path, os.X_OK), path)
        # Installing copies what was built: no compile, no link, no file of the build tree touched.
        self.assertNotRegex(self.install.stdout, r"(?i)building|linking")
        self.assertEqual(self.changed, [])
        out = subprocess.run([os.path.join(self.prefix, "bin", "pki-server"), "-version"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("pki-server v"), out.stdout)

    def test_2_installed_server_and_cli_issue_a_certificate(self):
        bin_dir = os.path.join(self.prefix, "bin")
        server = harness.DevServer(bin_dir, token="install-root-token")
        type(self).server = server
        server.start()
        # The plugin it runs is the installed one, found next to the installed pki-server.
        self.assertIn(os.path.join(bin_dir, "pki-plugin"), server.log())
        self.assertEqual({harness.process_exe(p) for p in harness.plugin_pids(server)}, {"pki-plugin"})
        for pid in harness.plugin_pids(server):
            self.assertEqual(os.path.realpath("/proc/%d/exe" % pid), os.path.realpath(os.path.join(bin_dir,
                                                                                                  "pki-plugin")))

        env = dict(os.environ, VAULT_ADDR=server.addr, VAULT_TOKEN=server.token)
        env.pop("VAULT_NAMESPACE", None)

        def pkictl(*args):
            out = subprocess.run([os.path.join(bin_dir, "pkictl")] + list(args), capture_output=True, text=True,
                                 env=env, timeout=60)
            self.assertEqual(out.returncode, 0, "pkictl %s: %s%s" % (" ".join(args), out.stdout, out.stderr))
            return out.stdout

        root_pem = pkictl("write", "-field=certificate", "pki/root/generate/internal", "common_name=Install Root",
                          "ttl=87600h")
        pkictl("write", "pki/roles/web", "allowed_domains=example.com", "allow_subdomains=true", "ttl=1h")
        issued = json.loads(pkictl("write", "-format=json", "pki/issue/web", "common_name=inst.example.com"))
        leaf = issued["data"]["certificate"]
        self.assertIn("BEGIN CERTIFICATE", leaf)
        ok, output = harness.openssl_verify(leaf, root_pem)
        self.assertTrue(ok, output)
        listed = json.loads(pkictl("list", "-format=json", "pki/certs"))
        self.assertIn(issued["data"]["serial_number"], listed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
