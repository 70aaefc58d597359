//! Per subcommand: load the config, wire the stages, report. The one module that knows them all.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::cli::{Cli, Command, FoldArgs, PipelineArgs};
use crate::config::ConfigFile;
use crate::event::Event;
use crate::fold::groups::{Group, GroupTable};
use crate::pipeline::{self, FileReport, Output, PipelineSettings};
use crate::source::discover;

/// Runs the command; the exit code says whether any input could be read.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fold(args) => fold(args),
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

fn fold(args: FoldArgs) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(pipeline_settings(&args.pipeline)?);
    let found = discover(&args.paths);
    for err in &found.errors {
        eprintln!("stackfold: error: {err}");
    }
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut summary = Summary {
        unreadable_args: found.errors.len() as u64,
        ..Summary::default()
    };
    let mut groups = GroupTable::default();
    let mut write_error = None;
    pipeline::run(found.files, settings, |output| match output {
        Output::Events(events) => {
            for event in &events {
                groups.add(event);
                if !args.groups
                    && let Err(err) = write_event(&mut out, event)
                {
                    write_error = Some(err);
                    return false;
                }
            }
            true
        }
        Output::Done(report) => {
            summary.add(report);
            true
        }
    });
    if let Some(err) = write_error {
        return Err(err).context("writing events");
    }
    summary.groups = groups.len() as u64;
    if args.groups {
        write_groups(&mut out, groups.sorted(), args.json)?;
    }
    out.flush().context("writing output")?;
    eprintln!("{}", summary.line(started.elapsed().as_secs_f64()));
    Ok(if summary.read_files == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_event(out: &mut impl Write, event: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")
}

fn write_groups(out: &mut impl Write, groups: Vec<Group>, json: bool) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, &groups)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>7}  {:<32}  {:<24}  {:<24}  ROOT TYPE / TOP IN-APP FRAME",
        "COUNT", "FINGERPRINT", "FIRST SEEN", "LAST SEEN"
    )?;
    for g in groups {
        let seen = |ts: Option<jiff::Timestamp>| ts.map_or("-".to_owned(), |t| t.to_string());
        writeln!(
            out,
            "{:>7}  {:<32}  {:<24}  {:<24}  {}",
            g.count,
            g.fingerprint,
            seen(g.first_seen),
            seen(g.last_seen),
            g.root_type
        )?;
        let frame = g.top_frame.as_deref().unwrap_or("(no in-app frame)");
        writeln!(
            out,
            "{:>7}  {:<32}  {:<24}  {:<24}    at {frame}",
            "", "", "", ""
        )?;
    }
    Ok(())
}

/// Totals over all files, for the closing line on stderr.
#[derive(Debug, Default)]
struct Summary {
    files: u64,
    read_files: u64,
    failed_files: u64,
    unreadable_args: u64,
    unnamed_files: u64,
    lines: u64,
    events: u64,
    headerless: u64,
    truncated: u64,
    exceptions: u64,
    groups: u64,
    decoded_bytes: u64,
}

impl Summary {
    /// Counts one file's report, printing its error (with file and offset) if it has one.
    fn add(&mut self, report: FileReport) {
        self.files += 1;
        let read_something = report.error.is_none() || report.counters.lines > 0;
        self.read_files += u64::from(read_something);
        self.unnamed_files += u64::from(!report.named);
        if let Some(err) = &report.error {
            self.failed_files += 1;
            eprintln!("stackfold: error: {err}");
        }
        self.lines += report.counters.lines;
        self.events += report.counters.events;
        self.headerless += report.counters.headerless_events;
        self.truncated += report.counters.truncated_events;
        self.exceptions += report.exceptions;
        self.decoded_bytes += report.decoded_bytes;
    }

    fn line(&self, seconds: f64) -> String {
        let mb = self.decoded_bytes as f64 / 1e6;
        format!(
            "stackfold: {} files ({} failed, {} not matched, {} off the naming convention), {} lines, \
             {} events ({} without header, {} truncated), {} exceptions in {} groups, \
             {mb:.1} MB in {seconds:.2} s ({:.0} MB/s)",
            self.files,
            self.failed_files,
            self.unreadable_args,
            self.unnamed_files,
            self.lines,
            self.events,
            self.headerless,
            self.truncated,
            self.exceptions,
            self.groups,
            mb / seconds.max(1e-9),
        )
    }
}
