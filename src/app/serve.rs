//! `stackfold serve`, `demo` and `passwd`.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use rust_embed::RustEmbed;

use crate::cli::{DemoArgs, IndexArgs, PasswdArgs, PipelineArgs, ServeArgs, ServerArgs};
use crate::serve::{AppState, Listen, Users, WebAssets, htpasswd_line};
use crate::tail::TailSettings;

/// The sample logs `demo` indexes: the real and synthetic fixtures, not the goldens.
#[derive(RustEmbed)]
#[folder = "fixtures/"]
#[include = "java/*"]
#[include = "python/*"]
#[include = "go/*"]
#[include = "compressed/*"]
struct Samples;

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

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("stackfold-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let logs = dir.path().join("logs");
    for name in Samples::iter() {
        let file = Samples::get(&name).expect("listed by the embed");
        let path = logs.join(name.as_ref());
        std::fs::create_dir_all(path.parent().expect("files are in folders"))?;
        std::fs::write(&path, file.data)?;
    }
    let data = dir.path().join("data");
    let index_args = IndexArgs {
        data: data.clone(),
        paths: vec![logs.display().to_string()],
        heap_mb: 64,
        commit_mb: 1024,
        json: false,
        pipeline: PipelineArgs {
            config: None,
            tz: Some("UTC".into()),
            threads: 0,
        },
    };
    super::index::run(index_args)?;
    // Then follow the same files, so what is appended to them shows up live.
    eprintln!(
        "stackfold: the demo logs are in {}; lines appended to them appear in the UI (Live)",
        logs.display()
    );
    let settings = super::pipeline_settings(&PipelineArgs {
        config: None,
        tz: Some("UTC".into()),
        threads: 0,
    })?;
    let paths = vec![logs.display().to_string()];
    let tailer = super::tail::tailer(&data, paths, settings, TailSettings::default(), 64)?;
    super::tail::tail_and_serve(tailer, data, &args.server)?;
    drop(dir);
    Ok(ExitCode::SUCCESS)
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
