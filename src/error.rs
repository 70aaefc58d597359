//! The crate's error type: every variant names the input it choked on, and keeps the error
//! that caused it as its [`source`](std::error::Error::source).
//!
//! A message does not repeat its source: printed with [`Chain`] (or anyhow's `{:#}`), an
//! error reads `index /data/index: Permission denied (os error 13)`, each cause once.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in stackfold's library stages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The triage database (`DATA/triage.sqlite`) failed.
    #[error("the triage database")]
    Triage(#[from] rusqlite::Error),
    /// Opening, reading or mapping a file failed.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A compressed stream is corrupt or truncated; `offset` counts the decoded bytes that were
    /// read (and turned into events) before the damage.
    #[error("{}: {format}: {message} at decoded byte {offset}", path.display())]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        offset: u64,
        message: String,
    },
    /// A decoded stream grew past the configured cap.
    #[error("{}: decoded size exceeds the cap of {cap} bytes", path.display())]
    TooLarge { path: PathBuf, cap: u64 },
    /// A path or glob given on the command line matched nothing.
    #[error("{0}: no such file, directory or matching glob")]
    NotFound(String),
    /// A glob pattern is malformed.
    #[error("{pattern}: bad glob")]
    Glob {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    /// tantivy failed on the index.
    #[error("index")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be opened or created.
    #[error("index {}", path.display())]
    IndexDir {
        path: PathBuf,
        #[source]
        source: tantivy::directory::error::OpenDirectoryError,
    },
    /// The index could not be opened or created.
    #[error("index {}", path.display())]
    IndexOpen {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    /// The directory holds no stackfold index of this build's schema.
    #[error("{}: {message}", path.display())]
    NotAnIndex { path: PathBuf, message: String },
    /// The checkpoints in the last commit's payload cannot be read.
    #[error("index: the checkpoints of the last commit")]
    Checkpoints(#[source] CheckpointError),
    /// A setting is invalid; the message says which and why.
    #[error("config: {0}")]
    Config(String),
    /// The config file does not parse; the source names the line.
    #[error("config: {}", path.display())]
    ConfigSyntax {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// The file-name pattern is not a valid regex once expanded.
    #[error("config: file name pattern {pattern:?}")]
    NamePattern {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    /// A time zone name is unknown, or a time does not parse.
    #[error("config: {what}")]
    Time {
        what: String,
        #[source]
        source: jiff::Error,
    },
    /// A password could not be hashed, or a users file's hash checked.
    #[error("password hash: {0}")]
    PasswordHash(String),
    /// Shipping to a central (`ship`) cannot go on: its state, or what the central said.
    #[error("ship: {what}")]
    Ship { what: String },
    /// The HTTP server could not start, or failed while serving.
    #[error("serve: {context}")]
    Serve {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why a commit payload's checkpoints could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not the JSON this build writes")]
    Json(#[from] serde_json::Error),
    #[error("version {found} (this build reads {expected})")]
    Version { found: u32, expected: u32 },
}

/// `Result` with stackfold's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Displays an error and each of its causes, separated by `: `.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_names_each_cause_once() {
        let err = Error::Io {
            path: "/var/log/app.log".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(Chain(&err).to_string(), "/var/log/app.log: no such file");
        assert_eq!(
            format!("{:#}", anyhow::Error::new(err)),
            "/var/log/app.log: no such file"
        );
    }
}
