#!/usr/bin/env python3
"""Write a long WFDB record by repeating a short one, to measure `qrsd analyze` on day-long recordings.

  python3 scripts/bench/tile_record.py ../shared/data/ludb/data/1 24 /tmp/long
  /usr/bin/time -v ./target/release/qrsd analyze /tmp/long/long.hea --json > /dev/null

The source must be a single-file format-16 record (every LUDB record is). Its data file is copied
whole `n` times, enough for HOURS of signal; the header keeps the source's signal lines with the new
file name (their checksums are left as they were: qrsd does not verify them). Each join is a jump in
the signal, as at the joins of `long_concat`.
"""
import os
import sys


def main():
    src, hours, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    lines = [l.rstrip("\n") for l in open(src + ".hea") if l.strip() and not l.startswith("#")]
    name, n_sig, fs, n = lines[0].split()[:4]
    fs_hz = float(fs.split("/")[0])
    n = int(n)
    reps = max(1, round(hours * 3600 * fs_hz / n))
    data = open(src + ".dat", "rb").read()
    if any(l.split()[1].split("x")[0].split(":")[0] != "16" for l in lines[1:]):
        sys.exit("only format-16 records can be tiled")
    if len(data) != n * int(n_sig) * 2:
        sys.exit("unexpected data file size")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "long.dat"), "wb") as f:
        for _ in range(reps):
            f.write(data)
    with open(os.path.join(out, "long.hea"), "w") as f:
        f.write(f"long {n_sig} {fs} {n * reps}\n")
        for l in lines[1:]:
            f.write("long.dat " + l.split(maxsplit=1)[1] + "\n")
    print(f"{out}/long.hea: {n_sig} signals, {fs_hz:g} Hz, {n * reps} samples per signal "
          f"({n * reps / fs_hz / 3600:.2f} h)")


if __name__ == "__main__":
    main()
