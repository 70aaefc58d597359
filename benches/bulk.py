#!/usr/bin/env python3
"""Throughput of Elasticsearch `_bulk` ingest against `stackfold index`, same lines, same run.

    benches/bulk.py [SIZE_MB] [WORKDIR] [CONNECTIONS]   (defaults: 100 MB, /tmp/stackfold-bulk, 2)

Generates plain logs with stackfold-gen, then
1. `stackfold index` of the files: wall time;
2. `stackfold serve` on a new directory, and CONNECTIONS connections sending the same lines as
   pre-built bulk bodies, one document per line (a shipper without multiline configuration),
   `_id` per line, 1,000 documents per request, each file's lines in order on one connection
   (as one shipper per host sends them): wall time from the first request until every
   request is acknowledged and the last events (closed after idle_ms) are searchable.
Prints lines/s, MB/s and the ratio; run with the release build (`cargo build --release`).
Uses only the Python standard library.
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release"
SIZE_MB = int(sys.argv[1]) if len(sys.argv) > 1 else 100
WORK = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/stackfold-bulk")
DOCS_PER_BULK = 1000
CONNECTIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(files):
    """Pre-built bulk bodies: each file's lines in order, one document each."""
    out, docs = [], []
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            action = json.dumps({"index": {"_index": "logs", "_id": f"{path.name}:{n}"}})
            doc = json.dumps({"message": line, "host": {"name": "bench"},
                              "log": {"file": {"path": str(path)}}})
            docs.append(f"{action}\n{doc}\n")
            if len(docs) == DOCS_PER_BULK:
                out.append("".join(docs).encode())
                docs = []
    if docs:
        out.append("".join(docs).encode())
    return out


def send(port, queue):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for body in queue:
        while True:
            conn.request("POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})
            answer = conn.getresponse()
            payload = answer.read()
            if answer.status == 200 and not json.loads(payload)["errors"]:
                break
            time.sleep(0.05)  # 429: back off and send it again


def total(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/search?q=*&limit=1")
    return json.loads(conn.getresponse().read())["total"]


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    subprocess.run([BIN / "stackfold-gen", "--out", WORK / "logs", "--size-mb", str(SIZE_MB),
                    "--compress", "plain"], check=True, capture_output=True)
    files = sorted(p for p in (WORK / "logs").iterdir() if p.suffix == ".log")
    raw = sum(p.stat().st_size for p in files)
    lines = sum(len(p.read_text().splitlines()) for p in files)

    started = time.time()
    summary = subprocess.run([BIN / "stackfold", "index", "--data", WORK / "index-data", "--tz",
                              "UTC", "--json", *files], check=True, capture_output=True).stdout
    index_s = time.time() - started
    events = json.loads(summary)["events"]

    # A stream's documents must arrive in order: each connection sends its own files.
    queues = [bodies(files[i::CONNECTIONS]) for i in range(CONNECTIONS)]
    requests = sum(len(q) for q in queues)
    port = free_port()
    config = WORK / "stackfold.toml"
    config.write_text("[tail]\nidle_ms = 500\n")
    server = subprocess.Popen([BIN / "stackfold", "serve", "--data", WORK / "bulk-data", "--tz",
                               "UTC", "--config", config, "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    started = time.time()
    senders = [threading.Thread(target=send, args=(port, queue)) for queue in queues]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    acknowledged_s = time.time() - started
    while total(port) < events:
        time.sleep(0.05)
    bulk_s = time.time() - started
    bulk_events = total(port)
    server.terminate()
    server.wait()

    mb = raw / 1e6
    print(f"corpus: {mb:.0f} MB, {lines} lines in {len(files)} files, {events} events; "
          f"{requests} bulk requests of {DOCS_PER_BULK} lines, {CONNECTIONS} connections")
    print(f"stackfold index:  {index_s:6.1f} s  {mb / index_s:6.1f} MB/s  {lines / index_s:9.0f} lines/s")
    print(f"_bulk (serve):    {bulk_s:6.1f} s  {mb / bulk_s:6.1f} MB/s  {lines / bulk_s:9.0f} lines/s"
          f"  (all acknowledged after {acknowledged_s:.1f} s; {bulk_events} events)")
    print(f"_bulk / index throughput: {index_s / bulk_s:.2f}")


if __name__ == "__main__":
    main()
