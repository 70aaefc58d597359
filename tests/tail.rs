//! `stackfold tail` as a process: killed with SIGKILL again and again while a writer process
//! appends and rotates, it must still end with every event exactly once and exact groups.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn livegen() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackfold-livegen"))
}

fn start_tail(data: &Path, logs: &Path) -> Child {
    Command::new(common::binary())
        .args(["tail", "--data"])
        .arg(data)
        .arg(logs)
        .args(["--commit-interval-ms", "300", "--poll-ms", "100"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stackfold tail")
}

#[test]
fn killed_twenty_times_while_logs_rotate_every_event_is_indexed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let data = dir.path().join("data");
    let writer = Command::new(livegen())
        .arg("--dir")
        .arg(&logs)
        .args([
            "--files",
            "3",
            "--events",
            "600",
            "--rate",
            "60",
            "--rotate-every",
            "100",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut kills = 0;
    // Kill at random moments while the writer writes and rotates (about 10 s), and at least
    // 20 times in all.
    let mut writer = Some(writer);
    let mut summary = None;
    while kills < 20 || writer.is_some() {
        let mut tail = start_tail(&data, &logs);
        std::thread::sleep(Duration::from_millis(150 + rng.u64(..650)));
        tail.kill().unwrap(); // SIGKILL
        tail.wait().unwrap();
        kills += 1;
        if let Some(w) = &mut writer
            && w.try_wait().unwrap().is_some()
        {
            let out = writer.take().unwrap().wait_with_output().unwrap();
            assert!(out.status.success());
            summary = Some(serde_json::from_slice::<Value>(&out.stdout).unwrap());
        }
        assert!(kills < 200, "the writer never finished");
    }
    let summary = summary.unwrap();
    // A last run, stopped cleanly once everything is in.
    let expected_events = 3 * 600;
    let mut tail = start_tail(&data, &logs);
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        std::thread::sleep(Duration::from_millis(500));
        let events = common::search_all(&data);
        if events.len() >= expected_events || Instant::now() > deadline {
            break events;
        }
    };
    // Let a duplicate, if any were coming, arrive before stopping.
    std::thread::sleep(Duration::from_secs(3));
    unsafe_free_sigterm(&tail);
    assert!(tail.wait().unwrap().success());
    let events = if events.len() == expected_events {
        common::search_all(&data)
    } else {
        events
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    for event in &events {
        let message = event["message"].as_str().unwrap();
        let id = message.rsplit("id=").next().unwrap().to_owned();
        *seen.entry(id).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "{} ids more than once, e.g. {:?}",
        dupes.len(),
        &dupes[..dupes.len().min(5)]
    );
    let missing: Vec<String> = (0..3)
        .flat_map(|f| (0..600).map(move |n| format!("f{f}-{n}")))
        .filter(|id| !seen.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} ids missing after {kills} kills, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(events.len(), expected_events);

    let counted = common::group_counts(&data);
    let written: BTreeMap<String, u64> =
        serde_json::from_value(summary["by_root_type"].clone()).unwrap();
    assert_eq!(counted, written, "one group per problem, with exact counts");
}

/// Sends SIGTERM: the clean stop the tailer must commit on.
fn unsafe_free_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn sigterm_and_wait(child: &mut Child) {
    unsafe_free_sigterm(child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

fn wait_for(data: &Path, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = if data.join("index/meta.json").exists() {
            common::search_all(data).len()
        } else {
            0
        };
        if n >= count || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigterm_commits_what_was_read_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let data = dir.path().join("data");
    let line =
        |n: u32| format!("2024-03-01 10:00:0{n},000 INFO  [main] com.acme.App - event {n}\n");
    std::fs::write(logs.join("app.log"), line(1)).unwrap();
    // Commits only every minute: what is searchable after SIGTERM was committed by the stop.
    let mut tail = Command::new(common::binary())
        .args(["tail", "--data"])
        .arg(&data)
        .arg(&logs)
        .args(["--commit-interval-ms", "60000"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(logs.join("app.log"), line(1) + &line(2)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sigterm_and_wait(&mut tail);
    let messages: Vec<String> = common::search_all(&data)
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["event 2", "event 1"]);
}

#[test]
fn tail_after_index_backfills_nothing_twice_and_follows_what_grows() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let data = dir.path().join("data");
    for sub in ["java", "python", "go", "compressed"] {
        let to = logs.join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(common::fixtures().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let copy = to.join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            // Archives: last written an hour ago, so the tailer closes them once read, and
            // reads a last line without newline as `index` does.
            let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
            let file = std::fs::File::options().write(true).open(&copy).unwrap();
            file.set_modified(hour_ago).unwrap();
        }
    }
    let out = Command::new(common::binary())
        .args(["index", "--tz", "UTC", "--json", "--data"])
        .arg(&data)
        .arg(&logs)
        .output()
        .unwrap();
    assert!(out.status.success());
    let indexed = common::search_all(&data).len();
    assert!(indexed > 500, "{indexed}");
    // A tailer over the same directory: everything is known; then one file grows.
    let mut tail = start_tail(&data, &logs);
    std::thread::sleep(Duration::from_secs(2));
    let grown = logs.join("java/weberror_billing_pro_1.4.2_web01_20240301.log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&grown)
        .unwrap();
    std::io::Write::write_all(
        &mut file,
        b"2024-03-01 23:59:59,000 INFO  [main] com.acme.App - appended later\n",
    )
    .unwrap();
    assert_eq!(wait_for(&data, indexed + 1), indexed + 1);
    std::thread::sleep(Duration::from_secs(2));
    sigterm_and_wait(&mut tail);
    assert_eq!(
        common::search_all(&data).len(),
        indexed + 1,
        "nothing indexed twice"
    );
    // And a tailer over a directory never indexed backfills it all.
    let fresh = dir.path().join("fresh");
    let mut tail = start_tail(&fresh, &logs);
    assert_eq!(wait_for(&fresh, indexed + 1), indexed + 1);
    std::thread::sleep(Duration::from_secs(2));
    sigterm_and_wait(&mut tail);
    // The same events, cut the same way, as `index` made.
    let shape = |data: &Path| {
        let mut events: Vec<(String, u64, u64)> = common::search_all(data)
            .iter()
            .map(|e| {
                let source = e["source"].as_str().unwrap().to_owned();
                (
                    source,
                    e["offset"].as_u64().unwrap(),
                    e["lines"].as_u64().unwrap(),
                )
            })
            .collect();
        events.sort();
        events
    };
    assert_eq!(shape(&fresh), shape(&data));
}

#[test]
fn run_tails_and_serves_from_one_config_and_commits_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let line =
        |n: u32| format!("2024-03-01 10:00:0{n},000 WARN  [main] com.acme.App - event {n}\n");
    std::fs::write(logs.join("app.log"), line(1)).unwrap();
    let config = dir.path().join("stackfold.toml");
    std::fs::write(
        &config,
        "[input]\npaths = [\"logs\"]\n[index]\ndata = \"data\"\n[tail]\ncommit_interval_ms = 60000\n[server]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut run = Command::new(common::binary())
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It prints its URL once listening.
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(run.stdout.as_mut().unwrap()),
        &mut url,
    )
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    std::thread::sleep(Duration::from_millis(1500));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("app.log"))
        .unwrap();
    std::io::Write::write_all(&mut file, line(2).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sigterm_and_wait(&mut run);
    let data = dir.path().join("data");
    let messages: Vec<String> = common::search_all(&data)
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        ["event 2", "event 1"],
        "the data dir is relative to the config"
    );
}
