"""syslog-ng (Debian's 3.38, unpacked by tests/setup) following log files with
`wildcard-file()` and shipping each line with the `elasticsearch-http()` destination: the
traces are folded on the server into the groups `stackfold fold` finds in the files."""
import glob
import os
import shutil
import signal
import subprocess

from conftest import FIXTURES, ROOT, fold_groups, indexed_groups, wait_until

SYSLOG_NG = ROOT / "target" / "syslog-ng"
LOGS = [
    FIXTURES / "java" / "weberror_billing_pro_1.4.2_web01_20240301.log",
    FIXTURES / "python" / "worker_billing_nor_1.4.2_job01_20240301.log",
]

# What README.md's "Sending logs from syslog-ng" shows, with this test's paths. One worker:
# a stream's lines must arrive in order to be folded (elasticsearch-http() has 4 by default).
CONFIG = """@version: 3.38
@include "{scl}"
options {{ keep-hostname(yes); }};
source s_logs {{ wildcard-file(base-dir("{logs}") filename-pattern("*.log") flags(no-parse)); }};
destination d_stackfold {{
  elasticsearch-http(url("{url}/_bulk") index("logs") type("") workers(1)
    template("$(format-json --scope rfc5424 --exclude DATE --key ISODATE --key FILE_NAME @timestamp=${{ISODATE}})"));
}};
log {{ source(s_logs); destination(d_stackfold); }};
"""


def test_syslog_ng_ships_lines_and_stackfold_folds_the_traces(server, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for log in LOGS:
        shutil.copy(log, logs / log.name)
    scl = SYSLOG_NG / "usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf"
    config = tmp_path / "syslog-ng.conf"
    config.write_text(CONFIG.format(scl=scl, logs=logs, url=server.url))
    modules = glob.glob(str(SYSLOG_NG / "usr/lib/syslog-ng/3.*"))[0]
    env = dict(os.environ, LD_LIBRARY_PATH=str(SYSLOG_NG / "usr/lib/syslog-ng"))
    process = subprocess.Popen(
        [str(SYSLOG_NG / "usr/sbin/syslog-ng"), "-F", "-f", str(config), f"--module-path={modules}",
         "-R", str(tmp_path / "persist"), "-c", str(tmp_path / "ctl"), "-p", str(tmp_path / "pid")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        expected = fold_groups(sorted(logs.iterdir()))
        assert sum(expected.values()) >= 5
        wait_until(lambda: indexed_groups(server) == expected,
                   lambda: (indexed_groups(server), expected), seconds=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    # Each file's events, in order, give back its lines (less the blank ones, which the file
    # source does not send).
    events = server.api("/api/search?q=*&limit=10000")["hits"]
    for log in sorted(logs.iterdir()):
        mine = sorted((e for e in events if e["source"] == str(log)), key=lambda e: e["line"])
        written = [line for line in log.read_text().splitlines() if line]
        assert [l for l in "\n".join(e["text"] for e in mine).split("\n") if l] == written, log.name
