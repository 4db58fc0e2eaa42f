"""pki-server -config=FILE: a TLS listener, a plain listener and a TLS listener that requires client certificates,
a PKI mount declared with options and tune, the root token file; checked with real clients (hvac, pkictl,
openssl s_client, requests) and across a restart. Certificates are made here with the openssl CLI.

Run by ctest as: /usr/bin/python3 test_server_config.py --bin-dir build/bin
"""

import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = harness.parse_args()


def run(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


def make_ca(d, name):
    """A self-signed EC CA: returns (cert path, key path)."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
        "-out", crt, "-days", "2", "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_leaf(d, name, ca, ext):
    """A leaf certificate signed by `ca` with the extensions in `ext` (openssl x509 -extfile syntax)."""
    key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    extfile = os.path.join(d, name + ".ext")
    with open(extfile, "w") as f:
        f.write(ext)
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=" + name)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", extfile)
    return crt, key


def served_serial(port):
    """The serial number of the certificate a new TLS connection to `port` is served."""
    from cryptography import x509
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def file_serial(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).serial_number


def wait_for(predicate, what, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class ServerConfig(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.ConfigServer(ARGS.bin_dir)
        d = cls.dir = cls.server.data_dir
        cls.ca = make_ca(d, "server-ca")
        cls.server_cert = make_leaf(d, "pki-server", cls.ca,
                                    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        cls.client_ca = make_ca(d, "client-ca")
        cls.client_cert = make_leaf(d, "operator", cls.client_ca, "extendedKeyUsage=clientAuth\n")
        cls.stranger_ca = make_ca(d, "stranger-ca")
        cls.stranger_cert = make_leaf(d, "stranger", cls.stranger_ca, "extendedKeyUsage=clientAuth\n")
        cls.tls_port = harness.free_port()
        cls.mtls_port = harness.free_port()
        cls.web_token = "web-issuer-" + "0123456789abcdef"
        cls.web_token_file = os.path.join(d, "web.token")
        with open(cls.web_token_file, "w") as f:
            f.write(cls.web_token + "\n")
        cls.tls_addr = "https://127.0.0.1:%d" % cls.tls_port
        cls.mtls_addr = "https://127.0.0.1:%d" % cls.mtls_port
        cls.config = {
            "listeners": [
                {"address": "127.0.0.1:%d" % cls.tls_port, "tls_cert_file": cls.server_cert[0],
                 "tls_key_file": cls.server_cert[1], "tls_min_version": "tls12",
                 "max_request_size": 1048576, "max_request_duration": "90s"},
                {"address": "127.0.0.1:%d" % cls.server.port, "tls_disable": True},
                {"address": "127.0.0.1:%d" % cls.mtls_port, "tls_cert_file": cls.server_cert[0],
                 "tls_key_file": cls.server_cert[1], "tls_client_ca_file": cls.client_ca[0],
                 "tls_require_and_verify_client_cert": True},
            ],
            "data_dir": os.path.join(d, "data"),
            "plugin": os.path.join(ARGS.bin_dir, "pki-plugin"),
            "log_level": "info",
            "mounts": [{"path": "pki/", "type": "pki", "description": "configured root CA",
                        "options": {"storage": "rocksdb"},
                        "config": {"default_lease_ttl": "768h", "max_lease_ttl": "87600h"}}],
            "policies": {"web-issuer": {"path": {"pki/issue/web": {"capabilities": ["update"]}}},
                         "crl-reader": '{"path": {"pki/cert/*": {"capabilities": ["read"]}}}'},
            "tokens": [{"id_file": cls.web_token_file, "policies": ["web-issuer"], "display_name": "web"}],
        }
        cls.server.write_config(cls.config)
        cls.server.start()
        cls.client = cls.hvac(cls.tls_addr)
        root = cls.client.write("pki/root/generate/internal", common_name="Config Root", key_type="ec",
                                ttl="8760h")
        cls.root_pem = root["data"]["certificate"]
        cls.client.write("pki/roles/web", allowed_domains="example.com", allow_subdomains=True, max_ttl="72h",
                         key_type="ec")

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            c.adapter.close()
        cls.server.cleanup()

    clients = []

    @classmethod
    def hvac(cls, url, cert=None, token=None, verify=None):
        import hvac
        c = hvac.Client(url=url, token=token or cls.server.token, verify=verify or cls.ca[0], cert=cert)
        cls.clients.append(c)
        return c

    def pkictl(self, *args, env=None):
        e = dict(os.environ, VAULT_ADDR=self.tls_addr, VAULT_CACERT=self.ca[0], VAULT_TOKEN=self.server.token)
        for k in ("VAULT_FORMAT", "VAULT_CAPATH", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "VAULT_SKIP_VERIFY"):
            e.pop(k, None)
        e.update(env or {})
        return subprocess.run([os.path.join(ARGS.bin_dir, "pkictl")] + list(args), capture_output=True, text=True,
                              env=e, timeout=120)

    def test_root_token_file(self):
        path = os.path.join(self.config["data_dir"], "root-token")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertRegex(self.server.token, r"^hvs\.[A-Za-z0-9]{24}$")
        log = self.server.log()
        self.assertIn(path, log)  # the banner names the file ...
        self.assertNotIn(self.server.token, log)  # ... never the token
        self.assertIn("Listener: https://127.0.0.1:%d (TLS)" % self.tls_port, log)
        self.assertIn("Listener: http://127.0.0.1:%d (plain HTTP, TLS disabled)" % self.server.port, log)
        # The root token is the only token: a wrong one is refused.
        import hvac
        with self.assertRaises(hvac.exceptions.Forbidden):
            self.hvac(self.tls_addr, token="hvs.wrong").read("pki/roles/web")

    def test_configured_policies_and_tokens(self):
        import hvac
        web = self.hvac(self.tls_addr, token=self.web_token)
        issued = web.write("pki/issue/web", common_name="svc.example.com", ttl="1h")["data"]
        ok, out = harness.openssl_verify(issued["certificate"], self.root_pem)
        self.assertTrue(ok, out)
        for denied in (lambda: web.read("pki/roles/web"), lambda: web.write("pki/roles/web", max_ttl="1h"),
                       lambda: web.write("pki/revoke", serial_number=issued["serial_number"])):
            with self.assertRaises(hvac.exceptions.Forbidden):
                denied()
        me = web.lookup_token()["data"]
        self.assertEqual(sorted(me["policies"]), ["default", "web-issuer"])
        self.assertNotIn(self.web_token, self.server.log())
        # Both declared policies are in the store, the text one as written.
        policies = self.client.sys.list_policies()["data"]["policies"]
        self.assertIn("web-issuer", policies)
        self.assertIn("crl-reader", policies)

    def test_hvac_over_tls(self):
        health = self.client.sys.read_health_status(method="GET")
        self.assertTrue(health["initialized"])
        self.assertFalse(health["sealed"])
        issued = self.client.write("pki/issue/web", common_name="tls.example.com", ttl="1h")["data"]
        ok, out = harness.openssl_verify(issued["certificate"], self.root_pem)
        self.assertTrue(ok, out)
        # hvac refuses a server its CA bundle does not vouch for.
        import hvac
        import requests
        other = self.hvac(self.tls_addr, verify=self.stranger_ca[0])
        with self.assertRaises(requests.exceptions.SSLError):
            other.sys.read_health_status(method="GET")

    def test_declared_mount_options_and_tune(self):
        tune = self.client.sys.read_mount_configuration("pki")["data"]
        self.assertEqual(tune["default_lease_ttl"], 768 * 3600)
        self.assertEqual(tune["max_lease_ttl"], 87600 * 3600)
        self.assertEqual(tune["description"], "configured root CA")
        mounts = self.client.sys.list_mounted_secrets_engines()["data"]
        self.assertEqual(mounts["pki/"]["options"], {"storage": "rocksdb"})
        self.assertEqual(sorted(k for k in mounts if mounts[k]["type"] == "pki"), ["pki/"])

    def test_plain_listener_serves_the_same_server(self):
        with urllib.request.urlopen(self.server.addr + "/v1/pki/ca/pem", timeout=10) as r:
            plain = r.read().decode()
        ctx = ssl.create_default_context(cafile=self.ca[0])
        with urllib.request.urlopen(self.tls_addr + "/v1/pki/ca/pem", timeout=10, context=ctx) as r:
            tls = r.read().decode()
        self.assertEqual(plain.strip(), self.root_pem.strip())
        self.assertEqual(tls, plain)

    def test_request_size_limit(self):
        import hvac
        with self.assertRaises(hvac.exceptions.VaultError) as err:
            self.client.write("pki/roles/big", allowed_domains=["x" * 1000] * 1100)
        self.assertIn("too large", str(err.exception))

    def test_pkictl_over_tls(self):
        r = self.pkictl("read", "-field=certificate", "pki/cert/ca")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), self.root_pem.strip())
        # -ca-cert instead of the environment.
        r = self.pkictl("read", "-ca-cert=" + self.ca[0], "-format=json", "pki/cert/ca", env={"VAULT_CACERT": ""})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["data"]["certificate"].strip(), self.root_pem.strip())
        # VAULT_CAPATH: a directory of hashed CA certificates.
        capath = os.path.join(self.dir, "capath")
        os.makedirs(capath, exist_ok=True)
        h = run("openssl", "x509", "-hash", "-noout", "-in", self.ca[0]).stdout.strip()
        with open(self.ca[0]) as src, open(os.path.join(capath, h + ".0"), "w") as dst:
            dst.write(src.read())
        r = self.pkictl("read", "-field=certificate", "pki/cert/ca", env={"VAULT_CACERT": "", "VAULT_CAPATH": capath})
        self.assertEqual(r.returncode, 0, r.stderr)
        # Without the CA the server is not trusted.
        r = self.pkictl("read", "pki/cert/ca", env={"VAULT_CACERT": self.stranger_ca[0]})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr.lower())

    def test_openssl_s_client_sees_the_chain(self):
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.tls_port,
                              "-CAfile", self.ca[0], "-verify_ip", "127.0.0.1", "-showcerts"],
                             input="", capture_output=True, text=True, timeout=30)
        self.assertIn("Verify return code: 0 (ok)", out.stdout, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"s:\s*CN\s*=\s*pki-server")
        self.assertRegex(out.stdout, r"i:\s*CN\s*=\s*server-ca")
        self.assertIn("-----BEGIN CERTIFICATE-----", out.stdout)

    def test_client_certificates(self):
        import requests
        url = self.mtls_addr + "/v1/sys/health"
        for cert in (None, self.stranger_cert):
            with requests.Session() as s, self.assertRaises(requests.exceptions.RequestException):
                s.get(url, verify=self.ca[0], cert=cert, timeout=10)
        with requests.Session() as s:
            self.assertEqual(s.get(url, verify=self.ca[0], cert=self.client_cert, timeout=10).status_code, 200)
        mtls = self.hvac(self.mtls_addr, cert=self.client_cert)
        issued = mtls.write("pki/issue/web", common_name="mtls.example.com")["data"]
        self.assertTrue(harness.openssl_verify(issued["certificate"], self.root_pem)[0])
        # pkictl with VAULT_CLIENT_CERT/VAULT_CLIENT_KEY, and without.
        env = {"VAULT_ADDR": self.mtls_addr, "VAULT_CLIENT_CERT": self.client_cert[0],
               "VAULT_CLIENT_KEY": self.client_cert[1]}
        r = self.pkictl("read", "-field=certificate", "pki/cert/ca", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.pkictl("read", "pki/cert/ca", env={"VAULT_ADDR": self.mtls_addr})
        self.assertNotEqual(r.returncode, 0)
        # openssl s_client without a certificate is refused at the handshake (TLS 1.3: right after it).
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.mtls_port,
                              "-CAfile", self.ca[0]], input="GET / HTTP/1.0\r\n\r\n", capture_output=True,
                             text=True, timeout=30)
        self.assertNotIn("HTTP/1.", out.stdout)
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.mtls_port, "-quiet",
                              "-CAfile", self.ca[0], "-cert", self.client_cert[0], "-key", self.client_cert[1]],
                             input="GET /v1/sys/health HTTP/1.0\r\n\r\n", capture_output=True, text=True, timeout=30)
        self.assertIn("HTTP/1.0 200", out.stdout, out.stderr)

    def test_zz_restart_keeps_data_and_root_token(self):
        # Runs last (unittest orders by name): it restarts the server.
        issued = self.client.write("pki/issue/web", common_name="keep.example.com")["data"]
        token = self.server.token
        self.server.stop()  # SIGTERM; raises unless the exit code is 0
        # Mount options are fixed: a config declaring others fails the start, naming the mount.
        changed = json.loads(json.dumps(self.config))
        changed["mounts"][0]["options"] = {"storage": "host"}
        self.server.write_config(changed)
        code, out = self.server.run_once()
        self.assertEqual(code, 1, out)
        self.assertIn("mount pki/ exists with options {storage=rocksdb}", out)
        # Back to the config, now readable by others (a warning), retuned, and with -log-level=warn over the
        # file's info: no INFO lines.
        retuned = json.loads(json.dumps(self.config))
        retuned["mounts"][0]["config"]["max_lease_ttl"] = "43800h"
        self.server.write_config(retuned, mode=0o644)
        log_start = len(self.server.log())
        self.server.extra_args = ["-log-level=warn"]
        self.server.start()
        self.assertEqual(self.server.token, token)
        client = self.hvac(self.tls_addr)
        again = client.read("pki/cert/" + issued["serial_number"])["data"]
        self.assertEqual(again["certificate"].strip(), issued["certificate"].strip())
        self.assertEqual(client.read("pki/cert/ca")["data"]["certificate"].strip(), self.root_pem.strip())
        self.assertEqual(client.sys.read_mount_configuration("pki")["data"]["max_lease_ttl"], 43800 * 3600)
        log = self.server.log()[log_start - 4000 if log_start > 4000 else 0:]
        self.assertIn("readable by other users", log)
        self.assertIn("Root Token: read from", log)
        self.assertNotIn("[INFO]", log[log.find("Root Token: read from"):])
        self.server.stop()

    def test_sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_broken(self):
        cert_path = self.server_cert[0]
        with open(cert_path) as f:
            original = f.read()
        original_serial = file_serial(cert_path)
        self.assertEqual(served_serial(self.tls_port), original_serial)
        try:
            # A renewed certificate for the same key (the CA gives it the next serial), then SIGHUP.
            renewed = os.path.join(self.dir, "renewed.pem")
            run("openssl", "x509", "-req", "-in", os.path.join(self.dir, "pki-server.csr"), "-CA", self.ca[0],
                "-CAkey", self.ca[1], "-CAserial", os.path.join(self.dir, "server-ca.srl"), "-out", renewed,
                "-days", "2", "-extfile", os.path.join(self.dir, "pki-server.ext"))
            renewed_serial = file_serial(renewed)
            self.assertNotEqual(renewed_serial, original_serial)
            with open(renewed) as src, open(cert_path, "w") as dst:
                dst.write(src.read())
            self.server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: served_serial(self.tls_port) == renewed_serial, "the renewed certificate to be served")
            self.assertIn("SIGHUP: TLS certificates and keys reloaded", self.server.log())
            # A broken replacement: the reload fails, is logged, and the renewed certificate is still served.
            with open(cert_path, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
            self.server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloading TLS failed, keeping the current certificates" in self.server.log(),
                     "the failed reload to be logged")
            self.assertIn("tls_cert_file " + cert_path, self.server.log())
            self.assertEqual(served_serial(self.tls_port), renewed_serial)
            self.assertTrue(self.hvac(self.tls_addr).sys.read_health_status(method="GET")["initialized"])
        finally:
            with open(cert_path, "w") as f:
                f.write(original)
            self.server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: served_serial(self.tls_port) == original_serial, "the original certificate again")


class ConfigErrors(unittest.TestCase):
    """Configurations pki-server must refuse before serving anything."""

    def setUp(self):
        self.server = harness.ConfigServer(ARGS.bin_dir)
        self.base = {"listeners": [{"address": "127.0.0.1:%d" % self.server.port, "tls_disable": True}],
                     "data_dir": os.path.join(self.server.data_dir, "data")}

    def tearDown(self):
        self.server.cleanup()

    def refused(self, config, *args):
        self.server.write_config(config)
        code, out = self.server.run_once(*args)
        self.assertNotEqual(code, 0, out)
        return code, out

    def test_unknown_key_is_named(self):
        config = dict(self.base)
        config["listeners"] = [dict(self.base["listeners"][0], tls_cert="/etc/tls.crt")]
        code, out = self.refused(config)
        self.assertEqual(code, 1)
        self.assertIn('unknown key "listeners[0].tls_cert"', out)
        self.assertFalse(os.path.exists(self.base["data_dir"]))  # nothing was created

    def test_tls_without_certificate(self):
        config = dict(self.base, listeners=[{"address": "127.0.0.1:%d" % self.server.port}])
        code, out = self.refused(config)
        self.assertIn("tls_cert_file and tls_key_file are required unless tls_disable is true", out)

    def test_unreadable_certificate_fails_the_start(self):
        missing = os.path.join(self.server.data_dir, "absent.crt")
        config = dict(self.base, listeners=[{"address": "127.0.0.1:%d" % self.server.port,
                                             "tls_cert_file": missing, "tls_key_file": missing}])
        code, out = self.refused(config)
        self.assertEqual(code, 1)
        self.assertIn("tls_cert_file " + missing + ": No such file or directory", out)

    def assert_nothing_written(self):
        data_dir = self.base["data_dir"]
        mounts = os.path.join(data_dir, "mounts")
        self.assertFalse(os.path.exists(mounts) and os.listdir(mounts), "mounts were created")
        self.assertFalse(os.path.exists(os.path.join(data_dir, "root-token")), "a root token file was written")
        self.assertFalse(os.path.exists(os.path.join(data_dir, "sys")), "the server's storage was created")

    def test_mismatched_key_fails_before_anything_is_written(self):
        d = self.server.data_dir
        ca = make_ca(d, "ca")
        cert = make_leaf(d, "server", ca, "subjectAltName=IP:127.0.0.1\n")
        other = make_leaf(d, "other", ca, "subjectAltName=IP:127.0.0.1\n")
        config = dict(self.base, listeners=[
            {"address": "127.0.0.1:%d" % self.server.port, "tls_disable": True},
            {"address": "127.0.0.1:%d" % harness.free_port(), "tls_cert_file": cert[0], "tls_key_file": other[1]}],
            plugin=os.path.join(ARGS.bin_dir, "pki-plugin"),
            mounts=[{"path": "pki/", "type": "pki"}],
            policies={"reader": {"path": {"pki/cert/*": {"capabilities": ["read"]}}}})
        code, out = self.refused(config)
        self.assertEqual(code, 1)
        self.assertIn("tls_key_file " + other[1] + " does not match the certificate in tls_cert_file " + cert[0], out)
        self.assertNotIn("PRIVATE KEY", out)
        self.assertFalse(os.path.exists(self.base["data_dir"]))  # not even the data directory
        # With a data directory from an earlier start, still nothing is added to it.
        os.makedirs(self.base["data_dir"], mode=0o700)
        code, out = self.refused(config)
        self.assertIn("does not match the certificate", out)
        self.assert_nothing_written()
        # The same configuration with the matching key starts, mounts pki/ and writes the root token.
        config["listeners"][1]["tls_key_file"] = cert[1]
        self.server.write_config(config)
        self.server.start()
        self.assertTrue(os.listdir(os.path.join(self.base["data_dir"], "mounts")))
        self.assertRegex(self.server.token, r"^hvs\.")
        self.server.stop()

    def test_a_busy_port_fails_before_anything_is_written(self):
        import socket
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            config = dict(self.base, listeners=[
                {"address": "127.0.0.1:%d" % self.server.port, "tls_disable": True},
                {"address": "127.0.0.1:%d" % port, "tls_disable": True}],
                plugin=os.path.join(ARGS.bin_dir, "pki-plugin"),
                mounts=[{"path": "pki/", "type": "pki"}])
            code, out = self.refused(config)
        self.assertEqual(code, 1)
        self.assertIn("cannot listen on 127.0.0.1:%d" % port, out)
        self.assertFalse(os.path.exists(self.base["data_dir"]))

    def test_dev_and_config_together(self):
        code, out = self.refused(self.base, "-dev")
        self.assertEqual(code, 2)
        self.assertIn("-dev and -config cannot be used together", out)

    def test_no_default_mount_and_sigterm(self):
        self.server.write_config(self.base)
        self.server.start()
        with urllib.request.urlopen(urllib.request.Request(
                self.server.addr + "/v1/sys/mounts", headers={"X-Vault-Token": self.server.token}), timeout=10) as r:
            mounts = json.load(r)["data"] or {}
        self.assertNotIn("pki/", mounts)
        self.server.stop()  # exit 0 on SIGTERM, else raises


if __name__ == "__main__":
    unittest.main(verbosity=2)
