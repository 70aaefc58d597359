//! stackfold finds, folds and groups the exceptions in services' logs.
//!
//! The data flows through one module per stage, each depending only on earlier ones and on
//! [`event`], the types they all speak:
//!
//! ```text
//! source ─▶ decode ─▶ parse ─▶ fold ─▶ read ─▶ pipeline ─▶ index ─▶ query ─▶ serve
//! files     plain/gz   headers  events,  one     files in    the one   typed    HTTP
//! & names   /zstd      & times  groups   file    parallel    sink      results  & UI
//! ```
//!
//! [`tail`] follows live files into the same sink on one thread, and [`ship`] follows them on
//! an edge into the network instead, to a central's `_bulk` ([`ingest`]); [`app`] is the only module
//! that knows every stage, and wires them per subcommand. README.md's "Layout" puts every
//! module on a floor (`tests/layers.rs` keeps imports going down); [`triage`] keeps the
//! groups' status beside the index; docs/architecture.md says
//! where state lives and what is durable when.

pub mod app;
pub mod cli;
pub mod config;
pub mod decode;
pub mod error;
pub mod event;
pub mod fold;
pub mod index;
pub mod ingest;
pub mod parse;
pub mod pipeline;
pub mod query;
pub mod read;
pub mod serve;
pub mod ship;
pub mod source;
pub mod tail;
pub mod triage;

pub use error::{Error, Result};
