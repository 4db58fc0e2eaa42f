"""Backup and restore (issue 9) against the real pki-server -dev, with a mount whose pki-plugin keeps its own
RocksDB (pki/) and a storage=host mount (pki-host/).

Client threads issue and revoke continuously on both mounts; the test notes the serials acknowledged and each
mount's CRL number, then runs the real `pki-server operator backup PATH` (VAULT_ADDR, VAULT_TOKEN) while the load
goes on; stops the load and the server; starts a new pki-server with the backup as its data directory on a fresh
port, and checks there that every certificate acknowledged before the backup began reads 200 at cert/:serial and
is listed by LIST certs, that issuing works (the CA key opens: the leaf verifies with openssl against the CA), and
that CRL numbers do not go back. Also: the backup directory is 0700 and its seal keys 0600; a backup to an existing
path is 400, without a token or with a token lacking sudo 403, and a storage=host mount's plugin refuses its
checkpoint path with 400.

Run by ctest as: /usr/bin/python3 test_backup.py --bin-dir build/bin
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()

import requests  # noqa: E402
from cryptography import x509  # noqa: E402

MOUNTS = ("pki", "pki-host")


def norm(serial):
    return serial.replace("-", ":").lower()


class DataDirServer(harness.DevServer):
    """pki-server -dev started on an existing data directory (a restored backup)."""

    def __init__(self, bin_dir, data_dir, token):
        super().__init__(bin_dir, token=token)
        self.restored_dir = data_dir

    def command(self):
        return [self.binary, "-dev", "-dev-root-token-id=" + self.token,
                "-dev-listen-address=127.0.0.1:%d" % self.port, "-data-dir=" + self.restored_dir]


class Load:
    """Issuing (and now and then revoking, which moves the CRL on) on both mounts until stop()."""

    def __init__(self, addr, token):
        self.addr, self.token = addr, token
        self.lock = threading.Lock()
        self.issued = {m: [] for m in MOUNTS}  # serials whose issue answer reached the client, in order
        self.errors = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(m, i)) for m in MOUNTS for i in range(2)]

    def loop(self, mount, index):
        n = 0
        with requests.Session() as s:
            headers = {"X-Vault-Token": self.token}
            while not self.stopping.is_set():
                n += 1
                r = s.post("%s/v1/%s/issue/web" % (self.addr, mount), headers=headers, timeout=60,
                           json={"common_name": "t%d-%d.example.com" % (index, n)})
                if r.status_code != 200:
                    self.errors.append("%s issue: %d %s" % (mount, r.status_code, r.text))
                    return
                serial = r.json()["data"]["serial_number"]
                with self.lock:
                    self.issued[mount].append(serial)
                if index == 0 and n % 10 == 0:
                    # A revocation then a CRL read: the CRL is rebuilt under a new number while the backup runs.
                    r = s.post("%s/v1/%s/revoke" % (self.addr, mount), headers=headers, timeout=60,
                               json={"serial_number": serial})
                    c = s.get("%s/v1/%s/crl" % (self.addr, mount), timeout=60)
                    if r.status_code != 200 or c.status_code != 200:
                        self.errors.append("%s revoke/crl: %d %d" % (mount, r.status_code, c.status_code))
                        return

    def snapshot(self):
        with self.lock:
            return {m: list(v) for m, v in self.issued.items()}

    def count(self):
        with self.lock:
            return min(len(v) for v in self.issued.values())

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=120)


class BackupAndRestore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="pki-backup-it-")
        cls.server = harness.DevServer(ARGS.bin_dir)
        cls.server.start()
        cls.restored = None
        cls.session = requests.Session()
        cls.call(cls.server, "POST", "sys/mounts/pki-host", {"type": "pki", "options": {"storage": "host"}})
        cls.ca = {}
        for m in MOUNTS:
            cls.call(cls.server, "POST", "sys/mounts/%s/tune" % m, {"max_lease_ttl": "87600h"})
            root = cls.call(cls.server, "POST", m + "/root/generate/internal",
                            {"common_name": m + " backup root", "key_type": "ec", "ttl": "8760h"})
            cls.ca[m] = root.json()["data"]["certificate"]
            cls.call(cls.server, "POST", m + "/roles/web", {"allowed_domains": "example.com",
                                                            "allow_subdomains": True, "ttl": "1h",
                                                            "key_type": "ec", "key_bits": 256})
        cls.uuids = {m: cls.call(cls.server, "GET", "sys/mounts/" + m).json()["data"]["uuid"] for m in MOUNTS}

    @classmethod
    def tearDownClass(cls):
        cls.session.close()
        for s in (cls.server, cls.restored):
            if s is not None:
                s.cleanup()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def call(cls, server, method, path, body=None, ok=(200, 204), token=None):
        headers = {} if token == "" else {"X-Vault-Token": token or server.token}
        r = cls.session.request(method, server.addr + "/v1/" + path, json=body, timeout=120, headers=headers)
        if ok and r.status_code not in ok:
            raise AssertionError("%s %s -> %d: %s" % (method, path, r.status_code, r.text))
        return r

    def crl_number(self, server, mount):
        crl = x509.load_der_x509_crl(self.call(server, "GET", mount + "/crl", ok=(200,)).content)
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    def operator_backup(self, path, token=None):
        env = dict(os.environ, VAULT_ADDR=self.server.addr, VAULT_TOKEN=token or self.server.token)
        return subprocess.run([os.path.join(ARGS.bin_dir, "pki-server"), "operator", "backup", path], env=env,
                              capture_output=True, text=True, timeout=300)

    def assert_error(self, r, status, text):
        self.assertEqual(r.status_code, status, r.text)
        errors = r.json()["errors"]
        self.assertTrue(any(text in e for e in errors), r.text)

    def test_backup_under_load_restores_every_acknowledged_certificate(self):
        backup = os.path.join(self.workdir, "backup-1")
        load = Load(self.server.addr, self.server.token)
        load.start()
        try:
            deadline = time.time() + 120
            while load.count() < 60 and not load.errors and time.time() < deadline:
                time.sleep(0.05)
            self.assertFalse(load.errors, load.errors)
            # Noted before the backup begins: what it must hold at least.
            before = load.snapshot()
            crl_before = {m: self.crl_number(self.server, m) for m in MOUNTS}
            out = self.operator_backup(backup)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            during = load.snapshot()
            time.sleep(0.5)  # load after the backup: not in it, and no harm to it
        finally:
            load.stop()
        self.assertFalse(load.errors, load.errors)
        self.assertIn("Backup written to %s on the server's machine" % backup, out.stdout)
        self.assertIn("mounts/%s/rocksdb " % self.uuids["pki"], out.stdout)
        self.assertIn("mounts/%s/host-storage " % self.uuids["pki-host"], out.stdout)
        for m in MOUNTS:
            self.assertGreater(len(during[m]), len(before[m]), "%s: no issuance while the backup ran" % m)
        print("acknowledged before the backup: %s; by its end: %s; CRL numbers before: %s" % (
            {m: len(v) for m, v in before.items()}, {m: len(v) for m, v in during.items()}, crl_before),
            file=sys.stderr)

        # Refusals, against the server that is still running.
        again = self.operator_backup(backup)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already exists", again.stderr)
        self.assert_error(self.call(self.server, "POST", "sys/storage/backup", {"path": backup}, ok=None),
                          400, "already exists")
        other = os.path.join(self.workdir, "refused")
        self.assert_error(self.call(self.server, "POST", "sys/storage/backup", {"path": other}, ok=None, token=""),
                          403, "permission denied")
        policy = {"path": {"sys/storage/backup": {"capabilities": ["create", "update"]},
                           "pki/storage/checkpoint": {"capabilities": ["create", "update"]}}}
        self.call(self.server, "PUT", "sys/policies/acl/no-sudo", {"policy": json.dumps(policy)})
        limited = self.call(self.server, "POST", "auth/token/create",
                            {"policies": ["no-sudo"], "ttl": "1h"}).json()["auth"]["client_token"]
        self.assert_error(self.call(self.server, "POST", "sys/storage/backup", {"path": other}, ok=None,
                                    token=limited), 403, "permission denied")
        refused = self.operator_backup(other, token=limited)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("permission denied", refused.stderr)
        self.assert_error(self.call(self.server, "POST", "pki/storage/checkpoint", {"path": other}, ok=None,
                                    token=limited), 403, "permission denied")
        self.assert_error(self.call(self.server, "POST", "pki-host/storage/checkpoint", {"path": other}, ok=None),
                          400, "storage=host")
        self.assertFalse(os.path.exists(other))
        self.assertEqual(sorted(n for n in os.listdir(self.workdir)), ["backup-1"])  # no staging directory left

        # What is on disk, and its permissions.
        self.assertEqual(stat.S_IMODE(os.stat(backup).st_mode), 0o700)
        pki_dir = os.path.join(backup, "mounts", self.uuids["pki"])
        host_dir = os.path.join(backup, "mounts", self.uuids["pki-host"])
        for d in (os.path.join(backup, "sys"), os.path.join(pki_dir, "rocksdb"),
                  os.path.join(host_dir, "host-storage")):
            self.assertTrue(os.path.isfile(os.path.join(d, "CURRENT")), d)
        for key in (os.path.join(backup, "pki-seal.key"), os.path.join(pki_dir, "rocksdb.seal-key")):
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600, key)
            self.assertEqual(os.path.getsize(key), 32, key)

        self.server.stop()
        # Restore: a new server with the backup as its data directory, on a fresh port.
        restored = DataDirServer(ARGS.bin_dir, backup, self.server.token)
        type(self).restored = restored
        restored.start()
        for m in MOUNTS:
            listed = {norm(k) for k in self.call(restored, "LIST", m + "/certs", ok=(200,)).json()["data"]["keys"]}
            for serial in before[m]:
                self.call(restored, "GET", "%s/cert/%s" % (m, serial), ok=(200,), token="")
            missing = {norm(s) for s in before[m]} - listed
            self.assertFalse(missing, "%s: acknowledged before the backup, not listed after restore: %s" % (m, missing))

            # The CA key opens with the restored seal key: a new leaf verifies against the CA.
            leaf = self.call(restored, "POST", m + "/issue/web", {"common_name": "restored.example.com"},
                             ok=(200,)).json()["data"]["certificate"]
            ok, output = harness.openssl_verify(leaf, self.ca[m])
            self.assertTrue(ok, "%s: %s" % (m, output))

            number = self.crl_number(restored, m)
            self.assertGreaterEqual(number, crl_before[m], "%s: CRL number went back" % m)
            self.call(restored, "GET", m + "/crl/rotate", ok=(200,))
            self.assertGreater(self.crl_number(restored, m), number, "%s: rotation did not move the CRL number" % m)


if __name__ == "__main__":
    unittest.main(verbosity=2)
