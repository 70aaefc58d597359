//! What a connection may take: at most [`MAX_CONNECTIONS`] open at once (one more is closed
//! at once), none quiet for longer than [`IDLE`], the request head within [`HEAD_TIMEOUT`]
//! and the body within [`BODY_TIMEOUT`]. Without these, slow clients held connections for
//! minutes: 200 that sent a byte now and then all stayed open.

use std::future::{Future, Ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections open at once. Each holds a file descriptor and a task, and a shipper fleet
/// needs one per host; beyond this a new connection is closed unanswered, the clients retry.
pub const MAX_CONNECTIONS: usize = 1024;
/// A connection with no byte read or written for this long is closed: an idle keep-alive
/// connection, or a client that stopped midway. The live view's keep-alive comes every 15 s.
pub const IDLE: Duration = Duration::from_secs(60);
/// The request line and headers must arrive within this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must arrive whole within this: 100 MiB (the largest bulk) at 2 MB/s.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The acceptor that holds a connection to the limits; wraps the plain or TLS acceptor's
/// stream.
#[derive(Clone)]
pub struct Limited {
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl Limited {
    pub fn new(max: usize, idle: Duration) -> Limited {
        Limited {
            permits: Arc::new(Semaphore::new(max)),
            idle,
        }
    }
}

impl<I, S> Accept<I, S> for Limited
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    type Stream = Guarded<I>;
    type Service = S;
    type Future = Ready<io::Result<(Guarded<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            // Dropping the stream closes it; the server goes on accepting.
            return std::future::ready(Err(io::Error::other("too many connections")));
        };
        let guarded = Guarded {
            inner: stream,
            _permit: permit,
            idle: self.idle,
            deadline: Box::pin(tokio::time::sleep(self.idle)),
        };
        std::future::ready(Ok((guarded, service)))
    }
}

/// A connection that holds one of the permits and fails once idle.
pub struct Guarded<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<I> Guarded<I> {
    /// Bytes moved: the idle clock starts again.
    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// A pending read or write: an error once the connection has been idle too long.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|n| *n > 0) {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
