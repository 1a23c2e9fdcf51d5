//! The TCP stream under each HTTP connection, able to misbehave on request.
//!
//! HTTP libraries are built never to send a broken reply, so the transport-level faults (reset,
//! close without reply, truncated body) are done one layer down: the request handler marks the
//! connection, and this wrapper sabotages the reply as hyper writes it. Marking happens before
//! the handler returns, so there is no race with the write.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const NORMAL: u8 = 0;
const CLOSE: u8 = 1;
const RESET: u8 = 2;
const TRUNCATE: u8 = 3;

/// Per-connection instructions from the request handler to the stream.
#[derive(Debug, Default)]
pub struct ConnControl {
    mode: AtomicU8,
    body_allowance: AtomicUsize,
}

impl ConnControl {
    /// Write nothing more; close the connection normally (FIN).
    pub fn close_without_reply(&self) {
        self.mode.store(CLOSE, Ordering::Release);
    }

    /// Write nothing more; reset the connection (RST).
    pub fn reset(&self) {
        self.mode.store(RESET, Ordering::Release);
    }

    /// Let the reply's headers through and `bytes` bytes of its body, then close (FIN).
    pub fn truncate_body_after(&self, bytes: usize) {
        self.body_allowance.store(bytes, Ordering::Release);
        self.mode.store(TRUNCATE, Ordering::Release);
    }
}

/// A [`TcpStream`] that obeys its [`ConnControl`] when written to.
pub(crate) struct FaultStream {
    inner: TcpStream,
    control: Arc<ConnControl>,
    /// How much of `\r\n\r\n` (end of the headers) the written bytes have matched so far.
    header_end_matched: u8,
    headers_done: bool,
    body_written: usize,
}

impl FaultStream {
    pub(crate) fn new(inner: TcpStream, control: Arc<ConnControl>) -> Self {
        Self {
            inner,
            control,
            header_end_matched: 0,
            headers_done: false,
            body_written: 0,
        }
    }

    fn withheld() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "reply withheld by fault injection",
        )
    }

    /// How many leading bytes of `buf` a truncated reply may still send.
    fn truncation_allowance(&self, buf: &[u8]) -> usize {
        let allowance = self.control.body_allowance.load(Ordering::Acquire);
        let mut matched = self.header_end_matched;
        let mut headers_done = self.headers_done;
        let mut body = self.body_written;
        for (i, &b) in buf.iter().enumerate() {
            if headers_done {
                if body >= allowance {
                    return i;
                }
                body += 1;
                continue;
            }
            matched = header_end_step(matched, b);
            headers_done = matched == 4;
        }
        buf.len()
    }

    fn note_written(&mut self, written: &[u8]) {
        for &b in written {
            if self.headers_done {
                self.body_written += 1;
                continue;
            }
            self.header_end_matched = header_end_step(self.header_end_matched, b);
            self.headers_done = self.header_end_matched == 4;
        }
    }

    fn abort_with_reset(&self) {
        // SO_LINGER 0 turns the close into a RST. Failing to set it still drops the connection.
        if let Err(error) = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO)) {
            tracing::warn!(%error, "could not arm SO_LINGER for a reset fault");
        }
    }
}

/// One step of matching `\r\n\r\n`: how many of its bytes are matched after `byte`.
fn header_end_step(matched: u8, byte: u8) -> u8 {
    match (matched, byte) {
        (0 | 2, b'\r') | (1 | 3, b'\n') => matched + 1,
        (_, b'\r') => 1,
        _ => 0,
    }
}

impl AsyncRead for FaultStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.control.mode.load(Ordering::Acquire) {
            NORMAL => Pin::new(&mut this.inner).poll_write(cx, buf),
            RESET => {
                this.abort_with_reset();
                Poll::Ready(Err(Self::withheld()))
            }
            TRUNCATE => {
                let allowed = this.truncation_allowance(buf);
                if allowed == 0 {
                    return Poll::Ready(Err(Self::withheld()));
                }
                match Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]) {
                    Poll::Ready(Ok(n)) => {
                        this.note_written(&buf[..n]);
                        Poll::Ready(Ok(n))
                    }
                    other => other,
                }
            }
            _ => Poll::Ready(Err(Self::withheld())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.control.mode.load(Ordering::Acquire) == NORMAL {
            return Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        self.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.control.mode.load(Ordering::Acquire) == RESET {
            // A FIN now would let the client read a clean end of stream before the RST.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
