//! Golden tests: every fixture folds into the events recorded in `fixtures/golden/`.
//! Run with `UPDATE_GOLDEN=1` to rewrite them, on purpose, and review the diff.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stackfold::event::Event;
use stackfold::pipeline::collect_file;

fn fixture_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["java", "python", "go", "rust", "runtimes"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(common::fixtures().join(dir))
            .expect("fixture directory")
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
}

/// What a golden records of an event: enough to see every fold and grouping decision,
/// without the full text.
fn summary(e: &Event) -> Value {
    let mut v = json!({
        "line": e.line,
        "lines": e.lines,
        "ts": e.ts.map(|t| t.to_string()),
        "level": e.level,
        "logger": e.logger,
        "thread": e.thread,
        "format": e.format,
        "message": e.message.chars().take(80).collect::<String>(),
    });
    if let Some(x) = &e.exception {
        v["exception"] = json!({
            "language": x.language,
            "chain": x.chain.iter().map(|c| json!({
                "type": c.ty,
                "frames": c.frames.len(),
                "in_app": c.frames.iter().filter(|f| f.in_app).count(),
            })).collect::<Vec<_>>(),
            "fingerprint": x.fingerprint,
            "template": x.template,
        });
    }
    v
}

fn golden_path(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let name = file.file_name().unwrap().to_string_lossy();
    common::fixtures()
        .join("golden")
        .join(format!("{dir}__{name}.json"))
}

#[test]
fn fixtures_fold_into_their_goldens() {
    let settings = common::settings();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for file in fixture_files() {
        let events = common::fold_file(&file, &settings);
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        let written = std::fs::read_to_string(&file)
            .unwrap()
            .replace("\r\n", "\n");
        assert_eq!(
            texts.join("\n"),
            written.strip_suffix('\n').unwrap_or(&written),
            "{} lost or changed lines",
            file.display()
        );
        let got: Vec<Value> = events.iter().map(summary).collect();
        let got = serde_json::to_string_pretty(&got).unwrap() + "\n";
        let golden = golden_path(&file);
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} is missing: run with UPDATE_GOLDEN=1", golden.display())
        });
        if want != got {
            mismatches.push(golden.display().to_string());
        }
    }
    assert!(
        mismatches.is_empty(),
        "output differs from (rerun with UPDATE_GOLDEN=1 and review the diff): {mismatches:#?}"
    );
}

#[test]
fn compressed_twins_decode_to_identical_events() {
    let settings = common::settings();
    let name = "weberror_billing_pro_1.4.2_web01_20240301.log";
    let plain = common::fixtures().join("java").join(name);
    let as_json = |path: PathBuf| -> Vec<Value> {
        let (events, report) = collect_file(path, &settings);
        assert!(report.error.is_none());
        events
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap();
                v.as_object_mut().unwrap().remove("source");
                v
            })
            .collect()
    };
    let want = as_json(plain);
    assert!(want.len() > 3);
    for suffix in ["gz", "zst"] {
        let twin = common::fixtures()
            .join("compressed")
            .join(format!("{name}.{suffix}"));
        assert_eq!(as_json(twin), want, "{suffix} twin");
    }
}

#[test]
fn metadata_comes_from_the_file_name() {
    let settings = common::settings();
    let file =
        common::fixtures().join("compressed/weberror_billing_pro_1.4.2_web01_20240301.log.zst");
    let (events, _) = collect_file(file, &settings);
    let meta = serde_json::to_value(&events[0]).unwrap()["meta"].clone();
    assert_eq!(
        meta,
        json!({"logtype": "weberror", "app": "billing", "env": "pro", "tag": "1.4.2", "host": "web01", "date": "2024-03-01"})
    );
}

#[test]
fn same_problem_across_releases_is_one_group() {
    let settings = common::settings();
    let fingerprints = |name: &str| -> Vec<String> {
        let (events, _) = collect_file(common::fixtures().join("java").join(name), &settings);
        events
            .iter()
            .filter_map(|e| e.exception.as_ref())
            .map(|x| x.fingerprint.clone())
            .collect()
    };
    let old = fingerprints("weberror_billing_pro_1.4.2_web01_20240301.log");
    let new = fingerprints("weberror_billing_pro_1.4.3_web02_20240302.log");
    assert_eq!(old.len(), 4);
    assert_eq!(
        old, new,
        "line numbers, lambda and CGLIB suffixes shifted between the two tags"
    );
    assert_eq!(old[0], old[3], "the same decline twice in one file");
    assert_ne!(old[0], old[1]);
}

/// Issue 14: Rust's panic message moved to a line of its own in 1.73, and newer releases
/// print the thread's id; the same panic in either form is one group.
#[test]
fn a_rust_panic_in_the_old_and_the_new_form_is_one_group() {
    let settings = common::settings();
    let fingerprint = |name: &str| {
        let (events, _) = collect_file(common::fixtures().join("rust").join(name), &settings);
        let exception = events.iter().find_map(|e| e.exception.as_ref()).unwrap();
        assert_eq!(exception.template, "explicit panic");
        exception.fingerprint.clone()
    };
    assert_eq!(
        fingerprint("issue-47429-short-backtraces.run.stderr"),
        fingerprint("issue-47429-short-backtraces.legacy.run.stderr")
    );
}
