//! The crate's error type: every variant names the input it choked on.

use std::path::PathBuf;

/// Everything that can go wrong in stackfold's library stages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, reading or mapping a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A compressed stream is corrupt or truncated; `offset` counts the decoded bytes that were
    /// read (and turned into events) before the damage.
    #[error("{path}: {format}: {message} at decoded byte {offset}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        offset: u64,
        message: String,
    },
    /// A decoded stream grew past the configured cap.
    #[error("{path}: decoded size exceeds the cap of {cap} bytes")]
    TooLarge { path: PathBuf, cap: u64 },
    /// A path or glob given on the command line matched nothing.
    #[error("{0}: no such file, directory or matching glob")]
    NotFound(String),
    /// A glob pattern is malformed.
    #[error("{pattern}: bad glob: {message}")]
    Glob { pattern: String, message: String },
    /// The index could not be opened, written or read.
    #[error("index: {0}")]
    Index(String),
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(String),
}

/// `Result` with stackfold's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
