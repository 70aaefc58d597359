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

fn search_all(data: &Path) -> Vec<Value> {
    let out = Command::new(common::binary())
        .args(["search", "--data"])
        .arg(data)
        .args(["*", "--limit", "10000", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
        let events = search_all(&data);
        if events.len() >= expected_events || Instant::now() > deadline {
            break events;
        }
    };
    // Let a duplicate, if any were coming, arrive before stopping.
    std::thread::sleep(Duration::from_secs(3));
    unsafe_free_sigterm(&tail);
    assert!(tail.wait().unwrap().success());
    let events = if events.len() == expected_events {
        search_all(&data)
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

    let out = Command::new(common::binary())
        .args(["exceptions", "--data"])
        .arg(&data)
        .arg("--json")
        .output()
        .unwrap();
    let groups: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let counted: BTreeMap<String, u64> = groups
        .iter()
        .map(|g| {
            (
                g["root_type"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
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
