//! Per subcommand: load the config, wire the stages, report. The one module that knows them all.

mod demo;
mod fold;
mod index;
mod query;
mod serve;
mod ship;
mod summary;
mod tail;

use std::process::ExitCode;

use crate::cli::{Cli, Command, PipelineArgs};
use crate::config::ConfigFile;
use crate::pipeline::PipelineSettings;

/// Runs the command; the exit code says whether any input could be read.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fold(args) => fold::run(args),
        Command::Patterns(args) => fold::patterns(args),
        Command::Index(args) => index::run(args),
        Command::Tail(args) => tail::tail(args),
        Command::Run(args) => tail::run(args),
        Command::Ship(args) => ship::ship(args),
        Command::Search(args) => query::search(args),
        Command::Exceptions(args) => query::exceptions(args),
        Command::Show(args) => query::show(args),
        Command::Prune(args) => index::prune(args),
        Command::Regroup(args) => index::regroup(args),
        Command::Resolve(args) => query::resolve(args),
        Command::Ignore(args) => query::ignore(args),
        Command::Reopen(args) => query::reopen(args),
        Command::Check(args) => index::check(args),
        Command::Serve(args) => serve::serve(args),
        Command::Demo(args) => demo::run(args),
        Command::Passwd(args) => serve::passwd(args),
    }
}

/// Loads the config file (if any) and turns it and the flags into pipeline settings.
pub fn pipeline_settings(args: &PipelineArgs) -> anyhow::Result<PipelineSettings> {
    let config = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let this_year = jiff::Zoned::now().year();
    Ok(config.settings(args.tz.as_deref(), args.threads, this_year)?)
}

/// Free bytes below which a failing write is blamed on a full disk.
const LOW_DISK_BYTES: u64 = 16 << 20;

/// `err`, with its likely cause when the disk holding `dir` is (nearly) full: tantivy reports
/// a worker thread's failed write, on the next call, only as "an index writer was killed".
pub fn explain_write_failure(
    err: impl Into<anyhow::Error>,
    dir: &std::path::Path,
) -> anyhow::Error {
    let err = err.into();
    let existing = dir.ancestors().find(|d| d.exists());
    let free = existing.and_then(|d| rustix::fs::statvfs(d).ok());
    match free.map(|s| s.f_bavail * s.f_frsize) {
        Some(free) if free < LOW_DISK_BYTES => err.context(format!(
            "{}: the disk is full ({free} bytes free): free space and run again",
            dir.display()
        )),
        _ => err,
    }
}

/// The alerts thread of a long-running command (see [`crate::triage::alerts::spawn`]); it
/// stops and is joined when this is dropped.
pub struct Alerts {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Alerts {
    /// Starts the thread over `data` when `config` has `[[alerts]]`.
    pub fn start(data: &std::path::Path, config: &ConfigFile) -> anyhow::Result<Option<Alerts>> {
        let settings = config.alert_settings()?;
        if settings.rules.is_empty() {
            return Ok(None);
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = crate::triage::alerts::spawn(data.to_path_buf(), settings, stop.clone())?;
        Ok(Some(Alerts {
            stop,
            thread: Some(thread),
        }))
    }
}

impl Drop for Alerts {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
