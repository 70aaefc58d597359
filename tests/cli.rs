//! The `stackfold fold` command as users run it: exit codes, stderr reports, the NDJSON and
//! group contracts.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fold(args: &[&str]) -> Output {
    Command::new(common::binary())
        .arg("fold")
        .args(["--tz", "UTC"])
        .args(args)
        .output()
        .expect("running stackfold")
}

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a JSON object"))
        .collect()
}

fn mkfifo(path: &Path) -> std::path::PathBuf {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success());
    path.to_path_buf()
}

/// Writes the fixture `rel` into `path` (a FIFO: opening it waits for a reader).
fn write_fixture(path: &Path, rel: &str) {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
}

fn fixture(rel: &str) -> String {
    common::fixtures().join(rel).display().to_string()
}

#[test]
fn ndjson_events_carry_the_documented_fields() {
    let out = fold(&[&fixture(
        "java/weberror_billing_pro_1.4.2_web01_20240301.log",
    )]);
    assert!(out.status.success());
    let events = events(&out);
    assert_eq!(events.len(), 6);
    let e = &events[1];
    for key in [
        "ts", "level", "logger", "thread", "message", "source", "line", "meta",
    ] {
        assert!(e.get(key).is_some(), "missing {key}: {e}");
    }
    assert_eq!(e["ts"], "2024-03-01T10:00:00.123Z");
    assert_eq!(e["level"], "ERROR");
    assert_eq!(e["line"], 2);
    assert_eq!(e["meta"]["app"], "billing");
    let x = &e["exception"];
    for key in ["language", "chain", "root_type", "fingerprint", "explain"] {
        assert!(x.get(key).is_some(), "missing exception.{key}");
    }
    let frame = &x["chain"][1]["frames"][0];
    for key in ["module", "function", "file", "line", "in_app"] {
        assert!(frame.get(key).is_some(), "missing frame.{key}");
    }
    assert_eq!(x["root_type"], "java.lang.IllegalStateException");
    assert!(x["fingerprint"].as_str().unwrap().len() == 32);
}

#[test]
fn groups_as_json() {
    let out = fold(&["--groups", "--json", &fixture("java")]);
    assert!(out.status.success());
    let groups: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for g in &groups {
        for key in [
            "fingerprint",
            "count",
            "root_type",
            "first_seen",
            "last_seen",
        ] {
            assert!(g.get(key).is_some(), "missing {key}: {g}");
        }
    }
    common::assert_most_frequent_first(&groups);
    let top = &groups[0];
    assert_eq!(top["root_type"], "java.lang.IllegalStateException");
    assert_eq!(top["count"], 4, "twice in each of the two releases");
    assert_eq!(top["first_seen"], "2024-03-01T10:00:00.123Z");
    assert_eq!(top["last_seen"], "2024-03-02T10:01:00.123Z");
}

#[test]
fn groups_as_text() {
    let out = fold(&[
        "--groups",
        &fixture("python/worker_billing_nor_1.4.2_job01_20240301.log"),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    // Grouped by root cause: the connection error under the PaymentError.
    assert!(
        text.contains("requests.exceptions.ConnectionError"),
        "{text}"
    );
    assert!(text.contains("at billing.payments.charge"), "{text}");
    assert!(text.contains("KeyError"), "{text}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn corrupt_and_truncated_files_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture(
        "java/weberror_billing_pro_1.4.2_web01_20240301.log",
    ))
    .unwrap();
    let zst = std::fs::read(fixture(
        "compressed/weberror_billing_pro_1.4.2_web01_20240301.log.zst",
    ))
    .unwrap();
    let mut gz = std::fs::read(fixture(
        "compressed/weberror_billing_pro_1.4.2_web01_20240301.log.gz",
    ))
    .unwrap();
    let n = gz.len();
    gz[n / 2..n / 2 + 16].fill(0);
    write(dir.path(), "a_good.log", &good);
    write(dir.path(), "b_corrupt.log.gz", &gz);
    write(dir.path(), "c_truncated.log.zst", &zst[..zst.len() / 2]);
    write(dir.path(), "d_good.log.zst", &zst);
    let out = fold(&[&dir.path().display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit 0 when some input was read: {stderr}"
    );
    assert!(stderr.contains("b_corrupt.log.gz: gzip:"), "{stderr}");
    assert!(stderr.contains("c_truncated.log.zst: zstd:"), "{stderr}");
    assert!(stderr.contains("at decoded byte"), "{stderr}");
    assert!(stderr.contains("4 files (2 failed"), "{stderr}");
    let events = events(&out);
    let from = |name: &str| {
        events
            .iter()
            .filter(|e| e["source"].as_str().unwrap().ends_with(name))
            .count()
    };
    assert_eq!(from("a_good.log"), 6);
    assert_eq!(from("d_good.log.zst"), 6);
}

#[test]
fn no_readable_input_is_a_failure() {
    let out = fold(&["/nonexistent/stackfold/input.log"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/stackfold/input.log: no such file"),
        "{stderr}"
    );
}

#[test]
fn standard_input_is_sniffed_too() {
    let zst = std::fs::read(fixture(
        "compressed/weberror_billing_pro_1.4.2_web01_20240301.log.zst",
    ))
    .unwrap();
    let mut child = Command::new(common::binary())
        .args(["fold", "--tz", "UTC", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&zst).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let events = events(&out);
    assert_eq!(events.len(), 6);
    assert_eq!(events[0]["source"], "-");
}

#[test]
fn config_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "stackfold.toml",
        b"[fold]\nmax_event_lines = 10\nmax_lnes = 2\n",
    );
    let out = fold(&["--config", &config, &fixture("go")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("max_lnes"),
        "{stderr}"
    );
}

/// Issue 15: a bad `[[alerts]]` rule is a config error naming its line, whatever is wrong.
#[test]
fn alert_rule_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let head = "[fold]\nmax_event_lines = 10\n\n[[alerts]]\nname = \"x\"\n";
    for (rule, says) in [
        (
            "when = \"sometimes\"\nwebhook = \"http://127.0.0.1:1/h\"\n",
            "sometimes",
        ),
        (
            "when = \"new\"\nwebhook = \"ftp://hooks/h\"\n",
            "not an http",
        ),
        (
            "when = \"new\"\nwebhook = \"not a url at all\"\n",
            "webhook",
        ),
        (
            "when = \"spike\"\nwindow = \"5 minutes\"\nwebhook = \"http://h/\"\n",
            "not a period",
        ),
        ("when = \"new\"\n", "webhook"),
        (
            "of = \"patterns\"\nwhen = \"regression\"\nwebhook = \"http://h/\"\n",
            "patterns",
        ),
        (
            "of = \"lines\"\nwhen = \"new\"\nwebhook = \"http://h/\"\n",
            "lines",
        ),
    ] {
        let text = format!("{head}{rule}");
        let config = write(dir.path(), "stackfold.toml", text.as_bytes());
        let out = fold(&["--config", &config, &fixture("go")]);
        assert_eq!(out.status.code(), Some(2), "{rule}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = (4..=7).any(|n| stderr.contains(&format!("line {n}")));
        assert!(line && stderr.contains(says), "{rule}: {stderr}");
    }
}

#[test]
fn run_refuses_a_config_it_cannot_follow_with_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |text: &str| {
        let config = write(dir.path(), "stackfold.toml", text.as_bytes());
        let out = std::process::Command::new(common::binary())
            .args(["run", "--config", &config])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let base = "[input]\npaths = [\"logs\"]\n[index]\ndata = \"data\"\n";
    let err = run(&format!(
        "{base}[tail]\ncommit_interval_ms = 500\npoll = 3\n"
    ));
    assert!(err.contains("line 7") && err.contains("poll"), "{err}");
    let err = run(&format!(
        "{base}[server]\nlisten = \"127.0.0.1:0\"\nusers = \"x\"\n"
    ));
    assert!(err.contains("line 7") && err.contains("users"), "{err}");
    let err = run("[index]\ndata = \"data\"\n");
    assert!(err.contains("[input] paths"), "{err}");
    let err = run("[input]\npaths = [\"logs\"]\n");
    assert!(err.contains("[index] data"), "{err}");
    let err = run(&format!("{base}retention = \"forever\"\n"));
    assert!(err.contains("retention"), "{err}");
    let err = run(&format!("{base}[tail]\nidle_ms = 0\n"));
    assert!(err.contains("idle_ms"), "{err}");
}

/// Hardening finding 12: a link loop is reported as one, not as a missing file; a FIFO (what
/// `<(cmd)` gives) is read as a stream, as standard input is, instead of failing with
/// "Illegal seek".
#[test]
fn link_loops_say_so_and_fifos_are_streams() {
    let dir = tempfile::tempdir().unwrap();
    let looped = dir.path().join("loop.log");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let out = fold(&[looped.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("symbolic links") && !stderr.contains("no such file"),
        "{stderr}"
    );

    let fifo = mkfifo(&dir.path().join("pipe.log"));
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            write_fixture(
                &fifo,
                "compressed/weberror_billing_pro_1.4.2_web01_20240301.log.zst",
            );
        })
    };
    let out = fold(&[fifo.to_str().unwrap()]);
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        events, 6,
        "the zstd stream through the FIFO, decoded: {stderr}"
    );
}

/// Kubernetes' `/var/log/containers` holds only links to the files under `/var/log/pods`:
/// `index` on it read nothing and said "0 files". A linked file is read, and once when the
/// directory it is in is given as well.
#[test]
fn a_directory_of_links_is_indexed_once_with_what_it_links_to() {
    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods/web");
    let containers = dir.path().join("containers");
    std::fs::create_dir_all(&pods).unwrap();
    std::fs::create_dir_all(&containers).unwrap();
    std::fs::copy(
        common::fixtures().join("java/kafka-state-change-2.2.2.log"),
        pods.join("0.log"),
    )
    .unwrap();
    std::os::unix::fs::symlink(pods.join("0.log"), containers.join("web.log")).unwrap();
    let index = |data: &Path, inputs: &[&Path]| -> serde_json::Value {
        let mut args = vec!["index", "--data", data.to_str().unwrap(), "--json"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        let out = common::stackfold(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let alone = index(&dir.path().join("alone"), &[&pods]);
    assert!(alone["events"].as_u64().unwrap() > 0);
    let linked = index(&dir.path().join("linked"), &[&containers]);
    assert_eq!(linked["events"], alone["events"], "{linked}");
    let both = index(&dir.path().join("both"), &[&containers, &pods]);
    assert_eq!(both["files"], 1, "{both}");
    assert_eq!(both["events"], alone["events"], "{both}");
}

/// Hardening finding 12: a FIFO nobody writes to hung `fold` without a word (opening it
/// blocks). stackfold now says it waits for a writer, and reads once one comes.
#[test]
fn a_fifo_without_a_writer_says_so_and_is_read_once_one_comes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(&dir.path().join("quiet.log"));
    let mut child = Command::new(common::binary())
        .args(["fold", "--tz", "UTC"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said, heard) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = said.send(line);
        }
    });
    let first = heard
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("stackfold says why it waits");
    assert!(
        first.contains("quiet.log is a FIFO without a writer: waiting"),
        "{first}"
    );
    write_fixture(&fifo, "java/weberror_billing_pro_1.4.2_web01_20240301.log");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
}

/// Issue 14, class 8: `[fold] event_start` starts events in a layout nothing recognises.
#[test]
fn a_user_pattern_starts_events_in_an_unknown_layout() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("batch.log");
    std::fs::write(
        &log,
        "### job 1 begins\nreading input\nERROR the job failed\n\
         java.lang.IllegalStateException: boom\n\tat com.acme.Job.run(Job.java:12)\n\
         ### job 2 begins\nall fine\n",
    )
    .unwrap();
    let count = |config: &str| {
        let path = dir.path().join("stackfold.toml");
        std::fs::write(&path, config).unwrap();
        let out = fold(&["--config", path.to_str().unwrap(), log.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        events(&out)
            .iter()
            .map(|e| e["lines"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(""),
        [1, 1, 3, 1, 1],
        "nothing recognised, lines stand alone"
    );
    assert_eq!(count("[fold]\nevent_start = \"^### \"\n"), [5, 2]);
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[fold]\nevent_start = \"(\"\n").unwrap();
    let out = fold(&["--config", path.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("event_start"));
}

/// Hardening finding 4: a plain file truncated while it was read (a copytruncate rotation
/// during `fold` or `index`) killed the process with SIGBUS, nothing printed, because it was
/// memory-mapped. Read instead, it just ends where the truncation cut it.
#[test]
fn a_file_truncated_while_it_is_read_ends_early_without_killing_the_reader() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let lines = 600_000;
    let mut text = String::with_capacity(lines * 80);
    for n in 0..lines {
        text.push_str(&format!(
            "2024-03-01 10:00:00,000 INFO  [main] com.acme.App - handled request {n}\n"
        ));
    }
    std::fs::write(&path, &text).unwrap();
    let out = std::fs::File::create(dir.path().join("events.ndjson")).unwrap();
    let mut fold = Command::new(common::binary())
        .arg("fold")
        .arg(&path)
        .stdout(Stdio::from(out))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let status = fold.wait().unwrap();
    assert_eq!(status.signal(), None, "killed by a signal: {status}");
    let events = std::fs::read_to_string(dir.path().join("events.ndjson")).unwrap();
    let read = events.lines().count();
    assert!(
        read < lines,
        "the truncation came after the whole file was read ({read} events): the test proves nothing"
    );
}

/// Hardening finding 8: random bytes written into a segment's `.fast` file went unnoticed
/// and 12,500 events came back with wrong ids. `stackfold check` verifies every file's
/// checksum and names the damaged ones.
#[test]
fn check_finds_a_damaged_segment_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let java = fixture("java");
    common::stackfold(&["index", "--data", data.to_str().unwrap(), &java]);
    let check = |data: &Path| {
        Command::new(common::binary())
            .args(["check", "--data"])
            .arg(data)
            .output()
            .unwrap()
    };
    let sound = check(&data);
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stderr)
    );
    let fast = std::fs::read_dir(data.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "fast"))
        .expect("a segment with fast fields");
    let mut bytes = std::fs::read(&fast).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&fast, bytes).unwrap();
    let damaged = check(&data);
    assert_eq!(damaged.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    let name = fast.file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains(&*name) && stderr.contains("checksum mismatch"),
        "{stderr}"
    );
}

/// A log of `lines` events under `dir`: with a fixture, more than the 1 MiB of text a commit
/// keeps in chunks (see src/index/writer.rs).
fn log_of_lines(dir: &Path, lines: usize) -> String {
    let path = dir.join("app_billing_prd_1.0_web01_20240301.log");
    let text: String = (0..lines)
        .map(|n| {
            let (h, m, s) = (n / 3600, n / 60 % 60, n % 60);
            format!("2024-03-01 {h:02}:{m:02}:{s:02},000 INFO [main] c.a.B - event {n} of many\n")
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The events' texts are in `DIR/texts` (see src/index/texts.rs): with them gone, `check`
/// says how many events lost theirs and fails.
#[test]
fn check_finds_events_whose_text_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = log_of_lines(dir.path(), 20_000);
    let summary = common::stackfold(&[
        "index",
        "--data",
        data.to_str().unwrap(),
        "--json",
        &fixture("java"),
        &log,
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    std::fs::remove_dir_all(data.join("texts")).unwrap();
    let out = Command::new(common::binary())
        .args(["check", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events = summary["events"].as_u64().unwrap();
    assert!(
        stderr.contains(&format!(
            "{events} events name chunks of text that are not there"
        )),
        "{stderr}"
    );
}

/// `check --space` says where the disk goes: per field and part, then the stored events and
/// the whole index, in bytes.
#[test]
fn check_space_shows_the_bytes_of_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = log_of_lines(dir.path(), 20_000);
    common::stackfold(&[
        "index",
        "--data",
        data.to_str().unwrap(),
        &fixture("java"),
        &log,
    ]);
    let out = common::stackfold(&["check", "--data", data.to_str().unwrap(), "--space"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    // The events' index, then the frame blocks' (see src/index/blocks.rs).
    let (table, blocks) = printed.split_once("\n\n").expect("two tables");
    assert!(
        blocks.starts_with("frame blocks, indexed once (") && blocks.contains("\nbody "),
        "{printed}"
    );
    // Then the events' texts (see src/index/texts.rs): a column of chunk numbers, and the
    // chunks stored.
    let texts = printed.split("\n\n").nth(2).expect("three tables");
    assert!(
        texts.starts_with("events' texts, in chunks (")
            && texts.contains("\nchunk ")
            && texts.contains("\nstored events "),
        "{printed}"
    );
    let numbers = |label: &str| -> Vec<u64> {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{label} ")))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"));
        line[label.len()..]
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    // postings, positions, term dictionary, column, norms, total
    let body = numbers("body");
    assert!(body[0] > 0 && body[1] > 0 && body[3] == 0, "{table}");
    let ts = numbers("ts");
    assert!(
        ts[0] == 0 && ts[3] > 0,
        "the time is a column only: {table}"
    );
    let stored = numbers("stored events")[0];
    let index = numbers("index")[0];
    let fields: u64 = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(6)?.parse::<u64>().ok())
        .sum();
    assert!(stored > 0 && fields + stored <= index, "{table}");
    assert!(fields + stored > index / 2, "{table}");
}

/// Hardening finding 12: on a full disk `index` exited 2 (README keeps 2 for usage, config
/// and query errors), and a re-run on the still-full disk said only that "an index writer
/// was killed". Both now exit 1 and say the disk is full. The disk is a 300 KiB tmpfs in a
/// mount namespace of the test's own (`unshare`, from util-linux; no root needed).
#[test]
fn a_full_disk_is_said_and_exits_1() {
    let mount = tempfile::tempdir().unwrap();
    let data = mount.path().join("data");
    let script = format!(
        "mount -t tmpfs -o size=300k tmpfs {mount} && for run in 1 2; do {bin} index --data {data} {fixtures} >/dev/null 2>>{mount}/../stderr-$$; echo \"exit $?\"; cat {mount}/../stderr-$$; rm -f {mount}/../stderr-$$; done",
        mount = mount.path().display(),
        bin = common::binary().display(),
        data = data.display(),
        fixtures = common::fixtures().display(),
    );
    let out = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    let runs: Vec<&str> = text.split("exit ").skip(1).collect();
    assert_eq!(
        runs.len(),
        2,
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for run in runs {
        assert!(run.starts_with('1'), "exit code 1: {run}");
        assert!(run.contains("the disk is full"), "{run}");
    }
}

/// Issue 18: a kind of line has the same pattern id in every file and run, whatever order
/// the lines come in; events with a trace have an exception and no pattern.
#[test]
fn patterns_are_the_same_across_files_and_orders() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "2024-03-01 10:00:01,000 WARN [main] c.a.Pool - Connection refused to 10.0.0.3:5432",
        "2024-03-01 10:00:02,000 INFO [main] c.a.Job - worker 7 stopped after 3 tries",
        "2024-03-01 10:00:03,000 WARN [main] c.a.Pool - Connection refused to 10.0.0.9:6543",
        "2024-03-01 10:00:04,000 INFO [main] c.a.Job - worker 12 stopped after 40 tries",
        "2024-03-01 10:00:05,000 ERROR [main] c.a.Job - failed\njava.lang.IllegalStateException: boom\n\tat c.a.Job.run(Job.java:10)",
    ];
    let forward = dir.path().join("a.log");
    let backward = dir.path().join("b.log");
    std::fs::write(&forward, lines.join("\n") + "\n").unwrap();
    let mut reversed = lines.to_vec();
    reversed.reverse();
    std::fs::write(&backward, reversed.join("\n") + "\n").unwrap();
    let ids = |path: &Path| {
        let out = common::stackfold(&["fold", "--tz", "UTC", path.to_str().unwrap()]);
        let mut by_message = std::collections::BTreeMap::new();
        for event in common::json_lines(&out) {
            let message = event["message"].as_str().unwrap().to_owned();
            let pattern = &event["pattern"];
            if event.get("exception").is_some() {
                assert!(pattern.is_null(), "{event}");
            } else {
                by_message.insert(message, pattern["id"].as_str().unwrap().to_owned());
            }
        }
        by_message
    };
    let (a, b) = (ids(&forward), ids(&backward));
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    assert_eq!(
        a["Connection refused to 10.0.0.3:5432"],
        a["Connection refused to 10.0.0.9:6543"]
    );
    assert_eq!(
        a["worker 7 stopped after 3 tries"],
        a["worker 12 stopped after 40 tries"]
    );
    assert_ne!(
        a["worker 7 stopped after 3 tries"],
        a["Connection refused to 10.0.0.3:5432"]
    );
}

/// Issue 18: `stackfold patterns` counts each pattern exactly over several files, filters by
/// level, and refuses an unknown level.
#[test]
fn patterns_lists_exact_counts_over_files() {
    let dir = tempfile::tempdir().unwrap();
    let line = |second: u32, level: &str, message: &str| {
        format!("2024-03-01 10:00:{second:02},000 {level} [main] c.a.Pool - {message}\n")
    };
    let one = line(1, "WARN", "Connection refused to 10.0.0.3:5432")
        + &line(2, "INFO", "pool size 10")
        + &line(3, "ERROR", "Connection refused to 10.0.0.4:5432");
    let two =
        line(4, "ERROR", "Connection refused to 10.0.0.5:6543") + &line(5, "INFO", "pool size 12");
    std::fs::write(dir.path().join("one.log"), one).unwrap();
    std::fs::write(dir.path().join("two.log"), two).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let out = common::stackfold(&["patterns", "--json", "--tz", "UTC", dir_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let patterns: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let counts: Vec<(&str, u64)> = patterns
        .iter()
        .map(|p| {
            (
                p["template"].as_str().unwrap(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("Connection refused to <*>:<num>", 3),
            ("pool size <num>", 2)
        ]
    );
    assert_eq!(patterns[0]["levels"]["ERROR"], 2);
    assert_eq!(
        patterns[0]["example"],
        "Connection refused to 10.0.0.3:5432"
    );
    assert_eq!(patterns[0]["first_seen"], "2024-03-01T10:00:01Z");
    assert_eq!(patterns[0]["last_seen"], "2024-03-01T10:00:04Z");

    let out = common::stackfold(&[
        "patterns", "--json", "--level", "error", "--tz", "UTC", dir_arg,
    ]);
    let patterns: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0]["count"], 2);

    let out = Command::new(common::binary())
        .args(["patterns", "--level", "loud", dir_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--level loud"));
}

/// `patterns --data` over an index says what `patterns` over the files it was made of says,
/// example aside, with the same level rule and filters of its own.
#[test]
fn patterns_of_an_index_are_those_of_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = common::fixtures();
    let logs_arg = logs.to_str().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = common::stackfold(&["index", "--data", data_arg, "--tz", "UTC", logs_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = |args: &[&str]| -> Vec<Value> {
        let out = common::stackfold(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut patterns: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        for p in &mut patterns {
            p.as_object_mut().unwrap().remove("example");
            // The index adds the triage status, which files do not have.
            if args.contains(&"--data") {
                assert_eq!(p["status"], "unresolved", "{p}");
                p.as_object_mut().unwrap().remove("status");
            }
        }
        patterns
    };
    for level in ["trace", "warn"] {
        let from_files = listed(&[
            "patterns", "--json", "--level", level, "--tz", "UTC", logs_arg,
        ]);
        let from_index = listed(&["patterns", "--json", "--level", level, "--data", data_arg]);
        assert!(from_files.len() > 2, "{from_files:?}");
        assert_eq!(from_index, from_files, "--level {level}");
    }
    let top = listed(&["patterns", "--json", "--data", data_arg, "--limit", "1"]);
    assert_eq!(top.len(), 1);
    let billing = listed(&["patterns", "--json", "--data", data_arg, "--app", "billing"]);
    assert!(!billing.is_empty());
    for p in &billing {
        let apps: Vec<&String> = p["apps"].as_object().unwrap().keys().collect();
        assert_eq!(apps, ["billing"], "{p}");
    }
    let out = Command::new(common::binary())
        .args(["patterns", "--data", data_arg, logs_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "paths and --data together");
}

#[test]
fn a_resolved_pattern_leaves_the_list_and_comes_back_when_it_happens_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let line = |ts: jiff::Timestamp, host: &str| {
        format!("{ts} ERROR db.Pool - Connection refused to {host}:5432\n")
    };
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let mut first = String::new();
    for host in ["10.0.0.3", "10.0.0.4", "db.example.com"] {
        first.push_str(&line(old, host));
    }
    first.push_str(&format!("{old} WARN db.Pool - pool size 3\n"));
    std::fs::write(logs.join("app_a.log"), first).unwrap();
    let run = |args: &[&str]| {
        let out = common::stackfold(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let index = || {
        run(&[
            "index",
            "--data",
            data_arg,
            "--tz",
            "UTC",
            logs.to_str().unwrap(),
        ])
    };
    index();
    let listed = |status: &str| -> Vec<Value> {
        let out = run(&["patterns", "--json", "--data", data_arg, "--status", status]);
        serde_json::from_slice(&out).unwrap()
    };
    let before = listed("unresolved");
    assert_eq!(before.len(), 2, "{before:?}");
    let id = before[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(before[0]["count"], 3);

    run(&["resolve", "--data", data_arg, &id, "--by", "ana"]);
    let open: Vec<Value> = listed("unresolved");
    assert!(open.iter().all(|p| p["id"] != id.as_str()), "{open:?}");
    let resolved = listed("resolved");
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["id"], id.as_str());
    assert_eq!(resolved[0]["status"], "resolved");
    assert_eq!(listed("all").len(), 2);

    // The same kind of line again, timestamped after the resolve: unresolved, regressed.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(1);
    std::fs::write(logs.join("app_b.log"), line(later, "10.0.0.9")).unwrap();
    index();
    let back = listed("unresolved");
    let again = back
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("listed again");
    assert_eq!(again["status"], "unresolved");
    assert_eq!(again["count"], 4);
    assert!(again["regressed_at"].as_str().is_some(), "{again}");

    // A pattern id nobody indexed, and an id of the wrong length, are refused.
    for (wrong, says) in [
        ("0123456789abcdef", "no pattern"),
        ("0123456789abcde", "neither a fingerprint"),
    ] {
        let out = Command::new(common::binary())
            .args(["ignore", "--data", data_arg, wrong])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{wrong}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}
