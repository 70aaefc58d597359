//! The tailer driven round by round with a simulated clock, on real files.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::ConfigFile;
use crate::index::EventWriter;
use crate::query::Reader;

struct Live {
    logs: tempfile::TempDir,
    data: tempfile::TempDir,
    tailer: Option<Tailer>,
    reader: Reader,
    now: Instant,
}

fn settings() -> Arc<PipelineSettings> {
    Arc::new(
        ConfigFile::default()
            .settings(Some("UTC"), 1, 2024)
            .unwrap(),
    )
}

/// A log4j line for event `n`, unique by its message.
fn line(n: u32) -> String {
    format!(
        "2024-03-01 10:00:{:02},000 INFO  [main] com.acme.App - event {n}\n",
        n % 60
    )
}

/// An error event `n` with a two-frame Java trace.
fn trace(n: u32) -> String {
    format!(
        "2024-03-01 10:00:{:02},000 ERROR [main] com.acme.App - failed {n}\n\
         java.lang.IllegalStateException: boom\n\
         \tat com.acme.App.run(App.java:{n})\n\
         \tat com.acme.App.main(App.java:3)\n",
        n % 60
    )
}

impl Live {
    fn new() -> Live {
        let logs = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let (index, fields) = crate::index::open_or_create(data.path()).unwrap();
        let reader = Reader::new(index, fields).unwrap();
        let mut live = Live {
            logs,
            data,
            tailer: None,
            reader,
            now: Instant::now(),
        };
        live.restart();
        live
    }

    /// Drops the tailer (without committing, like a kill) and starts a new one.
    fn restart(&mut self) {
        self.tailer = None;
        let (index, fields) = crate::index::open_or_create(self.data.path()).unwrap();
        let writer = EventWriter::open(&index, fields, 32 << 20, 1).unwrap();
        let inputs = vec![self.logs.path().to_string_lossy().into_owned()];
        let tailer = Tailer::new(
            inputs,
            settings(),
            TailSettings::default(),
            Ingest::new(writer),
        );
        self.tailer = Some(tailer);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.logs.path().join(name)
    }

    fn append(&self, name: &str, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// Runs rounds over `ms` milliseconds of simulated time, then commits.
    fn run_for(&mut self, ms: u64) {
        let tailer = self.tailer.as_mut().unwrap();
        let end = self.now + Duration::from_millis(ms);
        while self.now < end {
            self.now += TailSettings::default().poll;
            tailer.step(self.now).unwrap();
        }
        tailer.commit().unwrap();
        self.reader.reload().unwrap();
    }

    /// The messages of every indexed event, sorted.
    fn messages(&self) -> Vec<String> {
        let events = self.reader.search("", &Default::default(), 10_000).unwrap();
        let mut messages: Vec<String> = events
            .iter()
            .map(|e| e.event.message.clone().into_owned())
            .collect();
        messages.sort();
        messages
    }
}

fn expected(events: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = events.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn appended_lines_arrive_and_new_files_appear() {
    let mut live = Live::new();
    live.append("a.log", &(line(1) + &line(2)));
    live.run_for(1500);
    assert_eq!(live.messages(), expected(&["event 1", "event 2"]));
    live.append("a.log", &line(3));
    live.append("b.log", &line(4));
    live.run_for(1500);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "event 2", "event 3", "event 4"])
    );
}

#[test]
fn the_last_event_of_a_quiet_file_is_flushed_after_the_idle_timeout() {
    let mut live = Live::new();
    live.append("a.log", &(line(1) + &trace(2)));
    // Read within a poll, but quiet for less than the idle timeout: the trace may go on.
    live.run_for(400);
    assert_eq!(live.messages(), expected(&["event 1"]));
    live.run_for(400);
    assert_eq!(live.messages(), expected(&["event 1", "failed 2"]));
    let traces = live.reader.count(
        "",
        &crate::query::Filters {
            exceptions_only: true,
            ..Default::default()
        },
    );
    assert_eq!(traces.unwrap(), 1, "the trace was folded into its event");
}

#[test]
fn rename_rotation_reads_the_old_file_to_its_end_and_the_new_one_from_its_start() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &line(2)));
    live.run_for(1500);
    // The writer logs one more line, then the file is rotated and a new one started.
    live.append("app.log", &trace(3));
    std::fs::rename(live.path("app.log"), live.path("app.log.1")).unwrap();
    live.append("app.log", &(line(4) + &line(5)));
    live.run_for(4000);
    let all = ["event 1", "event 2", "failed 3", "event 4", "event 5"];
    assert_eq!(live.messages(), expected(&all));
    // After a restart, the renamed file is known by its inode and head: nothing again.
    live.restart();
    live.run_for(2000);
    assert_eq!(live.messages(), expected(&all));
}

#[test]
fn copytruncate_continues_in_the_copy_and_restarts_the_original() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &line(2)));
    live.run_for(1500);
    live.append("app.log", &line(3));
    std::fs::copy(live.path("app.log"), live.path("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(live.path("app.log"))
        .unwrap();
    live.append("app.log", &line(4));
    live.run_for(3000);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "event 2", "event 3", "event 4"])
    );
}

#[test]
fn a_deleted_file_is_read_to_its_end_including_a_last_line_without_newline() {
    let mut live = Live::new();
    live.append("app.log", &line(1));
    live.run_for(1500);
    live.append("app.log", &(line(2) + line(3).trim_end()));
    std::fs::remove_file(live.path("app.log")).unwrap();
    live.run_for(4000);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "event 2", "event 3"])
    );
}

#[test]
fn a_file_replaced_by_one_with_the_same_first_line_is_a_new_file() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &line(2)));
    live.run_for(1500);
    // Live: the old file is deleted and a new one starts with the very same line.
    std::fs::remove_file(live.path("app.log")).unwrap();
    live.append("app.log", &(line(1) + &line(3)));
    live.run_for(4000);
    let live_case = ["event 1", "event 1", "event 2", "event 3"];
    assert_eq!(live.messages(), expected(&live_case));
    // Stopped: the same happens while nothing runs; the restart must not skip `event 4`.
    live.restart();
    std::fs::remove_file(live.path("app.log")).unwrap();
    live.append("app.log", &(line(1) + &line(4) + &line(5)));
    live.run_for(2000);
    let mut all = live_case.to_vec();
    all.extend(["event 1", "event 4", "event 5"]);
    assert_eq!(live.messages(), expected(&all));
}

#[test]
fn a_rotated_copy_compressed_while_stopped_is_recognised_as_read() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &line(2)));
    live.run_for(1500);
    live.tailer = None;
    // One more line reached the file before rotation; then it is compressed and removed.
    live.append("app.log", &line(3));
    let text = std::fs::read(live.path("app.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    std::fs::write(live.path("app.log.1.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(live.path("app.log")).unwrap();
    live.restart();
    live.run_for(2000);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "event 2", "event 3"])
    );
}

#[test]
fn an_uncommitted_round_is_read_again_after_a_kill() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &trace(2)));
    live.run_for(1500);
    live.append("app.log", &(line(3) + &line(4)));
    // Read but not committed, then killed.
    let tailer = live.tailer.as_mut().unwrap();
    tailer.step(live.now + Duration::from_secs(5)).unwrap();
    live.restart();
    live.run_for(1500);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "failed 2", "event 3", "event 4"])
    );
}

#[test]
fn a_rotated_file_gzipped_beside_its_original_long_after_rotation_is_not_read_twice() {
    let mut live = Live::new();
    live.append("app.log", &(line(1) + &line(2)));
    live.run_for(1500);
    std::fs::rename(live.path("app.log"), live.path("app.log.1")).unwrap();
    live.append("app.log", &line(3));
    // Past the inactivity timeout: the rotated file is closed, nothing reads it any more.
    live.run_for(310_000);
    // logrotate's `compress` (as `gzip` does it): the .gz appears, then the original goes.
    let text = std::fs::read(live.path("app.log.1")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    std::fs::write(live.path("app.log.1.gz"), gz.finish().unwrap()).unwrap();
    live.run_for(1000);
    std::fs::remove_file(live.path("app.log.1")).unwrap();
    live.run_for(4000);
    assert_eq!(
        live.messages(),
        expected(&["event 1", "event 2", "event 3"])
    );
    // A copy whose original stays (logrotate's `copy`, a backup) counts as read too, once
    // it is long enough to be told from a file that merely starts with the same line.
    live.append("app.log", &line(4));
    live.run_for(1500);
    std::fs::copy(live.path("app.log"), live.path("app.log.bak")).unwrap();
    live.run_for(5000);
    let all = ["event 1", "event 2", "event 3", "event 4"];
    assert_eq!(live.messages(), expected(&all));
    // And stays read after a restart: its own checkpoint starts where the original was.
    live.restart();
    live.run_for(3000);
    assert_eq!(live.messages(), expected(&all));
}
