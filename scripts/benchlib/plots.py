"""PNG plots of a scripts/bench run, drawn by gnuplot (Debian gnuplot-nox, installed by scripts/deps):

  throughput.png   issuance and signing throughput (ops/s) against client concurrency (wrk connections), from each
                   scenario's headline line and its <name>_c<N> sweep lines, with the peer's and the mean
                   keygen+sign ceiling of the run;
  crl_build.png    full CRL build time against the number of revoked certificates (crl_full_* and the
                   peer_openssl_ca_crl_* lines; `n` is the count), log-log.

Not a scenario module (no SCENARIOS): scripts/bench calls write() after the run. Python standard library only."""

import os
import re
import shutil
import subprocess

THROUGHPUT_SERIES = [
    ("issue_ec256_stored", "issue EC P-256, stored"),
    ("issue_ec256_nostore", "issue EC P-256, no_store"),
    ("sign_ec256_stored", "sign CSR EC P-256, stored"),
    ("peer_cfssl_sign", "peer: cfssl sign (stores nothing)"),
]


def _throughput_points(records, base):
    """(concurrency, ops/s) of `base`'s headline line and its sweep lines, sorted by concurrency."""
    points = {}
    for r in records:
        if r["name"] == base and r.get("concurrency"):
            points[r["concurrency"]] = r["value"]
        m = re.fullmatch(re.escape(base) + r"_c(\d+)", r["name"])
        if m:
            points[int(m.group(1))] = r["value"]
    return sorted(points.items())


def _crl_points(records, prefix):
    """(revoked count, seconds) of the lines named <prefix>_<scale> (e.g. crl_full_1m) that are in seconds."""
    points = {}
    for r in records:
        if re.fullmatch(re.escape(prefix) + r"_\d+[km]", r["name"]) and r.get("unit") == "s" and r.get("n"):
            points[r["n"]] = r["value"]
    return sorted(points.items())


def _line(out_dir, data_name, points, title):
    """Writes `points` to <out_dir>/<data_name>.dat; returns the gnuplot plot clause drawing them."""
    data = os.path.join(out_dir, data_name + ".dat")
    with open(data, "w") as f:
        for x, y in points:
            f.write("%s %s\n" % (x, y))
    return "'%s' using 1:2 with linespoints lw 2 title '%s'" % (data, title)


def _draw(out_dir, name, settings, plots):
    """Runs gnuplot on <out_dir>/<name>.gp (the common terminal, then `settings`, then `plots`); returns the PNG."""
    png = os.path.join(out_dir, name + ".png")
    script = ["set terminal pngcairo size 900,560 font 'sans,10' noenhanced", "set output '%s'" % png, "set grid"]
    script += settings + ["plot " + ", \\\n     ".join(plots), ""]
    script_path = os.path.join(out_dir, name + ".gp")
    with open(script_path, "w") as f:
        f.write("\n".join(script))
    subprocess.run(["gnuplot", script_path], check=True, capture_output=True, text=True)
    return png


def _throughput_plot(records, out_dir):
    series = [(name, title, _throughput_points(records, name)) for name, title in THROUGHPUT_SERIES]
    plots = [_line(out_dir, "throughput-" + name, points, title) for name, title, points in series if len(points) >= 2]
    if not plots:
        return None
    ceilings = [r["value"] for r in records if r["name"] == "ceiling_issue_ec256"]
    if ceilings:
        plots.append("%f with lines dt 2 lc rgb 'gray40' title 'ceiling: OpenSSL keygen+sign, 2 threads (mean)'"
                     % (sum(ceilings) / len(ceilings)))
    return _draw(out_dir, "throughput", [
        "set title 'Throughput against client concurrency (wrk -t2, HTTP/1.1 keep-alive, 2 cores shared)'",
        "set xlabel 'concurrent connections'",
        "set ylabel 'operations per second'",
        "set logscale x 2",
        "set yrange [0:*]",
        "set key outside bottom center horizontal maxrows 3"], plots)


def _crl_plot(records, out_dir):
    ours = _crl_points(records, "crl_full")
    if not ours:
        return None
    plots = [_line(out_dir, "crl-ours", ours, "pki-plugin full CRL rebuild")]
    peer = _crl_points(records, "peer_openssl_ca_crl")
    if peer:
        plots.append(_line(out_dir, "crl-peer", peer, "peer: openssl ca -gencrl"))
    return _draw(out_dir, "crl_build", [
        "set title 'Full CRL build time against revoked certificates (one thread, EC P-256 CA)'",
        "set xlabel 'revoked certificates'",
        "set ylabel 'seconds'",
        "set logscale xy",
        "set format x '%.0s%c'",
        "set key top left"], plots)


def write(records, out_dir):
    """Draws the plots the records allow into out_dir; returns the PNG paths (none without gnuplot)."""
    if not shutil.which("gnuplot"):
        return []
    return [p for p in (_throughput_plot(records, out_dir), _crl_plot(records, out_dir)) if p]
