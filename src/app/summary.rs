//! Totals over a run, for the closing line (or JSON) of `fold` and `index`.

use serde::Serialize;

use crate::error::Chain;
use crate::pipeline::FileReport;

/// Totals over all files, for the closing line on stderr.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files: u64,
    pub read_files: u64,
    pub failed_files: u64,
    pub unreadable_args: u64,
    pub unnamed_files: u64,
    pub lines: u64,
    pub events: u64,
    pub headerless: u64,
    pub truncated: u64,
    pub exceptions: u64,
    /// Exception groups, when the command counted them (`fold` does, `index` leaves it to queries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<u64>,
    pub decoded_bytes: u64,
    /// Files left alone because they were indexed before and did not change.
    pub skipped_files: u64,
    /// Size of the events' index on disk after the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_bytes: Option<u64>,
    /// Size of the whole data directory after the run: the events' index, the frame blocks
    /// and the events' texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_bytes: Option<u64>,
    pub seconds: f64,
}

impl Summary {
    /// Counts one file's report, printing its error (with file and offset) if it has one.
    pub fn add(&mut self, report: FileReport) {
        self.files += 1;
        let read_something = report.error.is_none() || report.counters.lines > 0;
        self.read_files += u64::from(read_something);
        self.unnamed_files += u64::from(!report.named);
        if let Some(err) = &report.error {
            self.failed_files += 1;
            eprintln!("stackfold: error: {}", Chain(err));
        }
        self.lines += report.counters.lines;
        self.events += report.counters.events;
        self.headerless += report.counters.headerless_events;
        self.truncated += report.counters.truncated_events;
        self.exceptions += report.exceptions;
        self.decoded_bytes += report.decoded_bytes;
    }

    pub fn line(&self) -> String {
        let seconds = self.seconds;
        let mb = self.decoded_bytes as f64 / 1e6;
        format!(
            "stackfold: {} files ({} failed, {} not matched, {} off the naming convention{}), {} lines, \
             {} events ({} without header, {} truncated), {} exceptions{}, \
             {mb:.1} MB in {seconds:.2} s ({:.0} MB/s, {:.0} events/s){}",
            self.files,
            self.failed_files,
            self.unreadable_args,
            self.unnamed_files,
            if self.skipped_files > 0 {
                format!(", {} unchanged", self.skipped_files)
            } else {
                String::new()
            },
            self.lines,
            self.events,
            self.headerless,
            self.truncated,
            self.exceptions,
            self.groups
                .map_or(String::new(), |g| format!(" in {g} groups")),
            mb / seconds.max(1e-9),
            self.events as f64 / seconds.max(1e-9),
            self.data_bytes.map_or(String::new(), |b| format!(
                ", data {:.1} MB",
                b as f64 / 1e6
            )),
        )
    }
}
