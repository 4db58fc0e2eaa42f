"""The Node clients of tests/clients (node-vault, @cdktf/provider-vault), installed with `npm ci` into the build tree.

install(bin_dir) copies tests/clients/package.json and package-lock.json to <build>/clients/ (build = the parent
of --bin-dir) and runs `npm ci` there, unless node_modules already holds exactly that lock (a hash of both files
is kept next to it). Tests running in parallel share one installation: the work is done under a file lock.
run_node(...) runs a script of tests/clients with NODE_PATH pointing at it.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess

CLIENTS_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients")
MANIFESTS = ("package.json", "package-lock.json")


def _lock_hash():
    h = hashlib.sha256()
    for name in MANIFESTS:
        with open(os.path.join(CLIENTS_SRC, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def install(bin_dir):
    """Installs the locked clients under <build>/clients and returns its node_modules directory."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise RuntimeError("node and npm are needed for the Node client tests (scripts/deps installs them)")
    dest = os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "clients")
    os.makedirs(dest, exist_ok=True)
    modules = os.path.join(dest, "node_modules")
    stamp = os.path.join(modules, ".pki-client-lock.sha256")
    want = _lock_hash()
    with open(os.path.join(dest, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read().strip() == want:
                    return modules
        except OSError:
            pass
        for name in MANIFESTS:
            shutil.copyfile(os.path.join(CLIENTS_SRC, name), os.path.join(dest, name))
        out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=dest,
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError("npm ci failed in %s:\n%s%s" % (dest, out.stdout[-3000:], out.stderr[-3000:]))
        with open(stamp, "w") as f:
            f.write(want + "\n")
    return modules


def run_node(modules, script, args=(), env=None, timeout=300):
    """Runs tests/clients/<script> with NODE_PATH=modules; returns its stdout parsed as JSON. A non-zero exit is
    an AssertionError carrying the script's output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["NODE_PATH"] = modules
    out = subprocess.run(["node", os.path.join(CLIENTS_SRC, script)] + list(args), capture_output=True, text=True,
                         env=full_env, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("node %s exited %d:\n%s\n%s" % (script, out.returncode, out.stdout[-4000:],
                                                             out.stderr[-4000:]))
    return json.loads(out.stdout)
