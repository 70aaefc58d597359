//! `stackfold search`, `exceptions` and `show`: queries of the index.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{ExceptionsArgs, FilterArgs, SearchArgs, ShowArgs};
use crate::query::time::parse_time;
use crate::query::{Filters, GroupDetail, GroupSummary, QueryError, Reader, ValueCount};

/// The filters of the command line, with times resolved against now.
pub fn filters(args: &FilterArgs) -> Result<Filters, QueryError> {
    let now = jiff::Timestamp::now();
    let time = |t: &Option<String>| {
        t.as_deref()
            .map(|t| parse_time(t, now))
            .transpose()
            .map_err(QueryError::BadParameter)
    };
    Ok(Filters {
        from: time(&args.from)?,
        to: time(&args.to)?,
        app: args.app.clone(),
        env: args.env.clone(),
        host: args.host.clone(),
        tag: args.tag.clone(),
        level: args.level.clone(),
        ..Filters::default()
    })
}

/// Prints a query error; syntax errors and bad parameters exit 2, index errors 1.
fn failed(err: QueryError) -> anyhow::Result<ExitCode> {
    match &err {
        QueryError::Syntax {
            position: Some(p), ..
        } => eprintln!("stackfold: error: {err} (at byte {p})"),
        _ => eprintln!("stackfold: error: {err}"),
    }
    Ok(match err {
        QueryError::Index(_) => ExitCode::FAILURE,
        _ => ExitCode::from(2),
    })
}

pub fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let reader = Reader::open(&args.data)?;
    let events =
        match filters(&args.filters).and_then(|f| reader.search(&args.query, &f, args.limit)) {
            Ok(events) => events,
            Err(err) => return failed(err),
        };
    let mut out = BufWriter::new(io::stdout().lock());
    for event in &events {
        if args.json {
            serde_json::to_writer(&mut out, event)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", event_line(event))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `ts LEVEL app/host logger: message  [root type]`.
fn event_line(e: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut line = format!(
        "{} {:<5} {}/{} {}: {}",
        s(&e["ts"]),
        s(&e["level"]),
        s(&e["meta"]["app"]),
        s(&e["meta"]["host"]),
        s(&e["logger"]),
        s(&e["message"])
    );
    if let Some(root) = e["exception"]["root_type"].as_str() {
        line.push_str(&format!("  [{root}]"));
    }
    line
}

pub fn exceptions(args: ExceptionsArgs) -> anyhow::Result<ExitCode> {
    let reader = Reader::open(&args.data)?;
    let mut groups = match filters(&args.filters).and_then(|f| reader.groups(&args.query, &f)) {
        Ok(groups) => groups,
        Err(err) => return failed(err),
    };
    if let Some(limit) = args.limit {
        groups.truncate(limit);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &groups)?;
        writeln!(out)?;
    } else {
        write_groups(&mut out, &groups)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_groups(out: &mut impl Write, groups: &[GroupSummary]) -> io::Result<()> {
    writeln!(
        out,
        "{:>7}  {:<32}  {:<24}  {:<24}  {:<10}  ROOT TYPE / TEMPLATE",
        "COUNT", "FINGERPRINT", "FIRST SEEN", "LAST SEEN", "FIRST TAG"
    )?;
    for g in groups {
        writeln!(
            out,
            "{:>7}  {:<32}  {:<24}  {:<24}  {:<10}  {}",
            g.count,
            g.fingerprint,
            g.first_seen.as_deref().unwrap_or("-"),
            g.last_seen.as_deref().unwrap_or("-"),
            g.first_tag.as_deref().unwrap_or("-"),
            g.root_type
        )?;
        let apps = counts(&g.apps);
        writeln!(
            out,
            "{:>110}{}  [{}]",
            "",
            g.template.chars().take(100).collect::<String>(),
            apps
        )?;
    }
    Ok(())
}

fn counts(values: &[ValueCount]) -> String {
    values
        .iter()
        .map(|v| format!("{} ({})", v.value, v.count))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let reader = Reader::open(&args.data)?;
    let detail = match filters(&args.filters)
        .and_then(|f| reader.group(&args.fingerprint, &f, args.samples))
    {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            eprintln!(
                "stackfold: error: no exception group {} (in that range)",
                args.fingerprint
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return failed(err),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &detail)?;
        writeln!(out)?;
    } else {
        write_detail(&mut out, &detail)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_detail(out: &mut impl Write, d: &GroupDetail) -> io::Result<()> {
    let g = &d.summary;
    writeln!(out, "{}  {}", g.fingerprint, g.root_type)?;
    writeln!(out, "  {}", g.template)?;
    writeln!(
        out,
        "  {} events, first seen {} (tag {}), last seen {}",
        g.count,
        g.first_seen.as_deref().unwrap_or("-"),
        g.first_tag.as_deref().unwrap_or("-"),
        g.last_seen.as_deref().unwrap_or("-")
    )?;
    for (name, values) in [
        ("apps", &g.apps),
        ("envs", &g.envs),
        ("hosts", &g.hosts),
        ("tags", &g.tags),
    ] {
        writeln!(out, "  {name}: {}", counts(values))?;
    }
    writeln!(out, "\nGrouped by:")?;
    for component in &d.explain {
        writeln!(out, "  {component}")?;
    }
    writeln!(
        out,
        "\nEvents per {}s from {}:",
        d.histogram.interval_seconds, d.histogram.from
    )?;
    let max = d
        .histogram
        .buckets
        .iter()
        .map(|b| b.1)
        .max()
        .unwrap_or(0)
        .max(1);
    for (start, count) in d.histogram.buckets.iter().filter(|b| b.1 > 0) {
        let bar = "#".repeat(((count * 40).div_ceil(max)) as usize);
        writeln!(out, "  {start}  {count:>6}  {bar}")?;
    }
    let latest = &d.latest;
    writeln!(
        out,
        "\nLatest event ({}:{}):",
        latest["source"].as_str().unwrap_or("-"),
        latest["line"]
    )?;
    writeln!(out, "{}", latest["text"].as_str().unwrap_or(""))?;
    writeln!(out, "\nRecent events:")?;
    for e in &d.samples {
        writeln!(
            out,
            "  {}  {}:{}  id {}",
            e["ts"].as_str().unwrap_or("-"),
            e["source"].as_str().unwrap_or("-"),
            e["line"],
            e["id"].as_str().unwrap_or("-")
        )?;
    }
    Ok(())
}
