"""`stackfold run` follows files and takes shipped logs into one index: a log file it tails
and another file's lines sent through the Elasticsearch client end up as the groups `fold`
finds in both files."""
import shutil
import signal
import subprocess

from elasticsearch import Elasticsearch, helpers

from conftest import (BINARY, FIXTURES, Server, fold_groups, free_port, indexed_groups,
                      wait_for_port, wait_until)

TAILED = FIXTURES / "java" / "weberror_billing_pro_1.4.2_web01_20240301.log"
SHIPPED = FIXTURES / "python" / "worker_billing_nor_1.4.2_job01_20240301.log"


def test_run_tails_files_and_takes_bulks_into_one_index(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(TAILED, logs / TAILED.name)
    port = free_port()
    config = tmp_path / "stackfold.toml"
    config.write_text(f"""
[input]
paths = ["logs"]
timezone = "UTC"
[index]
data = "data"
[tail]
idle_ms = 300
[server]
listen = "127.0.0.1:{port}"
""")
    process = subprocess.Popen([str(BINARY), "run", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(port, process)
    server = Server(tmp_path / "data", port, process)
    actions = ({"_index": "logs", "_id": f"{n}",
                "_source": {"message": line, "host": {"name": "job01"},
                            "log": {"file": {"path": str(SHIPPED)}}}}
               for n, line in enumerate(SHIPPED.read_text().splitlines(), start=1))
    ok, errors = helpers.bulk(Elasticsearch(server.url), actions)
    assert errors == []
    expected = fold_groups([TAILED, SHIPPED])
    wait_until(lambda: indexed_groups(server) == expected,
               lambda: (indexed_groups(server), expected))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
