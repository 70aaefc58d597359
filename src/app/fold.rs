//! `stackfold fold`: events as NDJSON, or the exception groups.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::pipeline_settings;
use super::summary::Summary;
use crate::cli::FoldArgs;
use crate::error::Chain;
use crate::event::Event;
use crate::fold::groups::{Group, GroupTable};
use crate::pipeline::{self, Output};
use crate::source::discover;

pub fn run(args: FoldArgs) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(pipeline_settings(&args.pipeline)?);
    let found = discover(&args.paths);
    for err in &found.errors {
        eprintln!("stackfold: error: {}", Chain(err));
    }
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut summary = Summary {
        unreadable_args: found.errors.len() as u64,
        ..Summary::default()
    };
    let mut groups = GroupTable::default();
    let mut write_error = None;
    pipeline::run(
        found.files.into_iter().map(Into::into).collect(),
        settings,
        |output| match output {
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
        },
    );
    if let Some(err) = write_error {
        return Err(err).context("writing events");
    }
    summary.groups = Some(groups.len() as u64);
    if args.groups {
        write_groups(&mut out, groups.sorted(), args.json)?;
    }
    out.flush().context("writing output")?;
    summary.seconds = started.elapsed().as_secs_f64();
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
