//! The stackfold binary: parse the command line, start logging, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

/// Events are allocated on the folding threads and freed on tantivy's indexing threads, a
/// pattern glibc's allocator pays for in locks and consolidation (an eighth of `stackfold
/// index`'s CPU in its profile); mimalloc frees across threads cheaply.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = stackfold::cli::Cli::parse();
    // A long-running follower says what it follows, rotates and skips; one-shot commands
    // only warn.
    use stackfold::cli::Command;
    let level = match cli.command {
        Command::Tail(_) | Command::Run(_) | Command::Ship(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match stackfold::app::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stackfold: error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 2 for what the user can fix in the command (usage, config, query), 1 for what went wrong
/// doing it (a full disk, a damaged index, a central refusing an edge), as README says.
fn exit_code(err: &anyhow::Error) -> u8 {
    use stackfold::Error;
    for cause in err.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::Config(_)
                | Error::ConfigSyntax { .. }
                | Error::NamePattern { .. }
                | Error::Time { .. }
                | Error::Glob { .. }
                | Error::NotFound(_) => 2,
                _ => 1,
            };
        }
        if cause.is::<std::io::Error>() {
            return 1;
        }
    }
    2
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
