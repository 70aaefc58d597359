"""rsyslog (Debian's rsyslogd with rsyslog-elasticsearch) tailing logs with Java and Python
traces through `imfile`, without `startmsg.regex`, so every line is a message of its own, and
shipping them with `omelasticsearch` in bulk mode: stackfold folds the traces on the server
into the same events and groups `stackfold fold` finds in the files."""
import shutil
import signal
import subprocess

from conftest import (FIXTURES, fold_groups, free_port, indexed_groups, start_server,
                      stop_server, wait_until)

LOGS = [
    FIXTURES / "java" / "weberror_billing_pro_1.4.2_web01_20240301.log",
    FIXTURES / "java" / "weberror_billing_pro_1.4.3_web02_20240302.log",
    FIXTURES / "python" / "worker_billing_nor_1.4.2_job01_20240301.log",
]

# What README.md's "Sending logs from rsyslog" shows, with this test's paths.
CONFIG = """
global(workDirectory="{work}" parser.escapeControlCharactersOnReceive="off")
module(load="imfile")
module(load="omelasticsearch")
input(type="imfile" file="{logs}/*.log" tag="app" addMetadata="on")
template(name="stackfold" type="list" option.jsonf="on") {{
  property(outname="message" name="msg" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="log.file.path" name="$!metadata!filename" format="jsonf")
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
}}
action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" template="stackfold"
       searchIndex="logs" bulkmode="on" esVersion.major="8" errorFile="{work}/errors.json"
       action.resumeRetryCount="-1")
"""


def rsyslog(tmp_path, config):
    """Debian's rsyslogd in the foreground with `config`, its state under `tmp_path`."""
    path = tmp_path / "rsyslog.conf"
    path.write_text(config)
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    return subprocess.Popen([rsyslogd, "-n", "-f", str(path), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_fold_groups(server, logs):
    """Waits until the server's groups are those `fold` finds in `logs`."""
    expected = fold_groups(sorted(logs.iterdir()))
    assert sum(expected.values()) >= 5
    wait_until(lambda: indexed_groups(server) == expected,
               lambda: (indexed_groups(server), expected), seconds=60)


def test_rsyslog_ships_lines_and_stackfold_folds_the_traces(server, tmp_path):
    logs, work = tmp_path / "logs", tmp_path / "rsyslog"
    logs.mkdir()
    work.mkdir()
    for log in LOGS:
        shutil.copy(log, logs / log.name)
    process = rsyslog(tmp_path, CONFIG.format(work=work, logs=logs, port=server.port))
    try:
        wait_for_fold_groups(server, logs)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    # Every line in exactly one event, each file's events in order giving back the file (less
    # its blank lines: imfile sends no empty message).
    events = server.api("/api/search?q=*&limit=10000")["hits"]
    for log in sorted(logs.iterdir()):
        mine = sorted((e for e in events if e["source"] == str(log)), key=lambda e: e["line"])
        written = [line for line in log.read_text().splitlines() if line]
        assert "\n".join(e["text"] for e in mine).split("\n") == written, log.name
    assert not (work / "errors.json").exists()


# imfile again, one input per file (each its own program, so its own stream), forwarded with
# omfwd over TCP as RFC 5424, octet-counted: what README.md's "Syslog" section shows.
FORWARD = """
global(workDirectory="{work}" parser.escapeControlCharactersOnReceive="off")
module(load="imfile")
{inputs}
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
       tcp_framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1")
"""


def test_rsyslog_omfwd_to_the_syslog_listener(tmp_path):
    syslog_port = free_port()
    server = start_server(tmp_path, "--syslog-listen", f"tcp://127.0.0.1:{syslog_port}")
    logs, work = tmp_path / "logs", tmp_path / "rsyslog"
    logs.mkdir()
    work.mkdir()
    inputs = []
    for n, log in enumerate(LOGS):
        shutil.copy(log, logs / log.name)
        inputs.append(f'input(type="imfile" file="{logs / log.name}" tag="app{n}")')
    process = rsyslog(tmp_path, FORWARD.format(work=work, inputs="\n".join(inputs),
                                               port=syslog_port))
    try:
        wait_for_fold_groups(server, logs)
        # Each event is held as the syslog line(s) it came as, header and all.
        hits = server.api("/api/search?q=*&limit=10000&exceptions=true")["hits"]
        assert hits and all(h["text"].startswith("<") and h["format"] == "syslog5424" for h in hits)
        assert all("\n" in h["text"] for h in hits), "traces folded across messages"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        stop_server(server)
