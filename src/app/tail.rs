//! `stackfold tail` and `stackfold run`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use super::pipeline_settings;
use super::serve::{app_state, serve_listening, syslog_listens};
use crate::cli::{RunArgs, ServerArgs, TailArgs};
use crate::config::ConfigFile;
use crate::error::Chain;
use crate::index::{EventWriter, Ingest};
use crate::ingest::syslog::SyslogListen;
use crate::ingest::{Inlet, StreamSettings};
use crate::parse::HeaderParser;
use crate::pipeline::PipelineSettings;
use crate::query::time::parse_duration;
use crate::tail::{TailCounters, TailSettings, Tailer};

/// Default indexing memory of a tailer: live logs arrive slowly; backfill is the heavy part.
const TAIL_HEAP_MB: usize = 64;

pub fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let settings = pipeline_settings(&args.pipeline)?;
    let config = match &args.pipeline.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let _alerts = super::Alerts::start(&args.data, &config)?;
    let stop = stop_on_signals()?;
    let mut tailer = tailer(
        &args.data,
        args.paths,
        settings,
        args.tail.settings()?,
        args.heap_mb,
    )?;
    eprintln!(
        "stackfold: following into {} (Ctrl-C or SIGTERM commits and stops)",
        args.data.display()
    );
    let counters = tailer.run(&stop)?;
    report(&counters);
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = ConfigFile::load(&args.config)?;
    let base = args.config.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| base.join(p);
    let paths: Vec<String> = config.input.paths.clone().unwrap_or_default();
    if paths.is_empty() {
        anyhow::bail!(
            "{}: [input] paths: nothing to follow",
            args.config.display()
        );
    }
    let paths = paths
        .iter()
        .map(|p| resolve(Path::new(p)).to_string_lossy().into_owned())
        .collect();
    if let Some(ship) = &config.ship {
        if config.index.data.is_some() {
            anyhow::bail!(
                "{}: [ship] and [index] data exclude each other: an edge ships, a central indexes",
                args.config.display()
            );
        }
        let tail = config.tail.settings()?;
        let this_year = jiff::Zoned::now().year();
        let pipeline = config.settings(None, 0, this_year)?;
        return super::ship::run_config(paths, ship, tail, pipeline, resolve);
    }
    let data = config
        .index
        .data
        .as_deref()
        .map(resolve)
        .with_context(|| format!("{}: [index] data is required", args.config.display()))?;
    let mut tail_settings = config.tail.settings()?;
    tail_settings.retention = config
        .index
        .retention
        .as_deref()
        .map(|r| parse_duration(r).map(|d| d.unsigned_abs()))
        .transpose()
        .with_context(|| format!("{}: [index] retention", args.config.display()))?;
    let server = ServerArgs {
        listen: config
            .server
            .listen
            .unwrap_or_else(|| "127.0.0.1:7280".parse().expect("a valid address")),
        basic_auth_file: config.server.basic_auth_file.as_deref().map(resolve),
        ingest_auth_file: config.server.ingest_auth_file.as_deref().map(resolve),
        tls_cert: config.server.tls_cert.as_deref().map(resolve),
        tls_key: config.server.tls_key.as_deref().map(resolve),
        web_dir: None,
        max_connections: crate::serve::MAX_CONNECTIONS,
        idle_timeout_secs: crate::serve::IDLE.as_secs(),
    };
    if server.tls_cert.is_some() != server.tls_key.is_some() {
        anyhow::bail!(
            "{}: [server] tls_cert and tls_key go together",
            args.config.display()
        );
    }
    let syslog = syslog_listens(config.server.syslog_listen.as_deref().unwrap_or_default())
        .with_context(|| format!("{}: [server]", args.config.display()))?;
    let this_year = jiff::Zoned::now().year();
    let settings = config.settings(None, 0, this_year)?;
    let heap_mb = config.index.heap_mb.unwrap_or(TAIL_HEAP_MB);
    let idle = tail_settings.idle;
    let tailer = tailer(&data, paths, settings.clone(), tail_settings, heap_mb)?;
    let _alerts = super::Alerts::start(&data, &config)?;
    let counters = tail_and_serve(tailer, data, &server, Arc::new(settings), idle, syslog)?;
    report(&counters);
    Ok(ExitCode::SUCCESS)
}

/// Runs `tailer` on the folding thread, which also takes what shippers send (`_bulk`, OTLP,
/// and syslog on `syslog`), and serves the index under `data` until a signal, or until the
/// tailer fails; returns what the tailer did.
pub(super) fn tail_and_serve(
    mut tailer: Tailer,
    data: std::path::PathBuf,
    server: &ServerArgs,
    pipeline: Arc<PipelineSettings>,
    idle: std::time::Duration,
    syslog: Vec<SyslogListen>,
) -> anyhow::Result<TailCounters> {
    let stop = stop_on_signals()?;
    let state = app_state(data.clone(), server)?;
    let reader = Arc::clone(&state.reader);
    // Searches see each commit at once, rather than when the reader next notices it.
    tailer.on_commit(move |_| {
        if let Err(err) = reader.reload() {
            tracing::warn!("reloading the reader: {}", Chain(&err));
        }
    });
    let streams = StreamSettings {
        idle,
        ..StreamSettings::default()
    };
    let parser = HeaderParser::new(pipeline.zone.clone(), pipeline.assume_year, None);
    // A tailer that fails stops the folding thread, which takes the server down with it: a
    // server over an index no longer fed would look healthy and lie.
    let (inlet, folding) =
        Inlet::start_with_tailer(&data, tailer, pipeline, streams, Arc::clone(&stop))?;
    let served = serve_listening(
        state.with_inlet(inlet),
        server,
        Arc::clone(&stop),
        syslog,
        Some(parser),
    );
    stop.store(true, Ordering::Relaxed);
    let counters = folding
        .join()
        .expect("the folding thread does not panic")?
        .expect("a folding thread with a tailer reports what it did");
    served?;
    Ok(counters)
}

pub(super) fn tailer(
    data: &Path,
    paths: Vec<String>,
    settings: PipelineSettings,
    tail: TailSettings,
    heap_mb: usize,
) -> anyhow::Result<Tailer> {
    let (index, fields) = crate::index::open_or_create(data)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let writer = EventWriter::open(&index, fields, heap_mb << 20, threads)?.with_stores(data)?;
    Ok(Tailer::new(
        paths,
        Arc::new(settings),
        tail,
        Ingest::new(writer),
    ))
}

/// A flag set by Ctrl-C (SIGINT) and SIGTERM.
pub(super) fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handlers")?;
    }
    Ok(stop)
}

pub(super) fn report(c: &TailCounters) {
    eprintln!(
        "stackfold: stopped after {} events ({} exceptions, {:.1} MB) from {} files; {} commits, {} rotations, {} truncations",
        c.ingested.events,
        c.ingested.exceptions,
        c.ingested.bytes as f64 / 1e6,
        c.files_opened,
        c.commits,
        c.rotations,
        c.truncations
    );
}
