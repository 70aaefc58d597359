//! `stackfold search`, `exceptions`, `show` and `patterns --data`: queries of the index.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{
    ExceptionsArgs, FilterArgs, IgnoreArgs, PatternsArgs, ResolveArgs, SearchArgs, ShowArgs,
    TriageArgs,
};
use crate::error::Chain;
use crate::event::{EventRecord, Level};
use crate::query::time::parse_time;
use crate::query::{
    Filters, GroupDetail, GroupSort, GroupSummary, QueryError, Reader, StoredEvent, ValueCount,
};
use crate::triage::{self, Change, GroupQuery, Status, StatusFilter, Store};

/// The filters of the command line, with times resolved against now.
pub fn filters(args: &FilterArgs) -> Result<Filters, QueryError> {
    let now = jiff::Timestamp::now();
    let time = |t: &Option<String>| {
        t.as_deref()
            .map(|t| parse_time(t, now))
            .transpose()
            .map_err(QueryError::from)
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
        _ => eprintln!("stackfold: error: {}", Chain(&err)),
    }
    Ok(match err {
        QueryError::Index(_) => ExitCode::FAILURE,
        _ => ExitCode::from(2),
    })
}

/// Events read per page when printing many: a page is held in memory, the rest streams.
const EXPORT_PAGE: usize = 1000;

pub fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let reader = Reader::open(&args.data)?;
    let filters = match filters(&args.filters) {
        Ok(filters) => filters,
        Err(err) => return failed(err),
    };
    let mut left = match (args.all, args.limit) {
        (true, _) | (false, 0) => usize::MAX,
        (false, n) => n,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let mut cursor: Option<String> = None;
    while left > 0 {
        let page = reader.events_page(
            &args.query,
            &filters,
            left.min(EXPORT_PAGE),
            cursor.as_deref(),
        );
        let (events, next) = match page {
            Ok(page) => page,
            Err(err) => return failed(err),
        };
        for event in &events {
            write_event(&mut out, event, args.json)?;
        }
        left -= events.len();
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_event(out: &mut impl Write, event: &StoredEvent, json: bool) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, event)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", event_line(&event.event))?;
    }
    Ok(())
}

/// `ts LEVEL app/host logger: message  [root type]`.
fn event_line(e: &EventRecord) -> String {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let mut line = format!(
        "{} {:<5} {}/{} {}: {}",
        e.ts.map_or_else(|| "-".to_owned(), |ts| ts.to_string()),
        e.level.map_or("-", |l| l.as_str()),
        or_dash(e.meta.app.as_deref()),
        or_dash(e.meta.host.as_deref()),
        or_dash(e.logger.as_deref()),
        e.message
    );
    if let Some(exception) = &e.exception {
        line.push_str(&format!("  [{}]", exception.root_type));
    }
    line
}

pub fn exceptions(args: ExceptionsArgs) -> anyhow::Result<ExitCode> {
    let status: StatusFilter = match args.status.parse() {
        Ok(status) => status,
        Err(err) => return failed(QueryError::BadParameter(err)),
    };
    let reader = Reader::open(&args.data)?;
    let records = Store::records_under(&args.data)?;
    let filters = match filters(&args.filters) {
        Ok(filters) => filters,
        Err(err) => return failed(err),
    };
    // `--limit 0`, like `--all` or no limit, lists every group.
    let limit = args
        .limit
        .filter(|&n| n > 0 && !args.all)
        .unwrap_or(usize::MAX);
    let query = GroupQuery {
        text: &args.query,
        filters: &filters,
        sort: GroupSort::Count,
        limit,
        trend_buckets: 0,
        status,
    };
    let groups = match triage::group_list(&reader, &records, query) {
        Ok(list) => list.groups,
        Err(err) => return failed(err),
    };
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

/// `stackfold patterns --data DIR`: the patterns of the indexed events, most frequent first.
pub(super) fn indexed_patterns(
    data: &Path,
    args: &PatternsArgs,
    least: Option<Level>,
) -> anyhow::Result<ExitCode> {
    let reader = Reader::open(data)?;
    let levels = least.map_or_else(Vec::new, |least| {
        Level::ALL
            .iter()
            .filter(|l| **l >= least)
            .map(|l| l.as_str().to_owned())
            .collect()
    });
    let filter_args = FilterArgs {
        from: args.from.clone(),
        to: args.to.clone(),
        app: args.app.clone(),
        env: args.env.clone(),
        host: args.host.clone(),
        tag: args.tag.clone(),
        level: levels,
    };
    let limit = args.limit.filter(|&n| n > 0).unwrap_or(usize::MAX);
    let status: StatusFilter = match args.status.parse() {
        Ok(status) => status,
        Err(err) => return failed(QueryError::BadParameter(err)),
    };
    let records = Store::records_under(data)?;
    let listed = filters(&filter_args).and_then(|f| {
        let query = GroupQuery {
            text: &args.query,
            filters: &f,
            sort: GroupSort::Count,
            limit,
            trend_buckets: 0,
            status,
        };
        triage::pattern_list(&reader, &records, query)
    });
    let list = match listed {
        Ok(list) => list,
        Err(err) => return failed(err),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    super::fold::write_patterns(&mut out, list.patterns, args.json)?;
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
    let mut detail = detail;
    if let Some(record) = Store::records_under(&args.data)?.get(&args.fingerprint) {
        match triage::status_of(&reader, record, jiff::Timestamp::now()) {
            Ok(triaged) => triage::annotate(&mut detail.summary, &triaged),
            Err(err) => return failed(err),
        }
    }
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
    writeln!(out, "{}  {}  [{}]", g.fingerprint, g.root_type, g.status)?;
    if let Some(at) = &g.regressed_at {
        let release = g.regressed_in.as_deref().unwrap_or("-");
        writeln!(out, "  regressed at {at} in release {release}")?;
    }
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
    if let Some(latest) = &d.latest {
        let latest = &latest.event;
        writeln!(out, "\nLatest event ({}:{}):", latest.source, latest.line)?;
        writeln!(out, "{}", latest.text)?;
    }
    writeln!(out, "\nRecent events:")?;
    for e in &d.samples {
        writeln!(
            out,
            "  {}  {}:{}  id {}",
            e.event
                .ts
                .map_or_else(|| "-".to_owned(), |ts| ts.to_string()),
            e.event.source,
            e.event.line,
            e.id
        )?;
    }
    Ok(())
}

/// `stackfold resolve`.
pub fn resolve(args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let change = Change {
        status: Status::Resolved,
        in_release: args.in_release,
        until_count: None,
        until: None,
    };
    set_status(&args.group, change)
}

/// `stackfold ignore`.
pub fn ignore(args: IgnoreArgs) -> anyhow::Result<ExitCode> {
    let until = match args.until.as_deref().map(future_time).transpose() {
        Ok(until) => until,
        Err(err) => return failed(QueryError::BadParameter(err)),
    };
    let change = Change {
        status: Status::Ignored,
        in_release: None,
        until_count: args.until_count,
        until,
    };
    set_status(&args.group, change)
}

/// `stackfold reopen`.
pub fn reopen(args: TriageArgs) -> anyhow::Result<ExitCode> {
    let change = Change {
        status: Status::Unresolved,
        in_release: None,
        until_count: None,
        until: None,
    };
    set_status(&args, change)
}

/// `--until`: RFC 3339, or a duration from now (`7d`, `12h`).
fn future_time(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let span = crate::query::time::parse_duration(text)
        .map_err(|_| format!("--until {text:?}: use RFC 3339 or a duration such as 7d or 12h"))?;
    jiff::Timestamp::now()
        .checked_add(span)
        .map_err(|e| format!("--until {text:?}: {e}"))
}

/// Records `change` for the group or pattern of `args`, which must be in the index.
fn set_status(args: &TriageArgs, change: Change) -> anyhow::Result<ExitCode> {
    let fp = &args.fingerprint;
    if !matches!(fp.len(), 16 | 32) || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return failed(QueryError::BadParameter(format!(
            "{fp:?} is neither a fingerprint (32 hex digits) nor a pattern id (16)"
        )));
    }
    if let Some(problem) = change.problem() {
        return failed(QueryError::BadParameter(problem));
    }
    let reader = Reader::open(&args.data)?;
    let (only, what) = if triage::is_pattern_id(fp) {
        let only = Filters {
            pattern: vec![fp.clone()],
            ..Filters::default()
        };
        (only, "pattern")
    } else {
        let only = Filters {
            fingerprint: vec![fp.clone()],
            ..Filters::default()
        };
        (only, "exception group")
    };
    match reader.count("", &only) {
        Ok(0) => {
            return failed(QueryError::BadParameter(format!(
                "no {what} {fp} in {}",
                args.data.display()
            )));
        }
        Ok(_) => {}
        Err(err) => return failed(err),
    }
    let by = args
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".to_owned());
    let record = Store::open(&args.data)?.set(fp, &change, &by)?;
    eprintln!(
        "stackfold: {fp} is {}{} (by {by})",
        record.status.as_str(),
        record
            .in_release
            .as_deref()
            .map(|r| format!(" in release {r}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
