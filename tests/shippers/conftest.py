"""Shared fixtures: a `stackfold serve` on a fresh data directory, and the binary itself.

The binary is `target/debug/stackfold` unless STACKFOLD_BIN says otherwise (tests/run builds
it first). Servers listen on 127.0.0.1 only, on a free port.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("STACKFOLD_BIN", ROOT / "target" / "debug" / "stackfold"))
FIXTURES = ROOT / "fixtures"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stackfold exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class Server:
    """A running `stackfold serve`, and how to ask its API."""

    def __init__(self, data, port, process):
        self.data, self.port, self.process = data, port, process
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path):
        with urllib.request.urlopen(f"{self.url}{path}") as answer:
            return json.load(answer)



def start_server(tmp_path, *extra):
    """`stackfold serve` on a fresh directory under `tmp_path`, with `extra` arguments."""
    config = tmp_path / "stackfold.toml"
    config.write_text("[tail]\nidle_ms = 300\n")
    port = free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [str(BINARY), "serve", "--data", str(data), "--tz", "UTC", "--config", str(config),
         "--listen", f"127.0.0.1:{port}", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(port, process)
    return Server(data, port, process)


def stop_server(server):
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0


@pytest.fixture
def server(tmp_path):
    running = start_server(tmp_path)
    yield running
    stop_server(running)


def wait_until(condition, describe, seconds=20):
    """Waits until `condition()` holds; fails with `describe()` after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not after {seconds} s: {describe()}")


def fold_groups(paths):
    """`stackfold fold --groups --json` of `paths`: fingerprint -> count."""
    out = subprocess.run([str(BINARY), "fold", "--tz", "UTC", "--groups", "--json", *map(str, paths)],
                         check=True, capture_output=True).stdout
    return {g["fingerprint"]: g["count"] for g in json.loads(out)}


def indexed_groups(server):
    """The server's exception groups: fingerprint -> count."""
    return {g["fingerprint"]: g["count"] for g in server.api("/api/exceptions?limit=10000")["groups"]}
