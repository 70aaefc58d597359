"""The official Elasticsearch clients (Python 9.x, Node.js 9.x) against stackfold serve:
`info()`, `helpers.bulk` of log lines one document each, a retried bulk, and `create`
conflicts."""
import json
import subprocess
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from conftest import FIXTURES, fold_groups, indexed_groups, wait_until

LOG = FIXTURES / "java" / "weberror_billing_pro_1.4.3_web02_20240302.log"
NODE = Path(__file__).resolve().parent / "node"


def line_actions(path, op_type="index"):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        yield {
            "_op_type": op_type,
            "_index": "logs",
            "_id": f"{path.name}:{number}",
            "_source": {"message": line, "host": {"name": "web02"}, "log": {"file": {"path": str(path)}}},
        }


def test_info_is_elasticsearch_8(server):
    info = Elasticsearch(server.url).info()
    assert info["version"]["number"].startswith("8.")
    assert info["tagline"] == "You Know, for Search"


def test_bulk_lines_fold_into_the_groups_fold_finds(server):
    es = Elasticsearch(server.url)
    lines = len(LOG.read_text().splitlines())
    ok, errors = helpers.bulk(es, line_actions(LOG), chunk_size=7)
    assert (ok, errors) == (lines, [])
    expected = fold_groups([LOG])
    # Streams close their last event after idle_ms; then the groups are fold's, exactly.
    wait_until(lambda: indexed_groups(server) == expected, lambda: indexed_groups(server))
    # Every line is in exactly one event: the events in order give back the file.
    events = sorted(server.api("/api/search?q=*&limit=10000")["hits"], key=lambda e: e["line"])
    assert "\n".join(e["text"] for e in events) == LOG.read_text().rstrip("\n")

    # A retried bulk (its answer lost) stores nothing again.
    ok, errors = helpers.bulk(es, line_actions(LOG), chunk_size=50)
    assert (ok, errors) == (lines, [])
    # `create` of a known _id is a conflict, item by item.
    ok, errors = helpers.bulk(es, line_actions(LOG, "create"), raise_on_error=False)
    assert ok == 0 and len(errors) == lines
    assert {e["create"]["status"] for e in errors} == {409}
    assert errors[0]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert server.api("/api/search?q=*&limit=1")["total"] == len(events)


def test_node_client_bulk_lines_fold_into_the_groups_fold_finds(server):
    """The official Node.js client (9.x, tests/shippers/node): the same journey."""
    out = subprocess.run(["node", str(NODE / "es_client.mjs"), server.url, str(LOG)],
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out)
    lines = len(LOG.read_text().splitlines())
    assert summary["version"].startswith("8.")
    assert summary["first"] == {"successful": lines, "failed": 0}
    assert summary["again"] == {"successful": lines, "failed": 0}, "a retried bulk: noops"
    assert summary["conflicts"] == {"successful": 0, "failed": lines}, "create of known ids"
    expected = fold_groups([LOG])
    wait_until(lambda: indexed_groups(server) == expected, lambda: indexed_groups(server))
    events = sorted(server.api("/api/search?q=*&limit=10000")["hits"], key=lambda e: e["line"])
    assert "\n".join(e["text"] for e in events) == LOG.read_text().rstrip("\n")
