"""schemathesis against the server's own OpenAPI description (hardening): every operation,
generated valid and invalid requests, all checks (no 5xx, answers match the schemas, invalid
requests refused, credentials required where the description says), with and without a
users file. Bounded: a fixed seed and a few examples per operation, a few minutes in all.
"""
import subprocess
import sys
from pathlib import Path

from conftest import BINARY, FIXTURES, start_server, stop_server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def indexed_server(tmp_path, *extra):
    data = tmp_path / "data"
    subprocess.run([str(BINARY), "index", "--data", str(data), "--tz", "UTC",
                    str(FIXTURES / "java"), str(FIXTURES / "python"), str(FIXTURES / "go")],
                   check=True, capture_output=True)
    return start_server(tmp_path, *extra)


def schemathesis(server, *extra):
    run = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{server.url}/api/openapi.json",
         "--checks", "all", "--max-examples", "10", "--seed", "1", "--no-color",
         # A live stream never ends: it is no request-response operation to fuzz
         # (tests/ingest.rs and the browser test cover it).
         "--exclude-path", "/api/live", "--request-timeout", "30", *extra],
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_without_users_every_answer_matches_the_description(tmp_path):
    server = indexed_server(tmp_path)
    try:
        schemathesis(server)
    finally:
        stop_server(server)


def test_with_users_credentials_are_required_and_checked(tmp_path):
    line = subprocess.run([str(BINARY), "passwd", "reader"], input="s3cret\n",
                          capture_output=True, text=True, check=True).stdout
    users = tmp_path / "users"
    users.write_text(line)
    server = indexed_server(tmp_path, "--basic-auth-file", str(users))
    try:
        schemathesis(server, "--auth", "reader:s3cret")
    finally:
        stop_server(server)
