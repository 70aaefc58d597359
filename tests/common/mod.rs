//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use stackfold::config::ConfigFile;
use stackfold::pipeline::PipelineSettings;

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Default settings with the clock pinned: UTC, and 2020 for headers without a year.
pub fn settings() -> PipelineSettings {
    ConfigFile::default()
        .settings(Some("UTC"), 1, 2020)
        .expect("default settings are valid")
}

/// The `stackfold` binary built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stackfold"))
}
