//! The command line: subcommands and flags (clap derive). Help text only; `app` acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Find, fold and group the exceptions in your services' logs.
#[derive(Debug, Parser)]
#[command(name = "stackfold", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fold log files into events and print them as NDJSON (one JSON object per line), or
    /// print the exception groups with --groups.
    Fold(FoldArgs),
}

/// Flags shared by every command that reads logs.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The config file (TOML): file-name pattern, time zone, caps, in-app prefixes.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Time zone of timestamps written without an offset (IANA name), overriding the config.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Worker threads; 0 means one per core.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct FoldArgs {
    /// Files, directories (read recursively) and globs; `-` reads standard input. Plain,
    /// gzip and zstd are recognised by their content.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// Print the exception groups (count, root type, top in-app frame, first and last seen)
    /// instead of the events.
    #[arg(long)]
    pub groups: bool,
    /// With --groups: print the groups as a JSON array.
    #[arg(long, requires = "groups")]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}
