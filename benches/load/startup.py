#!/usr/bin/env python3
"""Time `marketsim serve` from exec to its "serving on" log line.

Usage: benches/load/startup.py BINARY [RUNS] [-- extra serve args]
Prints each run and the median, min and max in milliseconds. Each run
starts the server on 127.0.0.1 port 0 and stops it with SIGTERM.
"""
import os
import signal
import statistics
import subprocess
import sys
import time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "--" else 10
extra = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", *extra],
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "serving on" in line:
            times.append((time.perf_counter() - t0) * 1000)
            break
    else:
        sys.exit("serve exited before it was serving")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=15)
print("runs (ms):", " ".join(f"{t:.1f}" for t in times))
print(f"median {statistics.median(times):.1f} ms, min {min(times):.1f}, max {max(times):.1f}")
