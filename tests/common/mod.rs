//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use stackfold::config::ConfigFile;
use stackfold::pipeline::PipelineSettings;

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Default settings with the clock pinned: UTC, and 2020 for headers without a year.
pub fn settings() -> PipelineSettings {
    ConfigFile::default()
        .settings(Some("UTC"), 1, 2020)
        .expect("default settings are valid")
}

/// The `stackfold` binary built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackfold"))
}

/// The `stackfold-gen` corpus generator built for this test run.
pub fn generator() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackfold-gen"))
}

/// Runs `stackfold` with `args`, panicking with its stderr if it fails.
pub fn stackfold(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(binary())
        .args(args)
        .output()
        .expect("running stackfold");
    assert!(
        out.status.success(),
        "stackfold {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a generated corpus of about `size_mb` MB into `dir` and returns its manifest.
pub fn generate(dir: &Path, size_mb: u64, extra: &[&str]) -> serde_json::Value {
    let dir_arg = dir.display().to_string();
    let size = size_mb.to_string();
    let mut args = vec!["--out", &dir_arg, "--size-mb", &size];
    args.extend_from_slice(extra);
    let status = std::process::Command::new(generator())
        .args(&args)
        .status()
        .expect("running stackfold-gen");
    assert!(status.success());
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    serde_json::from_str(&manifest).unwrap()
}

/// Folds one file, failing the test if it could not be read to its end.
pub fn fold_file(path: &Path, settings: &PipelineSettings) -> Vec<stackfold::event::Event> {
    let (events, report) = stackfold::pipeline::collect_file(path.to_path_buf(), settings);
    assert!(
        report.error.is_none(),
        "{}: {:?}",
        path.display(),
        report.error
    );
    events
}

/// Asserts that exception groups (as JSON) come most frequent first.
pub fn assert_most_frequent_first(groups: &[serde_json::Value]) {
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most frequent first: {counts:?}"
    );
}

/// The NDJSON a command wrote on stdout, one value per line.
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the query command `args[0]` on the index under `data` with the rest of `args`,
/// asserting it succeeds.
fn query(args: &[&str], data: &Path) -> std::process::Output {
    let out = std::process::Command::new(binary())
        .args(&args[..1])
        .arg("--data")
        .arg(data)
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every event of the index under `data`, newest first.
pub fn search_all(data: &Path) -> Vec<serde_json::Value> {
    json_lines(&query(&["search", "*", "--all", "--json"], data))
}

/// The exception groups of the index under `data`: count by root type.
pub fn group_counts(data: &Path) -> std::collections::BTreeMap<String, u64> {
    let out = query(&["exceptions", "--json"], data);
    let groups: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    groups
        .iter()
        .map(|g| {
            (
                g["root_type"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Each class the generator names in a problem's frame lines (`Service12x0`: in Java's `at`
/// lines, Python's `File` lines as a module, Go's function lines) finds every event of the
/// index under `data` whose text names it: frame lines are searched through their block,
/// committed before the events that name it (src/index/blocks.rs).
pub fn assert_frames_find_their_events(data: &Path) {
    let classes = regex::Regex::new(r"service[0-9]+x0\b").unwrap();
    let mut naming: std::collections::BTreeMap<String, u64> = Default::default();
    for event in search_all(data) {
        let text = event["text"].as_str().unwrap().to_lowercase();
        let named: std::collections::BTreeSet<&str> =
            classes.find_iter(&text).map(|m| m.as_str()).collect();
        for class in named {
            *naming.entry(class.to_owned()).or_default() += 1;
        }
    }
    assert!(naming.len() > 5, "{naming:?}");
    let reader = stackfold::query::Reader::open(data).unwrap();
    for (class, events) in naming {
        let found = reader.count(&class, &Default::default()).unwrap() as u64;
        assert_eq!(found, events, "{class}");
    }
}

/// Appends `text` to the file at `path`, creating it: a service writing its log.
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
