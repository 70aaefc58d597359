//! `stackfold ship`, and `run` with a `[ship]` section: the tailer with the network sink.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::pipeline_settings;
use super::tail::{report, stop_on_signals};
use crate::cli::{ShipArgs, ShipOptions};
use crate::pipeline::PipelineSettings;
use crate::ship::{Central, Credentials, ShipSettings, Shipper, StateDir};
use crate::tail::{TailSettings, Tailer};

/// Events per batch: each batch costs the central a commit (~40 ms), so batches are large;
/// 50,000 events of typical logs are 6 MiB of text, 30 MB of NDJSON.
const DEFAULT_BATCH_EVENTS: u64 = 50_000;
const DEFAULT_BATCH_MB: u64 = 8;

pub fn ship(args: ShipArgs) -> anyhow::Result<ExitCode> {
    let pipeline = pipeline_settings(&args.pipeline)?;
    edge(args.paths, &args.ship, args.tail.settings()?, pipeline)
}

/// `run` on an edge: `options` from the config file, its relative paths resolved by `resolve`.
pub(super) fn run_config(
    paths: Vec<String>,
    options: &ShipOptions,
    tail: TailSettings,
    pipeline: PipelineSettings,
    resolve: impl Fn(&Path) -> PathBuf,
) -> anyhow::Result<ExitCode> {
    let resolve_opt = |p: &Option<PathBuf>| p.as_deref().map(&resolve);
    let options = ShipOptions {
        state: resolve_opt(&options.state),
        ca: resolve_opt(&options.ca),
        password_file: resolve_opt(&options.password_file),
        api_key_file: resolve_opt(&options.api_key_file),
        ..options.clone()
    };
    edge(paths, &options, tail, pipeline)
}

fn edge(
    paths: Vec<String>,
    options: &ShipOptions,
    tail: TailSettings,
    mut pipeline: PipelineSettings,
) -> anyhow::Result<ExitCode> {
    let to = options
        .to
        .as_deref()
        .context("ship: --to (or [ship] to) is required")?;
    let host = match &options.host_name {
        Some(name) => name.clone(),
        None => hostname().context("ship: the machine's hostname is unknown; give --host-name")?,
    };
    pipeline.host = Some(host.clone());
    let state_dir = match &options.state {
        Some(dir) => dir.clone(),
        None => crate::ship::default_dir().context("ship: no $HOME for the state; give --state")?,
    };
    let (state, saved) = StateDir::open(&state_dir)?;
    if !saved.edge.is_empty() && saved.edge != host {
        tracing::warn!(
            was = saved.edge,
            now = host,
            "the edge's name changed: events shipped from now on carry the new one"
        );
    }
    if !saved.central.is_empty() && saved.central != to.trim_end_matches('/') {
        tracing::warn!(
            was = saved.central,
            now = to,
            "another central than before: files go on from the positions the previous one acknowledged"
        );
    }
    let central = Central::new(to, options.ca.as_deref(), credentials(options)?)?;
    let settings = ShipSettings {
        retry_max: options
            .retry_max_ms
            .map_or(ShipSettings::default().retry_max, Duration::from_millis),
        ..ShipSettings::default()
    };
    let shipper = Shipper::start(&host, central, state, saved.checkpoints, settings);
    if let Some(addr) = options.metrics_listen {
        crate::ship::serve_metrics(addr, shipper.status())
            .with_context(|| format!("ship: metrics on {addr}"))?;
    }
    let tail = TailSettings {
        commit_events: options.batch_events.unwrap_or(DEFAULT_BATCH_EVENTS).max(1),
        commit_bytes: options.batch_mb.unwrap_or(DEFAULT_BATCH_MB).max(1) << 20,
        ..tail
    };
    let stop = stop_on_signals()?;
    let mut tailer = Tailer::new(paths, Arc::new(pipeline), tail, shipper);
    eprintln!(
        "stackfold: shipping to {to} as {host}, state in {} (Ctrl-C or SIGTERM stops)",
        state_dir.display()
    );
    let tailed = tailer.run(&stop);
    let shipped = tailer.into_sink().finish();
    // The sender's reason to stop explains the tailer's failure, so it goes first.
    let shipped = shipped?;
    let counters = tailed?;
    report(&counters);
    eprintln!(
        "stackfold: {} events acknowledged in {} batches ({} already there, {} refused), {} retries",
        shipped.events_acked,
        shipped.batches_acked,
        shipped.events_duplicate,
        shipped.events_rejected,
        shipped.retries
    );
    Ok(ExitCode::SUCCESS)
}

/// The credentials the flags and the environment give: a password or key never comes from
/// the command line, where every user of the machine can read it.
fn credentials(options: &ShipOptions) -> anyhow::Result<Credentials> {
    let secret = |file: &Option<PathBuf>, var: &str| -> anyhow::Result<Option<String>> {
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("ship: reading {}", file.display()))?;
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
        }
        Ok(std::env::var(var).ok().filter(|v| !v.is_empty()))
    };
    if let Some(key) = secret(&options.api_key_file, "STACKFOLD_API_KEY")? {
        return Ok(Credentials::ApiKey(key));
    }
    let password = secret(&options.password_file, "STACKFOLD_PASSWORD")?;
    match (&options.user, password) {
        (Some(user), Some(password)) => Ok(Credentials::Basic {
            user: user.clone(),
            password,
        }),
        (Some(user), None) => anyhow::bail!(
            "ship: --user {user} needs a password: --password-file or $STACKFOLD_PASSWORD"
        ),
        (None, Some(_)) => anyhow::bail!("ship: a password needs --user"),
        (None, None) => Ok(Credentials::None),
    }
}

/// The kernel's name for this machine.
fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}
