//! One connection's socket, shared by two writers: the connection's task (tungstenite: the
//! handshake's replies, pongs, catch-up, close) and the hub, which writes each live frame into
//! the socket as it delivers it. Without this, every delivery would cost a queue push, a task
//! wake-up and a poll of the task before the write; with it, a delivery is one `writev`.
//!
//! Frames never interleave: every write happens under the link's lock and is taken whole —
//! what the socket does not accept at once waits in the backlog, in order, and goes out before
//! anything else. The task drains the backlog ([`Link::pump`]) when the socket becomes writable;
//! a backlog that stays full or stalls is a slow consumer (close 4008, the client resumes).

use super::upgrade::Upgraded;
use bytes::{Buf, Bytes, BytesMut};
use frontdesk_realtime::Outlet;
use hyper_util::rt::TokioIo;
use socket2::SockRef;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The upgraded connection. Over plain TCP (also behind a reverse proxy) the link holds the
/// socket itself, and a write that the socket takes at once is one `sendmsg` on it: no boxed
/// stream and no readiness bookkeeping in between. With thousands of connections each of those
/// is another cache miss per delivery. Over TLS it is hyper's upgraded stream.
enum Stream {
    Tcp {
        socket: TcpStream,
        /// Bytes the client sent right after its upgrade request, read before the socket.
        unread: Bytes,
    },
    Other(TokioIo<Upgraded>),
}

impl Stream {
    fn new(upgraded: Upgraded) -> Stream {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            // A copy: hyper's read buffer (kilobytes) would otherwise stay allocated for as long
            // as the connection, even once read, behind these few bytes (usually none).
            Ok(parts) => Stream::Tcp { socket: parts.io.into_inner(), unread: Bytes::copy_from_slice(&parts.read_buf) },
            Err(upgraded) => Stream::Other(TokioIo::new(upgraded)),
        }
    }

    /// Writes what the socket takes now; `Pending` when it takes nothing. Over TCP that
    /// registers no wake-up: the task that drains the backlog does, through `poll_write`
    /// (whose readiness, never cleared here, makes it try the socket first).
    fn write_now(&mut self, cx: &mut Context<'_>, slices: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp { socket, .. } => match SockRef::from(&*socket).send_vectored(slices) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                written => Poll::Ready(written),
            },
            Stream::Other(io) => Pin::new(io).poll_write_vectored(cx, slices),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp { unread, .. } if !unread.is_empty() && buf.remaining() > 0 => {
                let n = unread.len().min(buf.remaining());
                buf.put_slice(&unread[..n]);
                unread.advance(n);
                Poll::Ready(Ok(()))
            }
            Stream::Tcp { socket, .. } => Pin::new(socket).poll_read(cx, buf),
            Stream::Other(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp { socket, .. } => Pin::new(socket).poll_write(cx, buf),
            Stream::Other(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp { .. } => Poll::Ready(Ok(())),
            Stream::Other(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp { socket, .. } => Pin::new(socket).poll_shutdown(cx),
            Stream::Other(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

pub struct Link {
    state: Mutex<State>,
    /// Frames from the hub that may wait in the backlog before the connection is kicked.
    capacity: usize,
}

struct State {
    io: Stream,
    /// Bytes the socket has not taken yet, oldest first; each entry is (the rest of) one write.
    backlog: VecDeque<Bytes>,
    /// A write went into a buffer of the stream (TLS) that still needs a flush.
    unflushed: bool,
    /// A write failed: the peer is gone.
    failed: bool,
    /// The connection's task, woken when the hub leaves something in the backlog.
    task: Option<Waker>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock left at worst a half-drained backlog; the socket closes
    // on the next failed write.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The header of an unmasked, final text frame (RFC 6455 §5.2) carrying `len` bytes.
fn text_header(len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = 0x81;
    if len < 126 {
        header[1] = len as u8;
        (header, 2)
    } else if let Ok(len) = u16::try_from(len) {
        header[1] = 126;
        header[2..4].copy_from_slice(&len.to_be_bytes());
        (header, 4)
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (header, 10)
    }
}

impl State {
    /// Writes `parts` as one unit: straight to the socket when nothing waits before them, and
    /// whatever the socket does not take into the backlog. Fails only when the socket failed.
    fn write(&mut self, cx: &mut Context<'_>, parts: [&[u8]; 2]) -> io::Result<()> {
        if self.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let total = parts[0].len() + parts[1].len();
        let mut written = 0;
        if self.backlog.is_empty() {
            while written < total {
                let (first, second) = if written < parts[0].len() {
                    (&parts[0][written..], parts[1])
                } else {
                    (&parts[1][written - parts[0].len()..], &[][..])
                };
                let slices = [IoSlice::new(first), IoSlice::new(second)];
                match self.io.write_now(cx, &slices) {
                    Poll::Ready(Ok(0)) => return self.fail(io::ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => return self.fail(e),
                    Poll::Pending => break,
                }
            }
            if written == total {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return self.fail(e),
                    Poll::Pending => self.unflushed = true,
                }
                return Ok(());
            }
        }
        let mut rest = BytesMut::with_capacity(total - written);
        for part in parts {
            let skip = written.min(part.len());
            rest.extend_from_slice(&part[skip..]);
            written -= skip;
        }
        self.backlog.push_back(rest.freeze());
        Ok(())
    }

    fn fail(&mut self, e: io::Error) -> io::Result<()> {
        self.failed = true;
        self.backlog.clear();
        Err(e)
    }

    /// Writes the backlog and flushes; ready once both are done.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.failed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        while let Some(front) = self.backlog.front_mut() {
            match Pin::new(&mut self.io).poll_write(cx, front) {
                Poll::Ready(Ok(0)) => return Poll::Ready(self.fail(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    front.advance(n);
                    if front.is_empty() {
                        self.backlog.pop_front();
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(self.fail(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                self.unflushed = false;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(self.fail(e)),
            Poll::Pending => {
                self.unflushed = true;
                Poll::Pending
            }
        }
    }

    fn owes_writes(&self) -> bool {
        self.failed || self.unflushed || !self.backlog.is_empty()
    }
}

impl Link {
    pub fn new(io: Upgraded, capacity: usize) -> Arc<Link> {
        let state =
            State { io: Stream::new(io), backlog: VecDeque::new(), unflushed: false, failed: false, task: None };
        Arc::new(Link { state: Mutex::new(state), capacity })
    }

    /// The stream tungstenite reads and writes through.
    pub fn stream(self: &Arc<Self>) -> LinkStream {
        LinkStream(self.clone())
    }

    /// Ready when the hub left writes for the task: a backlog, a pending flush, or a failure.
    /// The connection's task polls this in its loop (it is how the hub reaches the task), then
    /// drains with [`Link::poll_drain`].
    pub fn poll_owed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        if !state.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.task = Some(cx.waker().clone());
        }
        if state.owes_writes() { Poll::Ready(()) } else { Poll::Pending }
    }

    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.state).poll_drain(cx)
    }
}

impl Outlet for Link {
    fn offer(&self, payload: &Bytes) -> bool {
        let mut state = lock(&self.state);
        if state.failed {
            // The task sees the failure and ends the connection.
            return true;
        }
        if state.backlog.len() >= self.capacity {
            // Kicked: what waits is stale (the client resumes). Only the write under way stays,
            // so that the stream remains whole and the close frame follows it at once.
            state.backlog.truncate(1);
            return false;
        }
        // Registrations this write makes with the socket must wake the task, which drains.
        let waker = state.task.take().unwrap_or_else(|| Waker::noop().clone());
        let (header, len) = text_header(payload.len());
        let _ = state.write(&mut Context::from_waker(&waker), [&header[..len], payload]);
        if state.owes_writes() {
            waker.wake_by_ref();
        }
        state.task.get_or_insert(waker);
        true
    }
}

/// The link as tungstenite's stream: reads from the socket, writes through the link's lock.
/// A write is always taken whole (the rest waits in the backlog) so that a frame tungstenite
/// writes is never split by one from the hub; a flush waits for the backlog to drain, which is
/// what makes the task's own sends wait for a slow reader.
pub struct LinkStream(Arc<Link>);

impl AsyncRead for LinkStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.0.state).io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LinkStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(lock(&self.0.state).write(cx, [buf, &[]]).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.0.state).poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = lock(&self.0.state);
        std::task::ready!(state.poll_drain(cx))?;
        Pin::new(&mut state.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::text_header;

    #[test]
    fn text_headers_use_the_shortest_length_encoding() {
        assert_eq!(text_header(125), ([0x81, 125, 0, 0, 0, 0, 0, 0, 0, 0], 2));
        assert_eq!(text_header(126), ([0x81, 126, 0, 126, 0, 0, 0, 0, 0, 0], 4));
        assert_eq!(text_header(65_535), ([0x81, 126, 0xff, 0xff, 0, 0, 0, 0, 0, 0], 4));
        assert_eq!(text_header(65_536), ([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0], 10));
    }
}
