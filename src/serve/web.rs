//! The web UI: files of `web/` embedded in the binary, or read from a directory in
//! development (`--web-dir`).

use std::path::PathBuf;

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Embedded;

/// Where the UI's files come from.
#[derive(Debug, Clone, Default)]
pub struct WebAssets {
    /// Serve from this directory instead of the embedded copy.
    pub dir: Option<PathBuf>,
}

impl WebAssets {
    /// The file for `uri`; `/` and unknown paths without an extension get `index.html` (the
    /// UI routes in the URL fragment, so this only catches mistyped links).
    pub fn respond(&self, uri: &Uri) -> Response {
        let path = uri.path().trim_start_matches('/');
        let path = if path.is_empty() || !path.contains('.') {
            "index.html"
        } else if path == "favicon.ico" {
            // Asked by browsers and tools that do not read the page's icon link.
            "favicon.svg"
        } else {
            path
        };
        if path.contains("..") {
            return StatusCode::NOT_FOUND.into_response();
        }
        let bytes = match &self.dir {
            Some(dir) => std::fs::read(dir.join(path)).ok(),
            None => Embedded::get(path).map(|f| f.data.into_owned()),
        };
        match bytes {
            Some(bytes) => {
                let mime = mime_guess::from_path(path).first_or_octet_stream();
                (
                    [
                        (header::CONTENT_TYPE, mime.as_ref().to_owned()),
                        (header::CACHE_CONTROL, "no-cache".to_owned()),
                    ],
                    bytes,
                )
                    .into_response()
            }
            None => (StatusCode::NOT_FOUND, "not found").into_response(),
        }
    }
}
