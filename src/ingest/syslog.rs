//! Syslog over TCP and UDP (`--syslog-listen tcp://127.0.0.1:6514`, `udp://...`): RFC 5424
//! and RFC 3164 messages, octet-counted or newline-framed on TCP (RFC 6587), one per datagram
//! on UDP, as rsyslog's `omfwd`, syslog-ng and network devices send them.
//!
//! A message is folded as the line it would be in a syslog file, header and all: the fold
//! rules already join trace lines that repeat the header of the same host and program within
//! a second, and read rsyslog's `#012`-escaped traces. The stream is the message's host and
//! program. Syslog has no acknowledgement: what reached the socket is taken, and a sender that
//! reconnects may repeat what was in flight, as with any syslog receiver.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use std::sync::Arc;

use super::mapping::Shipped;
use super::metrics::IngestMetrics;
use super::{Doc, Inlet, Outcome, Refused};
use crate::parse::HeaderParser;

/// Longest message taken; a longer one is cut there (rsyslog's default `maxMessageSize` is
/// 8 KiB, syslog-ng's 64 KiB; a megabyte is a trace, not a message).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Messages sent to the folding thread together.
const BATCH_MESSAGES: usize = 1000;
/// How long a connection's messages wait for more before they are sent.
const BATCH_WAIT: Duration = Duration::from_millis(50);
/// How long to wait before offering a batch again when indexing is behind: the socket's
/// buffers fill meanwhile, and TCP tells the sender to slow down.
const BUSY_WAIT: Duration = Duration::from_millis(100);

/// Where a syslog listener listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogListen {
    Tcp(SocketAddr),
    Udp(SocketAddr),
}

/// Why a syslog listen address does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{0:?}: use tcp://IP:PORT or udp://IP:PORT")]
    Form(String),
    #[error("{text:?}: not an IP address and port")]
    Address {
        text: String,
        #[source]
        source: std::net::AddrParseError,
    },
}

impl std::str::FromStr for SyslogListen {
    type Err = ListenError;

    fn from_str(text: &str) -> Result<Self, ListenError> {
        let form = || ListenError::Form(text.to_owned());
        let (scheme, addr) = text.split_once("://").ok_or_else(form)?;
        let addr: SocketAddr = addr.parse().map_err(|source| ListenError::Address {
            text: text.to_owned(),
            source,
        })?;
        match scheme {
            "tcp" => Ok(SyslogListen::Tcp(addr)),
            "udp" => Ok(SyslogListen::Udp(addr)),
            _ => Err(form()),
        }
    }
}

/// A syslog message as a shipped document: the line, in the stream of its host and program
/// (of `peer` when the line has no syslog header).
pub fn shipped(message: &[u8], peer: &str, parser: &mut HeaderParser) -> Shipped {
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end_matches(['\n', '\r', '\0']).to_owned();
    let origin = parser
        .parse(&text)
        .and_then(|h| h.origin.map(|o| o.into_owned()))
        .unwrap_or_else(|| peer.to_owned());
    Shipped {
        text,
        stream: format!("syslog {origin}"),
        ..Shipped::default()
    }
}

/// Reads the next frame of a TCP connection into `buf`: octet-counted (`<len> <message>`)
/// when the connection's first frame started with a digit (`octets`, decided then), else up
/// to the next newline. `None` at the end of the stream.
async fn next_frame<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    octets: &mut Option<bool>,
) -> std::io::Result<Option<()>> {
    buf.clear();
    let first = match reader.fill_buf().await? {
        [] => return Ok(None),
        bytes => bytes[0],
    };
    let counted = *octets.get_or_insert(first.is_ascii_digit());
    if counted && first.is_ascii_digit() {
        let mut len = Vec::new();
        reader.read_until(b' ', &mut len).await?;
        let digits = std::str::from_utf8(&len).unwrap_or("").trim_end();
        if let Ok(n) = digits.parse::<usize>() {
            let take = n.min(MAX_MESSAGE_BYTES);
            buf.resize(take, 0);
            reader.read_exact(buf).await?;
            // What is over the cap is read and dropped, so the next frame starts right.
            let mut rest = (&mut *reader).take((n - take) as u64);
            tokio::io::copy(&mut rest, &mut tokio::io::sink()).await?;
            return Ok(Some(()));
        }
        // Not a length after all: a newline-framed message that starts with a digit.
        buf.extend_from_slice(&len);
    }
    let mut line = Vec::new();
    (&mut *reader)
        .take(MAX_MESSAGE_BYTES as u64)
        .read_until(b'\n', &mut line)
        .await?;
    buf.extend_from_slice(&line);
    Ok(Some(()))
}

/// Where a listener's messages go: the folding thread, and the counters of `/metrics`.
#[derive(Clone)]
pub struct Delivery {
    pub inlet: Inlet,
    pub metrics: Arc<IngestMetrics>,
}

/// Accepts TCP connections on `listener` until the task is dropped.
pub async fn serve_tcp(listener: TcpListener, to: Delivery, parser: HeaderParser) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let (to, parser) = (to.clone(), parser.clone());
        tokio::spawn(async move {
            if let Err(err) = connection(stream, peer, to, parser).await {
                tracing::warn!(%peer, "syslog connection: {err}");
            }
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    to: Delivery,
    mut parser: HeaderParser,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let peer = peer.ip().to_string();
    let mut frame = Vec::new();
    let mut batch = Vec::new();
    let mut octets = None;
    loop {
        let next = next_frame(&mut reader, &mut frame, &mut octets);
        let read = tokio::time::timeout(BATCH_WAIT, next).await;
        match read {
            Ok(Ok(Some(()))) => {
                if !frame.iter().all(u8::is_ascii_whitespace) {
                    batch.push(shipped(&frame, &peer, &mut parser));
                }
                if batch.len() < BATCH_MESSAGES {
                    continue;
                }
            }
            Ok(Ok(None)) => {
                deliver(&to, std::mem::take(&mut batch)).await;
                return Ok(());
            }
            Ok(Err(err)) => {
                deliver(&to, std::mem::take(&mut batch)).await;
                return Err(err);
            }
            // Quiet for a moment: send what came.
            Err(_) => {}
        }
        deliver(&to, std::mem::take(&mut batch)).await;
    }
}

/// Receives UDP datagrams on `socket`, one message each, until the task is dropped.
pub async fn serve_udp(socket: UdpSocket, to: Delivery, mut parser: HeaderParser) {
    let mut buf = vec![0; 64 * 1024];
    let mut batch = Vec::new();
    loop {
        match tokio::time::timeout(BATCH_WAIT, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, peer))) => {
                batch.push(shipped(&buf[..n], &peer.ip().to_string(), &mut parser));
                if batch.len() < BATCH_MESSAGES {
                    continue;
                }
            }
            Ok(Err(err)) => tracing::warn!("syslog over UDP: {err}"),
            Err(_) => {}
        }
        deliver(&to, std::mem::take(&mut batch)).await;
    }
}

/// Sends messages to be folded, waiting while indexing is behind.
async fn deliver(to: &Delivery, messages: Vec<Shipped>) {
    if messages.is_empty() {
        return;
    }
    let bytes = messages.iter().map(|m| m.text.len()).sum();
    let count = messages.len();
    to.metrics.received(INPUT, bytes);
    let docs: Vec<Doc> = messages.into_iter().map(Doc::without_id).collect();
    loop {
        match to.inlet.send(docs.clone(), bytes).await {
            Ok(outcomes) => {
                let failed = outcomes.contains(&Outcome::Failed);
                to.metrics
                    .count(INPUT, if failed { "failed" } else { "created" }, count);
                return;
            }
            Err(Refused::Busy) => {
                to.metrics.throttle(INPUT);
                tokio::time::sleep(BUSY_WAIT).await;
            }
            Err(Refused::Stopped) => return,
        }
    }
}

const INPUT: &str = "syslog";

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> HeaderParser {
        HeaderParser::new(jiff::tz::TimeZone::UTC, 2024, None)
    }

    async fn frames(input: &[u8]) -> Vec<String> {
        let mut reader = tokio::io::BufReader::new(input);
        let (mut frame, mut frames, mut octets) = (Vec::new(), Vec::new(), None);
        while next_frame(&mut reader, &mut frame, &mut octets)
            .await
            .unwrap()
            .is_some()
        {
            frames.push(String::from_utf8_lossy(&frame).into_owned());
        }
        frames
    }

    #[tokio::test]
    async fn octet_counted_or_newline_framed_by_the_first_frame() {
        let counted =
            frames(b"28 <13>Mar  1 10:00:00 h app: a34 <13>Mar  1 10:00:01 h app: b\n#012x").await;
        assert_eq!(
            counted,
            [
                "<13>Mar  1 10:00:00 h app: a",
                "<13>Mar  1 10:00:01 h app: b\n#012x"
            ]
        );
        let lines = frames(b"<13>Mar  1 10:00:00 h app: a\n2024-03-01 10:00:00 b\n").await;
        assert_eq!(
            lines,
            ["<13>Mar  1 10:00:00 h app: a\n", "2024-03-01 10:00:00 b\n"]
        );
    }

    #[test]
    fn a_message_is_a_line_of_its_host_and_program() {
        let m = shipped(
            b"<11>1 2024-03-01T10:00:00Z web01 billing 42 - - boom\n",
            "10.0.0.1",
            &mut parser(),
        );
        assert_eq!(
            m.text,
            "<11>1 2024-03-01T10:00:00Z web01 billing 42 - - boom"
        );
        assert_eq!(m.stream, "syslog web01 billing");
        let bare = shipped(b"no header at all", "10.0.0.1", &mut parser());
        assert_eq!(bare.stream, "syslog 10.0.0.1");
        assert!("tcp://127.0.0.1:6514".parse::<SyslogListen>().is_ok());
        assert!("http://127.0.0.1:6514".parse::<SyslogListen>().is_err());
        assert!("udp://localhost:514".parse::<SyslogListen>().is_err());
    }
}
