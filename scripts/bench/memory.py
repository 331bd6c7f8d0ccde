#!/usr/bin/env python3
"""RSS of a real `qrsd serve` through a simulated 4-hour procedure, run faster than real time.

Starts `qrsd serve` with the in-process simulator at --speed (default 100, the server's maximum) and
recording on, samples VmRSS/VmHWM from /proc/PID/status every --every seconds until --hours of signal
have gone through the live pipeline (frames from GET /api/v1/source), and on the way runs a procedure:
a baseline and then one site measurement every --measure-every minutes of signal (BiV pacing at a QRSd
that changes per site, through PUT /api/v1/source/sim). Prints the RSS curve (per half hour of signal), the max
RSS and VmHWM, the number of measurements completed and the frame count against the expected one.
Target (shared/PRODUCT.md): < 100 MB RSS through a 4-hour procedure.

Usage:
    cargo build --release -p qrsd
    python3 scripts/bench/memory.py [--qrsd target/release/qrsd] [--hours 4] [--speed 100] [--json]

Standard library only. Exits non-zero if the server dies or max RSS >= --limit-mb (default 100).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def http(base, method, path, body=None, timeout=20):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def rss_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qrsd", default="target/release/qrsd")
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--speed", type=float, default=100.0)
    ap.add_argument("--every", type=float, default=2.0, help="RSS sampling period, s (wall)")
    ap.add_argument("--measure-every", type=float, default=10.0, help="minutes of signal between measurements")
    ap.add_argument("--limit-mb", type=float, default=100.0)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    data = tempfile.mkdtemp(prefix="qrsd-mem-")
    cmd = [a.qrsd, "serve", "--port", "0", "--sim-speed", str(a.speed), "--data", data]
    if a.no_record:
        cmd.append("--no-record")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "RUST_LOG": "warn"})
    try:
        line = proc.stdout.readline().strip()
        base = line.removeprefix("listening on ")
        assert base.startswith("http://"), line
        _, src = http(base, "GET", "/api/v1/source")
        fs = src.get("fs_hz") or 1000.0
        target = a.hours * 3600 * fs
        _, p = http(base, "POST", "/api/v1/procedures", {"case_id": "MEM-4H"})
        pid_proc = p["id"]
        _, b = http(base, "POST", f"/api/v1/procedures/{pid_proc}/baseline")
        pending = [b.get("id")]
        done, started, site_n = [], 1, 0
        next_measure = a.measure_every * 60 * fs
        samples = []  # (signal_h, rss_mb, wall_s)
        t0 = time.time()
        frames = 0
        while frames < target:
            if proc.poll() is not None:
                print(f"qrsd serve exited with {proc.returncode}", file=sys.stderr)
                return 2
            _, src = http(base, "GET", "/api/v1/source")
            frames = src.get("frames", 0)
            r = rss_kb(proc.pid)
            samples.append((frames / fs / 3600, r["VmRSS"] / 1024, time.time() - t0, r["VmHWM"] / 1024))
            # Finished measurements.
            for mid in list(pending):
                if mid is None:
                    pending.remove(mid)
                    continue
                _, m = http(base, "GET", f"/api/v1/measurements/{mid}")
                if m.get("status") != "collecting":
                    done.append(m.get("status"))
                    pending.remove(mid)
            if not pending and frames >= next_measure:
                site_n += 1
                http(base, "PUT", "/api/v1/source/sim", {"rhythm": "biv", "qrsd_ms": 120 + (site_n % 5) * 5})
                _, s = http(base, "POST", f"/api/v1/procedures/{pid_proc}/sites",
                            {"vein": "lateral", "segment": "mid", "label": f"site {site_n}"})
                _, m = http(base, "POST", f"/api/v1/procedures/{pid_proc}/sites/{s.get('id')}/measurements")
                pending.append(m.get("id"))
                started += 1
                next_measure = frames + a.measure_every * 60 * fs
            time.sleep(a.every)
        wall = time.time() - t0
        _, health = http(base, "GET", "/healthz")
        _, src = http(base, "GET", "/api/v1/source")
    finally:
        proc.kill()
        proc.wait()
        rec_bytes = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs_ in os.walk(data) for f in fs_)
        shutil.rmtree(data, ignore_errors=True)

    max_rss = max(s[1] for s in samples)
    hwm = max(s[3] for s in samples)
    curve = []
    step = 0.5
    h = 0.0
    while h <= a.hours + 1e-9:
        near = [s for s in samples if s[0] <= h + 1e-9]
        if near:
            curve.append((h, near[-1][1]))
        h += step
    expected = src.get("next_sample", 0)
    res = {
        "hours_signal": frames / fs / 3600, "wall_s": wall, "speed": a.speed,
        "max_rss_mb": max_rss, "vm_hwm_mb": hwm, "first_rss_mb": samples[0][1], "last_rss_mb": samples[-1][1],
        "curve": curve, "measurements_started": started, "measurements_finished": done,
        "frames": src.get("frames"), "next_sample": expected, "missing_frames": src.get("missing_frames"),
        "overrun_frames": src.get("overrun_frames"), "gaps": src.get("gaps"),
        "data_dir_bytes": rec_bytes, "healthz": health,
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"qrsd serve, simulator at {a.speed}x, {res['hours_signal']:.2f} h of signal in {wall:.0f} s wall "
              f"(load average {' '.join(res['loadavg'])})")
        print("signal h | RSS MB")
        for h, m in curve:
            print(f"{h:8.1f} | {m:6.1f}")
        print(f"max RSS {max_rss:.1f} MB, VmHWM {hwm:.1f} MB (first sample {samples[0][1]:.1f} MB)")
        print(f"measurements: {started} started, finished: {dict((s, done.count(s)) for s in set(done))}")
        print(f"frames {res['frames']}, overrun {res['overrun_frames']}, missing {res['missing_frames']}, "
              f"gaps {res['gaps']}; data folder {rec_bytes / 1e6:.0f} MB")
    return 0 if max_rss < a.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
