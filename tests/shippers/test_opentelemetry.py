"""The OpenTelemetry Python SDK with its OTLP/HTTP (protobuf) exporter against stackfold
serve: `logger.exception()` records arrive as exception events, folded and grouped like a
Python traceback in a log file, with the resource's service, release, environment and host."""
import logging

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from conftest import indexed_groups, wait_until

# The SDK's own handler is what the exporter's documentation shows; its successor lives in a
# package of instrumentations this test does not need.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def charge(order):
    raise ValueError(f"card declined for order {order}")


def test_logger_exception_records_become_one_group(server):
    resource = Resource.create({"service.name": "billing", "service.version": "1.4.2",
                                "deployment.environment": "pro", "host.name": "web01"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs")))
    log = logging.getLogger("billing.payments")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
    for order in range(3):
        try:
            charge(order)
        except ValueError:
            log.exception("charge %d failed", order)
    log.info("all orders tried")
    provider.shutdown()

    wait_until(lambda: sum(indexed_groups(server).values()) == 3, lambda: indexed_groups(server))
    groups = server.api("/api/exceptions")["groups"]
    assert len(groups) == 1, groups
    group = groups[0]
    assert group["root_type"] == "ValueError"
    assert group["count"] == 3
    assert group["language"] == "python"
    assert group["top_frame"].endswith(".charge")
    assert [v["value"] for v in group["apps"]] == ["billing"]
    assert [v["value"] for v in group["tags"]] == ["1.4.2"]
    assert [v["value"] for v in group["envs"]] == ["pro"]
    wait_until(lambda: server.api("/api/search?q=*&limit=1")["total"] == 4,
               lambda: server.api("/api/search?q=*&limit=10"))
    info = server.api("/api/search?q=%22all%20orders%20tried%22")["hits"][0]
    assert info["level"] == "INFO" and info["logger"] == "billing.payments"
