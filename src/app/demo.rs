//! `stackfold demo`: the bundled logs indexed into a temporary directory, then followed and
//! served, so lines appended to them show up live.

use std::process::ExitCode;

use anyhow::Context;
use rust_embed::RustEmbed;

use crate::cli::{DemoArgs, IndexArgs, PipelineArgs};
use crate::tail::TailSettings;

/// The sample logs `demo` indexes: the real and synthetic fixtures, not the goldens, and not
/// `compressed/`, whose files are gzip and zstd twins of a Java fixture: indexed too, every
/// event of that file would show three times.
#[derive(RustEmbed)]
#[folder = "fixtures/"]
#[include = "java/*"]
#[include = "python/*"]
#[include = "go/*"]
struct Samples;

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
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
    let tail = TailSettings::default();
    let tailer = super::tail::tailer(&data, paths, settings.clone(), tail, 64)?;
    let pipeline = std::sync::Arc::new(settings);
    super::tail::tail_and_serve(tailer, data, &args.server, pipeline, tail.idle, Vec::new())?;
    drop(dir);
    Ok(ExitCode::SUCCESS)
}
