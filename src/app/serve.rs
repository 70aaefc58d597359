//! `stackfold serve` and `passwd`, and the server's start for `run` and `demo`.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::cli::{PasswdArgs, ServeArgs, ServerArgs};
use crate::config::ConfigFile;
use crate::error::Chain;
use crate::ingest::syslog::SyslogListen;
use crate::ingest::{Inlet, StreamSettings};
use crate::parse::HeaderParser;
use crate::serve::{AppState, Listen, Users, WebAssets, htpasswd_line};

/// Syslog listen addresses as given (`--syslog-listen`, `[server] syslog_listen`).
pub(super) fn syslog_listens(given: &[String]) -> anyhow::Result<Vec<SyslogListen>> {
    given
        .iter()
        .map(|s| s.parse::<SyslogListen>())
        .collect::<Result<Vec<_>, _>>()
        .context("syslog_listen")
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let syslog = syslog_listens(&args.syslog_listen)?;
    let mut state = app_state(args.data.clone(), &args.server)?;
    let settings = Arc::new(super::pipeline_settings(&args.pipeline)?);
    // Shipped streams close a quiet event after `[tail] idle_ms`, as followed files do.
    let config = match &args.pipeline.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let streams = StreamSettings {
        idle: config.tail.settings()?.idle,
        ..StreamSettings::default()
    };
    let _alerts = super::Alerts::start(&args.data, &config)?;
    // The inlet owns the index writer: with a `tail` writing the same index, this server
    // only reads.
    let inlet = match Inlet::start(&args.data, Arc::clone(&settings), streams) {
        Ok((inlet, thread)) => {
            state = state.with_inlet(inlet);
            Some(thread)
        }
        Err(err) => {
            tracing::warn!("not taking shipped logs: {}", Chain(&err));
            None
        }
    };
    let parser = HeaderParser::new(settings.zone.clone(), settings.assume_year, None);
    serve_listening(
        state,
        &args.server,
        Arc::new(AtomicBool::new(false)),
        syslog,
        Some(parser),
    )?;
    if let Some(thread) = inlet {
        // The router and its inlets are gone: the thread commits what it holds and ends.
        match thread.join() {
            Ok(result) => {
                result.context("indexing shipped logs")?;
            }
            Err(_) => anyhow::bail!("the ingest thread panicked"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's state over the index under `data`, with the users file loaded.
pub(super) fn app_state(data: std::path::PathBuf, server: &ServerArgs) -> anyhow::Result<AppState> {
    let users = server
        .basic_auth_file
        .as_deref()
        .map(Users::load)
        .transpose()?;
    let web = WebAssets {
        dir: server.web_dir.clone(),
    };
    let state = AppState::open(data, users, web)?;
    Ok(match &server.ingest_auth_file {
        Some(file) => state.with_ingest_users(Users::load(file)?),
        None => state,
    })
}

/// Serves until a signal or `stop`, taking syslog on `syslog` too; prints the URL once
/// listening.
pub(super) fn serve_listening(
    state: AppState,
    server: &ServerArgs,
    stop: Arc<AtomicBool>,
    syslog: Vec<SyslogListen>,
    syslog_parser: Option<HeaderParser>,
) -> anyhow::Result<()> {
    let tls = server.tls_cert.clone().zip(server.tls_key.clone());
    if server.max_connections == 0 || server.idle_timeout_secs == 0 {
        anyhow::bail!("--max-connections and --idle-timeout-secs must be at least 1");
    }
    let listen = Listen {
        addr: server.listen,
        tls,
        syslog,
        syslog_parser,
        max_connections: server.max_connections,
        idle: std::time::Duration::from_secs(server.idle_timeout_secs),
    };
    crate::serve::serve(state, listen, stop, |url| {
        eprintln!("stackfold: serving on {url} (Ctrl-C stops)");
        println!("{url}");
    })?;
    Ok(())
}

pub fn passwd(args: PasswdArgs) -> anyhow::Result<ExitCode> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        anyhow::bail!("empty password on stdin");
    }
    println!("{}", htpasswd_line(&args.user, password)?);
    Ok(ExitCode::SUCCESS)
}
