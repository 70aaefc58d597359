//! `stackfold fold`: events as NDJSON, or the exception groups; `stackfold patterns`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::pipeline_settings;
use super::summary::Summary;
use crate::cli::{FoldArgs, PatternsArgs, PipelineArgs};
use crate::error::Chain;
use crate::event::{Event, Level};
use crate::fold::groups::{Group, GroupTable, MAX_PATTERNS, PatternSummary, PatternTable};
use crate::pipeline::{self, Output};
use crate::source::discover;

pub fn run(args: FoldArgs) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut groups = GroupTable::default();
    let mut summary = read_events(&args.paths, &args.pipeline, |event| {
        groups.add(event);
        if args.groups {
            Ok(())
        } else {
            write_event(&mut out, event)
        }
    })?;
    summary.groups = Some(groups.len() as u64);
    if args.groups {
        write_groups(&mut out, groups.sorted(), args.json)?;
    }
    out.flush().context("writing output")?;
    finish(summary)
}

/// `stackfold patterns PATHS`: the patterns of the events without a trace, most frequent
/// first.
pub fn patterns(args: PatternsArgs) -> anyhow::Result<ExitCode> {
    let least =
        match args.level.as_deref() {
            None => None,
            Some(word) => Some(Level::from_word(&word.to_ascii_uppercase()).with_context(
                || format!("--level {word}: use TRACE, DEBUG, INFO, WARN, ERROR or FATAL"),
            )?),
        };
    if let Some(data) = &args.data {
        return super::query::indexed_patterns(data, &args, least);
    }
    let mut table = PatternTable::default();
    let summary = read_events(&args.paths, &args.pipeline, |event| {
        if least.is_none_or(|least| event.level.is_some_and(|l| l >= least)) {
            table.add(event);
        }
        Ok(())
    })?;
    let overflow = table.overflow;
    let mut out = BufWriter::new(io::stdout().lock());
    write_patterns(&mut out, table.sorted(), args.json)?;
    out.flush().context("writing output")?;
    if overflow > 0 {
        eprintln!(
            "stackfold: {overflow} events of patterns beyond the first {MAX_PATTERNS} were counted apart"
        );
    }
    finish(summary)
}

/// Reads and folds the files `paths` name, calling `each` with every event in order; the
/// summary says what was read.
fn read_events(
    paths: &[String],
    pipeline: &PipelineArgs,
    mut each: impl FnMut(&Event) -> io::Result<()>,
) -> anyhow::Result<Summary> {
    let settings = Arc::new(pipeline_settings(pipeline)?);
    let found = discover(paths);
    for err in &found.errors {
        eprintln!("stackfold: error: {}", Chain(err));
    }
    let started = Instant::now();
    let mut summary = Summary {
        unreadable_args: found.errors.len() as u64,
        ..Summary::default()
    };
    let mut write_error = None;
    pipeline::run(
        found.files.into_iter().map(Into::into).collect(),
        settings,
        |output| match output {
            Output::Events(events) => {
                for event in &events {
                    if let Err(err) = each(event) {
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
        },
    );
    if let Some(err) = write_error {
        return Err(err).context("writing events");
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Prints the summary; fails when no file could be read.
fn finish(summary: Summary) -> anyhow::Result<ExitCode> {
    eprintln!("{}", summary.line());
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
        return write_json(out, &groups);
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

pub(super) fn write_patterns(
    out: &mut impl Write,
    patterns: Vec<PatternSummary>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return write_json(out, &patterns);
    }
    writeln!(
        out,
        "{:>7}  {:<16}  {:<24}  {:<24}  {:<12}  TEMPLATE",
        "COUNT", "PATTERN", "FIRST SEEN", "LAST SEEN", "LEVELS"
    )?;
    for p in patterns {
        let seen = |ts: Option<jiff::Timestamp>| ts.map_or("-".to_owned(), |t| t.to_string());
        let levels: Vec<&str> = p.levels.keys().map(String::as_str).collect();
        writeln!(
            out,
            "{:>7}  {:<16}  {:<24}  {:<24}  {:<12}  {}",
            p.count,
            p.id,
            seen(p.first_seen),
            seen(p.last_seen),
            levels.join(","),
            p.template
        )?;
    }
    Ok(())
}

/// `value` as indented JSON and a newline.
fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
