//! `stackfold serve` and `passwd`, and the server's start for `run` and `demo`.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::cli::{PasswdArgs, ServeArgs, ServerArgs};
use crate::serve::{AppState, Listen, Users, WebAssets, htpasswd_line};

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    run_server(args.data, &args.server)
}

fn run_server(data: std::path::PathBuf, server: &ServerArgs) -> anyhow::Result<ExitCode> {
    let state = app_state(data, server)?;
    serve_until_stopped(state, server, Arc::new(AtomicBool::new(false)))?;
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
    Ok(AppState::open(data, users, web)?)
}

/// Serves until a signal or `stop`; prints the URL once listening.
pub(super) fn serve_until_stopped(
    state: AppState,
    server: &ServerArgs,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let tls = server.tls_cert.clone().zip(server.tls_key.clone());
    let listen = Listen {
        addr: server.listen,
        tls,
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
