#!/usr/bin/env python3
"""An edge (`stackfold ship`) shipping to a central (`stackfold serve`) on this machine, against
`stackfold index` of the same files, in the same run.

    benches/ship.py [SIZE_MB] [WORKDIR] [PROBES]   (defaults: 100 MB, /tmp/stackfold-ship, 30)

Generates plain logs with stackfold-gen, then
1. `stackfold index` of the files: wall time and CPU time (user + system);
2. `stackfold serve` on a new directory and `stackfold ship` of the same files to it: wall
   time from the edge's start until the central holds every event, and the CPU time of each
   process (the edge's, to compare with indexing: the aim is under 15 %);
3. write-to-searchable delay at the central: with the edge and central still running, PROBES
   lines appended one by one to a live file (a quiet file: each probe is closed by the idle
   timeout), each timed from just before its write until the central's search finds it
   (polled every 10 ms), the edge with its default settings.
Prints the figures and ratios; run with the release build (`cargo build --release`).
Uses only the Python standard library.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release"
SIZE_MB = int(sys.argv[1]) if len(sys.argv) > 1 else 100
WORK = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/stackfold-ship")
PROBES = int(sys.argv[3]) if len(sys.argv) > 3 else 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of(pid):
    """Waits for `pid`; returns its CPU seconds (user + system), children included."""
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def search_total(port, query):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/search?" + query)
    answer = conn.getresponse()
    return json.loads(answer.read())["total"] if answer.status == 200 else 0


def wait_listening(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def probe_delays(port, live):
    delays = []
    with open(live, "a") as f:
        for n in range(PROBES):
            time.sleep(random.uniform(1.0, 2.0))
            word = f"probe{n}x{random.randrange(1 << 30)}"
            started = time.time()
            f.write(f"2024-03-01 10:00:00,000 WARN  [main] com.acme.Probe - {word}\n")
            f.flush()
            while search_total(port, f"q={word}&limit=1") < 1:
                time.sleep(0.01)
            delays.append(time.time() - started)
    return delays


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    logs = WORK / "logs"
    subprocess.run([BIN / "stackfold-gen", "--out", logs, "--size-mb", str(SIZE_MB),
                    "--compress", "plain"], check=True, capture_output=True)
    files = sorted(p for p in logs.iterdir() if p.suffix == ".log")
    raw = sum(p.stat().st_size for p in files)
    mb = raw / 1e6
    # Old files: the tailer closes them (and their last events) as soon as they are read,
    # as `index` does.
    old = time.time() - 3600
    for p in files:
        os.utime(p, (old, old))

    started = time.time()
    index = subprocess.Popen([BIN / "stackfold", "index", "--data", WORK / "index-data", "--tz",
                              "UTC", "--json", *files], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    summary = index.stdout.read()
    index_cpu = cpu_of(index.pid)
    index_s = time.time() - started
    events = json.loads(summary)["events"]

    port = free_port()
    central = subprocess.Popen([BIN / "stackfold", "serve", "--data", WORK / "central",
                                "--tz", "UTC", "--listen", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    live = logs / "probe.log"
    live.write_text("")
    started = time.time()
    edge = subprocess.Popen([BIN / "stackfold", "ship", "--to", f"http://127.0.0.1:{port}",
                             "--state", WORK / "edge-state", "--host-name", "bench", "--tz",
                             "UTC", logs], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while search_total(port, "q=*&limit=1") < events:
        time.sleep(0.05)
    ship_s = time.time() - started
    delays = probe_delays(port, live)
    edge.send_signal(signal.SIGTERM)
    edge_cpu = cpu_of(edge.pid)
    central.send_signal(signal.SIGTERM)
    central_cpu = cpu_of(central.pid)

    delays.sort()
    ms = lambda s: s * 1e3  # noqa: E731
    print(f"corpus: {mb:.0f} MB, {len(files)} files, {events} events")
    print(f"stackfold index:        {index_s:6.1f} s  {mb / index_s:6.1f} MB/s   CPU {index_cpu:6.1f} s"
          f" ({index_cpu / mb * 1e3:.1f} ms/MB)")
    print(f"ship -> serve:          {ship_s:6.1f} s  {mb / ship_s:6.1f} MB/s"
          f"   (throughput {index_s / ship_s:.2f}x index)")
    print(f"edge CPU:               {edge_cpu:6.1f} s ({edge_cpu / mb * 1e3:.1f} ms/MB) ="
          f" {edge_cpu / index_cpu * 100:.0f} % of indexing; central CPU {central_cpu:.1f} s"
          f" (both include the {PROBES} probes)")
    print(f"write-to-searchable at the central, {PROBES} probes: median {ms(statistics.median(delays)):.0f} ms,"
          f" p90 {ms(delays[int(0.9 * (len(delays) - 1))]):.0f} ms, max {ms(delays[-1]):.0f} ms")


if __name__ == "__main__":
    main()
