"""Starts the real pki-server on a free loopback port for integration tests, and stops it."""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True, help="directory holding pki-server")
    args, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0]] + rest
    return args


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """pki-server -dev with a known root token, a private data dir and a free port."""

    def __init__(self, bin_dir, token="integration-root-token", extra_args=()):
        self.binary = os.path.join(bin_dir, "pki-server")
        self.token = token
        self.extra_args = list(extra_args)  # more pki-server flags, e.g. ["-audit-log=/path"]
        self.data_dir = tempfile.mkdtemp(prefix="pki-it-")
        self.port = free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    def command(self):
        return [self.binary, "-dev", "-dev-root-token-id=" + self.token,
                "-dev-listen-address=127.0.0.1:%d" % self.port, "-data-dir=" + os.path.join(self.data_dir, "data")] + self.extra_args

    def health_url(self):
        return self.addr + "/v1/sys/health"

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pki-server exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with urllib.request.urlopen(self.health_url(), timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("pki-server did not become healthy:\n" + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("pki-server did not stop on SIGTERM")
            if code != 0:
                raise RuntimeError("pki-server exited %d on SIGTERM:\n%s" % (code, self.log()))
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class ConfigServer(DevServer):
    """pki-server -config=FILE with the same start/stop/restart/log/cleanup as DevServer. The caller writes the
    config file (see write_config) with `health_addr` as a plain listener (tls_disable), which start() polls; the
    root token is read from the root-token file once the server started."""

    def __init__(self, bin_dir, extra_args=()):
        super().__init__(bin_dir, token=None, extra_args=extra_args)
        self.config_path = os.path.join(self.data_dir, "config.json")

    def write_config(self, config, mode=0o600):
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        os.chmod(self.config_path, mode)

    def command(self):
        return [self.binary, "-config=" + self.config_path] + self.extra_args

    def start(self):
        super().start()
        with open(self.root_token_path()) as f:
            self.token = f.read().strip()

    def root_token_path(self):
        with open(self.config_path) as f:
            config = json.load(f)
        return config.get("root_token_file") or os.path.join(config["data_dir"], "root-token")

    def run_once(self, *args, timeout=30):
        """Runs pki-server with this config and `args` to completion (for start-up failures): (exit code, output)."""
        out = subprocess.run(self.command() + list(args), capture_output=True, text=True, timeout=timeout)
        return out.returncode, out.stdout + out.stderr


class SharedDevServer:
    """One DevServer for a whole test module, started lazily by setUpModule and removed by tearDownModule:

        SERVER = harness.SharedDevServer(ARGS.bin_dir)
        setUpModule, tearDownModule, client = SERVER.setup, SERVER.finish, SERVER.client

    Other attributes (addr, token, restart, log, ...) are the running DevServer's."""

    def __init__(self, bin_dir):
        self._bin_dir = bin_dir
        self._server = None
        self._client = None

    def setup(self):
        self._server = DevServer(self._bin_dir)
        self._server.start()

    def finish(self):
        if self._client is not None:
            self._client.adapter.close()
            self._client = None
        if self._server is not None:
            self._server.cleanup()

    def client(self):
        """An hvac client with the root token (imported here: hvac is Debian's, under /usr/bin/python3)."""
        if self._client is None:
            import hvac
            self._client = hvac.Client(url=self._server.addr, token=self._server.token)
        return self._client

    def __getattr__(self, name):
        return getattr(self._server, name)


def ca_bundle(common_name):
    """A self-signed EC P-256 CA certificate and its private key (PKCS#8), made here with python cryptography:
    (the PEM bundle, key first as Vault's docs show it, and the key's PEM)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem + cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def openssl_verify(leaf_pem, anchor_pem, untrusted=()):
    """`openssl verify` of the leaf with `anchor_pem` as the only trust anchor and `untrusted` PEMs as candidate
    intermediates; returns (ok, output)."""
    with tempfile.TemporaryDirectory() as d:
        def put(name, text):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text.strip() + "\n")
            return path
        cmd = ["openssl", "verify", "-CAfile", put("anchor.pem", anchor_pem)]
        if untrusted:
            cmd += ["-untrusted", put("untrusted.pem", "\n".join(p.strip() for p in untrusted))]
        out = subprocess.run(cmd + [put("leaf.pem", leaf_pem)], capture_output=True, text=True)
        return out.returncode == 0, out.stdout + out.stderr


def child_pids(pid):
    """The live (non-zombie) children of process `pid`, from /proc (every thread's children)."""
    out = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.update(int(c) for c in f.read().split())
        except OSError:
            pass
    return {c for c in out if process_alive(c)}


def process_alive(pid):
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def process_exe(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return ""


def plugin_pids(server):
    """The pki-plugin children of a running DevServer."""
    if server.proc is None:
        return set()
    return {c for c in child_pids(server.proc.pid) if process_exe(c) == "pki-plugin"}
