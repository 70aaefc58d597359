//! stackfold finds, folds and groups the exceptions in services' logs.
//!
//! The data flows through one module per stage, each depending only on earlier ones and on
//! [`event`], the types they all speak:
//!
//! ```text
//! source ─▶ decode ─▶ parse ─▶ fold ─▶ (index ─▶ query ─▶ serve)
//! files     plain/gz   headers  events,
//! & names   /zstd      & times  exceptions, fingerprints
//! ```
//!
//! [`pipeline`] knows threads and channels for batch reading; [`tail`] follows live files
//! into the index on one thread; [`app`] is the only one that knows every stage, and wires
//! them per subcommand.

pub mod app;
pub mod cli;
pub mod config;
pub mod decode;
pub mod error;
pub mod event;
pub mod fold;
pub mod index;
pub mod parse;
pub mod pipeline;
pub mod query;
pub mod read;
pub mod serve;
pub mod source;
pub mod tail;

pub use error::{Error, Result};
