//! The central as the edge sees it: an Elasticsearch `_bulk` endpoint (a stackfold server, or
//! Elasticsearch and OpenSearch themselves), over HTTP or HTTPS, with Basic or `ApiKey`
//! credentials. Each answer is sorted into what the sender does next: done, retry later (how
//! much later, if the central says), or stop (the central will never take it as sent).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ingest::edge::CENTRAL_HEADER;

/// How long one request may take, connection included. A central answers a bulk once it is
/// committed, within a second or two; a minute means it is stuck, and the batch is sent again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// zstd's level for bodies: its fastest that still compresses logs about as well as gzip's
/// fastest.
const ZSTD_LEVEL: i32 = 1;
/// Largest answer read: a bulk answer is ~150 bytes per item.
const MAX_ANSWER_BYTES: u64 = 64 << 20;
/// Longest wait a `Retry-After` may ask for; beyond it, the sender's own back-off applies.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How the edge proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        user: String,
        password: String,
    },
    /// `Authorization: ApiKey <key>`: the key as Elasticsearch encodes it (base64 of
    /// `id:secret`), which a stackfold central reads as `user:password`.
    ApiKey(String),
}

impl Credentials {
    fn header(&self) -> Option<String> {
        match self {
            Credentials::None => None,
            Credentials::Basic { user, password } => {
                let pair = format!("{user}:{password}");
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Some(format!("Basic {encoded}"))
            }
            Credentials::ApiKey(key) => Some(format!("ApiKey {key}")),
        }
    }
}

/// What became of one request.
#[derive(Debug)]
pub enum Sent {
    /// The central answered each item: its HTTP-like status, in order.
    Items(Vec<u16>),
    /// Not taken now (429, 5xx, no connection, a timeout): send it again, after at least
    /// `after` if the central said.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Never taken as it is: wrong credentials, a URL that is no bulk endpoint, a TLS failure.
    Fatal(String),
}

/// The central's `_bulk` endpoint.
pub struct Central {
    agent: ureq::Agent,
    base: String,
    bulk: String,
    auth: Option<String>,
    /// The central said it is a stackfold server: bodies go zstd-compressed.
    zstd: AtomicBool,
}

impl Central {
    /// A client for the central at `url` (`http://host:port`, or with an index path, as
    /// Elasticsearch takes it: `https://es:9200/logs`), trusting the certificates of `ca`
    /// (PEM) instead of the bundled public roots when given.
    pub fn new(url: &str, ca: Option<&Path>, credentials: Credentials) -> Result<Central> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Ship {
                what: format!("--to {url}: expected an http:// or https:// URL"),
            });
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = ca {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_ca(ca)?));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .tls_config(tls.build())
            .user_agent(concat!("stackfold-ship/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Central {
            agent: ureq::Agent::new_with_config(config),
            bulk: format!("{base}/_bulk"),
            base,
            auth: credentials.header(),
            zstd: AtomicBool::new(false),
        })
    }

    /// Where the edge ships, as given.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Asks the central who it is (`GET /`), so that wrong credentials or a wrong URL stop
    /// the edge at start rather than at its first batch. A central that cannot be reached is
    /// not an error: the edge waits for it.
    pub fn probe(&self) -> Sent {
        let mut request = self.agent.get(&self.base);
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        match request.call() {
            Ok(mut response) => {
                self.note_central(&response);
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                judge(status, retry_after(&response), &body).unwrap_or(Sent::Items(Vec::new()))
            }
            Err(err) => transport(err),
        }
    }

    /// Sends one bulk body (NDJSON), compressed here: zstd to a stackfold central, gzip to
    /// anything else.
    pub fn bulk(&self, ndjson: &[u8]) -> Sent {
        let (body, encoding) = if self.zstd.load(Ordering::Relaxed) {
            let body = zstd::bulk::compress(ndjson, ZSTD_LEVEL).expect("compressing in memory");
            (body, "zstd")
        } else {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(ndjson).expect("writing to memory");
            (gz.finish().expect("writing to memory"), "gzip")
        };
        let mut request = self
            .agent
            .post(&self.bulk)
            .header("Content-Type", "application/x-ndjson")
            .header("Content-Encoding", encoding);
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        let mut response = match request.send(&body[..]) {
            Ok(response) => response,
            Err(err) => return transport(err),
        };
        self.note_central(&response);
        let status = response.status().as_u16();
        let after = retry_after(&response);
        let text = match response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
        {
            Ok(text) => text,
            Err(err) => return transport(err),
        };
        if !(200..300).contains(&status) {
            let judged = judge(status, after, &String::from_utf8_lossy(&text));
            return judged.expect("a status that is not 2xx is judged");
        }
        match serde_json::from_slice::<BulkAnswer>(&text) {
            Ok(answer) => Sent::Items(answer.statuses()),
            Err(err) => Sent::Retry {
                why: format!("the central's answer is not a bulk answer: {err}"),
                after: None,
            },
        }
    }
}

impl Central {
    fn note_central(&self, response: &ureq::http::Response<ureq::Body>) {
        let stackfold = response.headers().contains_key(CENTRAL_HEADER);
        self.zstd.store(stackfold, Ordering::Relaxed);
    }
}

/// Sorts a status that is not a bulk answer; `None` for 2xx.
fn judge(status: u16, after: Option<Duration>, body: &str) -> Option<Sent> {
    let said = || {
        let reason = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error"]["reason"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        format!("{status}: {reason}")
    };
    match status {
        200..=299 => None,
        401 | 403 => Some(Sent::Fatal(format!(
            "the central refused the edge's credentials ({})",
            said()
        ))),
        408 | 429 | 500..=599 => Some(Sent::Retry { why: said(), after }),
        _ => Some(Sent::Fatal(format!(
            "the central refused the batch ({})",
            said()
        ))),
    }
}

/// A failure below HTTP: certificates and URLs do not fix themselves; the rest may.
fn transport(err: ureq::Error) -> Sent {
    let why = err.to_string();
    match err {
        ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::BadUri(_)
        | ureq::Error::RequireHttpsOnly(_)
        | ureq::Error::TlsRequired => Sent::Fatal(format!("cannot reach the central: {why}")),
        ureq::Error::Io(ref io) if tls_refused(io) => {
            Sent::Fatal(format!("cannot reach the central: {why}"))
        }
        _ => Sent::Retry { why, after: None },
    }
}

/// Whether a TLS handshake failed for a reason no retry fixes: a certificate not trusted, or
/// refused by the other side.
fn tls_refused(io: &std::io::Error) -> bool {
    use rustls::Error as Tls;
    let tls = io.get_ref().and_then(|e| e.downcast_ref::<Tls>());
    matches!(
        tls,
        Some(
            Tls::InvalidCertificate(_)
                | Tls::NoCertificatesPresented
                | Tls::AlertReceived(_)
                | Tls::PeerIncompatible(_)
        )
    )
}

fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let secs: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn read_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::Ship {
            what: format!("--ca {}: no PEM certificate in it", path.display()),
        });
    }
    Ok(certs)
}

/// A bulk answer: only each item's status is read.
#[derive(Debug, Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, ItemStatus>>,
}

#[derive(Debug, Deserialize)]
struct ItemStatus {
    status: u16,
}

impl BulkAnswer {
    fn statuses(&self) -> Vec<u16> {
        self.items
            .iter()
            .map(|item| item.values().next().map_or(500, |i| i.status))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_done_retry_and_stop() {
        assert!(judge(200, None, "").is_none());
        assert!(matches!(
            judge(429, Some(Duration::from_secs(3)), ""),
            Some(Sent::Retry { after: Some(d), .. }) if d == Duration::from_secs(3)
        ));
        assert!(matches!(judge(503, None, ""), Some(Sent::Retry { .. })));
        let body = r#"{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}"#;
        match judge(401, None, body) {
            Some(Sent::Fatal(why)) => {
                assert!(why.contains("credentials"), "{why}");
                assert!(why.contains("missing authentication credentials"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(judge(404, None, "no"), Some(Sent::Fatal(_))));
    }

    #[test]
    fn a_bulk_answer_gives_each_status_in_order() {
        let text = r#"{"took":3,"errors":true,"items":[{"create":{"_id":"a","status":201}},{"create":{"_id":"b","status":409}},{"index":{"status":429}}]}"#;
        let answer: BulkAnswer = serde_json::from_str(text).unwrap();
        assert_eq!(answer.statuses(), [201, 409, 429]);
    }
}
