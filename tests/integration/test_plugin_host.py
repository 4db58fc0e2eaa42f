"""pki-server as a go-plugin host: every PKI mount is a pki-plugin child, supervised, restarted, and stopped with it.

Run by ctest as: /usr/bin/python3 test_plugin_host.py --bin-dir build/bin
"""

import os
import re
import signal
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

SERVER = harness.SharedDevServer(ARGS.bin_dir)
setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client


def wait_for(pred, timeout=20.0, interval=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def openssl_verify(leaf_pem, ca_pem):
    with tempfile.TemporaryDirectory() as d:
        ca = os.path.join(d, "ca.pem")
        leaf = os.path.join(d, "leaf.pem")
        with open(ca, "w") as f:
            f.write(ca_pem + "\n")
        with open(leaf, "w") as f:
            f.write(leaf_pem + "\n")
        out = subprocess.run(["openssl", "verify", "-CAfile", ca, leaf], capture_output=True, text=True)
        return out.returncode == 0, out.stdout + out.stderr


def mount_uuid(path):
    return client().sys.list_mounted_secrets_engines()["data"][path]["uuid"]


def plugin_of_mount(uuid):
    """The pki-plugin child running in the mount's data directory (its working directory)."""
    for pid in harness.plugin_pids(SERVER):
        try:
            if os.path.basename(os.readlink("/proc/%d/cwd" % pid)) == uuid:
                return pid
        except OSError:
            pass
    return None


def listening_socket_inodes(port):
    """Inodes of the TCP sockets listening on `port` (from /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local_port = int(fields[1].rsplit(":", 1)[1], 16)
                    if local_port == port and fields[3] == "0A":  # LISTEN
                        inodes.add(fields[9])
        except OSError:
            pass
    return inodes


def socket_inodes_of(pid):
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            out.add(m.group(1))
    return out


class PluginHost(unittest.TestCase):
    """One server, its default pki/ mount and a storage=host mount, through the plugin's life cycle."""

    def test_1_health_and_one_plugin_child_per_mount(self):
        r = requests.get(SERVER.addr + "/v1/sys/health")
        self.assertEqual(r.status_code, 200)
        pids = harness.plugin_pids(SERVER)
        self.assertEqual(len(pids), 1, "expected one pki-plugin child for pki/")
        pid = next(iter(pids))
        self.assertEqual(plugin_of_mount(mount_uuid("pki/")), pid)

        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        self.assertEqual(env[b"VAULT_BACKEND_PLUGIN"], b"6669da05-b1c8-4f49-97d9-c8e5bed98e20")
        self.assertEqual(env[b"PLUGIN_PROTOCOL_VERSIONS"], b"5")
        self.assertEqual(env[b"VAULT_PLUGIN_AUTOMTLS_ENABLED"], b"true")
        self.assertTrue(env[b"PLUGIN_CLIENT_CERT"].startswith(b"-----BEGIN CERTIFICATE-----"))
        self.assertNotIn(b"PRIVATE KEY", b"".join(env.values()))

        # The server's listening socket stays with the server.
        listening = listening_socket_inodes(SERVER.port)
        self.assertTrue(listening, "the server's listening socket was not found")
        self.assertTrue(listening & socket_inodes_of(SERVER.proc.pid))
        self.assertFalse(listening & socket_inodes_of(pid), "the plugin inherited the server's listening socket")

    def test_2_storage_host_mount_issues_certificates(self):
        c = client()
        c.sys.enable_secrets_engine(backend_type="pki", path="pki-host", options={"storage": "host"})
        uuid = mount_uuid("pki-host/")
        self.assertEqual(c.sys.list_mounted_secrets_engines()["data"]["pki-host/"]["options"], {"storage": "host"})
        self.assertTrue(wait_for(lambda: plugin_of_mount(uuid) is not None, timeout=5))
        self.assertEqual(len(harness.plugin_pids(SERVER)), 2)

        root = c.write("pki-host/root/generate/internal", common_name="Host Storage Root", ttl="87600h")
        ca_pem = root["data"]["certificate"]
        c.write("pki-host/roles/web", allowed_domains="example.com", allow_subdomains=True, max_ttl="72h")
        leaf = c.write("pki-host/issue/web", common_name="svc.example.com", ttl="1h")["data"]
        ok, out = openssl_verify(leaf["certificate"], ca_pem)
        self.assertTrue(ok, out)

        # The data lives in the host's storage for this mount, not in a plugin-side RocksDB.
        mount_dir = os.path.join(SERVER.data_dir, "data", "mounts", uuid)
        self.assertTrue(os.path.exists(os.path.join(mount_dir, "host-storage", "CURRENT")))
        self.assertFalse(os.path.exists(os.path.join(mount_dir, "rocksdb")))
        serials = c.list("pki-host/certs")["data"]["keys"]
        self.assertIn(leaf["serial_number"], serials)

    def test_3_killed_plugin_is_restarted_and_keeps_its_data(self):
        uuid = mount_uuid("pki-host/")
        old = plugin_of_mount(uuid)
        self.assertIsNotNone(old)
        os.kill(old, signal.SIGKILL)
        statuses = []
        with requests.Session() as session:
            deadline = time.time() + 20
            while time.time() < deadline:
                code = session.get(SERVER.addr + "/v1/sys/health").status_code
                statuses.append(code)
                if code == 200 and any(s != 200 for s in statuses):
                    break
                time.sleep(0.005)
        self.assertTrue(any(s != 200 for s in statuses), "sys/health never reported the dead plugin")
        self.assertIn(503, statuses)
        self.assertEqual(statuses[-1], 200, "sys/health did not recover after the restart")

        new = plugin_of_mount(uuid)
        self.assertIsNotNone(new)
        self.assertNotEqual(new, old)
        self.assertIn("restarted", SERVER.log())
        role = client().read("pki-host/roles/web")
        self.assertEqual(role["data"]["allowed_domains"], ["example.com"])
        # Still issuing under the same CA.
        ca_pem = requests.get(SERVER.addr + "/v1/pki-host/ca/pem").text
        leaf = client().write("pki-host/issue/web", common_name="after.example.com", ttl="1h")["data"]
        ok, out = openssl_verify(leaf["certificate"], ca_pem)
        self.assertTrue(ok, out)

    def test_4_unmount_stops_the_child_and_removes_its_data(self):
        uuid = mount_uuid("pki-host/")
        pid = plugin_of_mount(uuid)
        self.assertIsNotNone(pid)
        client().sys.disable_secrets_engine("pki-host")
        self.assertTrue(wait_for(lambda: not harness.process_alive(pid), timeout=10), "unmounted plugin still runs")
        self.assertNotIn("pki-host/", client().sys.list_mounted_secrets_engines()["data"])
        self.assertFalse(os.path.exists(os.path.join(SERVER.data_dir, "data", "mounts", uuid)))
        self.assertEqual(len(harness.plugin_pids(SERVER)), 1)
        self.assertEqual(requests.get(SERVER.addr + "/v1/sys/health").status_code, 200)

    def test_5_refused_options_fail_the_mount_and_leave_no_child(self):
        before = harness.plugin_pids(SERVER)
        r = requests.post(SERVER.addr + "/v1/sys/mounts/pki-bad", headers={"X-Vault-Token": SERVER.token},
                          json={"type": "pki", "options": {"storage": "floppy"}})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("floppy", r.json()["errors"][0])
        self.assertEqual(harness.plugin_pids(SERVER), before)
        self.assertNotIn("pki-bad/", client().sys.list_mounted_secrets_engines()["data"])

    def test_6_sigterm_leaves_no_plugin_behind(self):
        client().sys.enable_secrets_engine(backend_type="pki", path="pki-second")
        pids = harness.plugin_pids(SERVER)
        self.assertEqual(len(pids), 2)
        SERVER.stop()  # SIGTERM; asserts exit code 0
        for pid in pids:
            self.assertFalse(harness.process_alive(pid), "pki-plugin %d outlived pki-server" % pid)
        SERVER.start()  # both mounts come back, each with its plugin
        self.assertEqual(len(harness.plugin_pids(SERVER)), 2)


class PluginBinary(unittest.TestCase):

    def test_missing_plugin_binary_is_a_clear_startup_error(self):
        with tempfile.TemporaryDirectory() as d:
            out = subprocess.run(
                [os.path.join(ARGS.bin_dir, "pki-server"), "-dev", "-dev-root-token-id=x",
                 "-dev-listen-address=127.0.0.1:%d" % harness.free_port(), "-data-dir=" + os.path.join(d, "data"),
                 "-plugin=" + os.path.join(d, "no-such-plugin")],
                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("plugin binary not found", out.stderr)
        self.assertIn("no-such-plugin", out.stderr)

    def test_plugin_exits_when_the_server_is_killed(self):
        server = harness.DevServer(ARGS.bin_dir)
        try:
            server.start()
            pids = harness.plugin_pids(server)
            self.assertEqual(len(pids), 1)
            server.proc.kill()
            server.proc.wait()
            for pid in pids:
                self.assertTrue(wait_for(lambda: not harness.process_alive(pid), timeout=10),
                                "pki-plugin %d outlived a SIGKILLed pki-server" % pid)
        finally:
            server.proc = None
            server.cleanup()

    def test_server_killed_mid_request_restarts_at_once(self):
        # A plugin busy with a slow key when its host dies must not keep the mount's RocksDB lock until it is done:
        # it ends within seconds, and the next server's plugin waits for the lock instead of failing the mount.
        server = harness.DevServer(ARGS.bin_dir)
        try:
            server.start()
            pids = harness.plugin_pids(server)
            headers = {"X-Vault-Token": server.token}
            requests.post(server.addr + "/v1/sys/mounts/pki/tune", json={"max_lease_ttl": "87600h"},
                          headers=headers, timeout=10).raise_for_status()

            def slow_root():
                try:
                    requests.post(server.addr + "/v1/pki/root/generate/internal", headers=headers, timeout=120,
                                  json={"common_name": "Slow Root", "key_type": "rsa", "key_bits": 8192})
                except requests.RequestException:
                    pass  # the server dies under it

            worker = threading.Thread(target=slow_root, daemon=True)
            worker.start()
            time.sleep(0.5)  # the plugin is generating the key now
            server.proc.kill()
            server.proc.wait()
            for pid in pids:
                self.assertTrue(wait_for(lambda: not harness.process_alive(pid), timeout=5),
                                "pki-plugin %d kept running its request after its host was killed" % pid)
            server.proc = None
            server.start()  # the same data directory: the mount's RocksDB must be free again
            r = requests.get(server.addr + "/v1/sys/health", timeout=5)
            self.assertEqual(r.status_code, 200)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
