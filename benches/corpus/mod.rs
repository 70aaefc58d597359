//! The log bytes the benches run on.

#![allow(dead_code)] // each bench uses its part

use std::path::{Path, PathBuf};
use std::process::Command;

use stackfold::config::ConfigFile;
use stackfold::pipeline::PipelineSettings;

/// Real logs with traces, by runtime, from `shared/reallogs`.
const REAL: &[&str] = &[
    "elasticsearch-1.5.1-logs/elasticsearch.log.2015-04-16",
    "hadoop-2.7.2-logs/hadoop-root-datanode-singlenode.log",
    "kafka-2.8.0-logs/server.log.2021-04-26-20",
    "tomcat-liferay/catalina.out",
    "spring-boot/spring.log",
    "zookeeper-curator-client/app.log",
    "odoo/odoo.log",
    "openstack-os-log-merger/nova-conductor.log",
    "android-logcat/logcat.txt",
    "syncthing/panic.log",
];

/// The Java, Python and Go logs of `../shared/reallogs` when present (about 6 MB), else the
/// bundled `fixtures/`; with the corpus's name.
pub fn real_files() -> (String, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let real = root.join("../shared/reallogs");
    if real.is_dir() {
        let files = REAL.iter().map(|f| real.join(f)).collect();
        return ("reallogs-mix".to_owned(), files);
    }
    let files = ["java", "python", "go"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join("fixtures").join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    ("fixtures".to_owned(), files)
}

/// About `size_mb` of plain logs from `stackfold-gen` (the corpus of `benches/ingest.sh`,
/// log4j lines with 5 % Java traces, file names carrying app/env/tag/host/date), written
/// under `dir`.
pub fn generated_files(dir: &Path, size_mb: u32) -> Vec<PathBuf> {
    let out = dir.join("logs");
    let status = Command::new(env!("CARGO_BIN_EXE_stackfold-gen"))
        .args(["--compress", "plain", "--size-mb", &size_mb.to_string()])
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "stackfold-gen failed");
    let mut files: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The pipeline's defaults, times in UTC.
pub fn settings() -> PipelineSettings {
    ConfigFile::default()
        .settings(Some("UTC"), 1, 2020)
        .unwrap()
}
