//! Stage 1, source: which files to read, and what their names say.
//!
//! In: paths, directories and globs from the command line (`-` is standard input). Out: the
//! files, in a stable order (arguments in order, each directory's files sorted by path),
//! each with the metadata of its name (docs/grouping.md §6). An argument that matches nothing
//! is an error of its own; the other arguments go on.

mod discover;
mod names;

pub use discover::{Discovered, discover};
pub use names::{DEFAULT_ENV_CODES, DEFAULT_NAME_PATTERN, NamePattern, date_timestamp, file_info};
