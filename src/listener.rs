//! [`SafeUnixListener`] at work: accept, `poll_accept`, the `Stream` of
//! connections, and the unlink on drop. How one is made is in
//! [`crate::builder`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use tokio::net::unix::SocketAddr;
use tokio::net::{UnixListener, UnixStream};

use crate::addr::UnixAddr;
use crate::backoff::{Backoff, is_connection_error};
use crate::guard::Cleanup;
use crate::peer::PeerFilter;

/// A Unix-domain listening socket that was bound safely and cleans up after
/// itself.
///
/// Binding removes a socket left behind by a dead server, and nothing else:
/// a live socket, a regular file, a directory, a FIFO or a symbolic link at
/// the path makes [`bind`](Self::bind) fail with a [`BindError`](crate::BindError) that says
/// why and what to do. Dropping the listener removes the socket file, only
/// if the path still names the socket it bound, and never in a forked child.
///
/// Accepted connections are plain [`tokio::net::UnixStream`]s, from
/// [`accept`](Self::accept) or from the listener used as a
/// [`Stream`]; nothing is wrapped on the data path. Each stream carries the
/// peer's credentials: [`UnixStream::peer_cred`] gives its uid, gid and pid.
///
/// # Examples
///
/// ```no_run
/// use safe_unix_listener::SafeUnixListener;
/// use tokio::io::AsyncWriteExt;
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = SafeUnixListener::bind("/run/app/app.sock")?;
///     loop {
///         let (mut stream, _peer) = match listener.accept().await {
///             Ok(conn) => conn,
///             // EMFILE and the like: log it; the next accept backs off.
///             Err(e) => {
///                 eprintln!("accept failed: {e}");
///                 continue;
///             }
///         };
///         tokio::spawn(async move {
///             let uid = stream.peer_cred().map(|c| c.uid());
///             let _ = stream.write_all(format!("hello, uid {uid:?}\n").as_bytes()).await;
///         });
///     }
/// }
/// ```
///
/// As a [`Stream`]:
///
/// ```no_run
/// use futures_util::StreamExt;
/// use safe_unix_listener::SafeUnixListener;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let mut incoming = SafeUnixListener::bind_abstract("app")?;
/// while let Some(stream) = incoming.next().await {
///     match stream {
///         Ok(stream) => drop(stream),
///         // EMFILE and the like: the next accept waits a little.
///         Err(e) => eprintln!("accept failed: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The accept back-off uses Tokio's timer, so the runtime needs it enabled
/// (`#[tokio::main]` does; a hand-built runtime needs `enable_all`).
pub struct SafeUnixListener {
    // Declared before `listener`, so it drops first: the identity check
    // and unlink happen while the listening socket is still open.
    cleanup: Cleanup,
    listener: UnixListener,
    addr: UnixAddr,
    access: PeerFilter,
    backoff: Backoff,
}

impl SafeUnixListener {
    pub(crate) fn new(
        listener: UnixListener,
        addr: UnixAddr,
        cleanup: Cleanup,
        access: PeerFilter,
    ) -> Self {
        Self {
            cleanup,
            listener,
            addr,
            access,
            backoff: Backoff::new(),
        }
    }

    /// Accepts a connection.
    ///
    /// Any number of tasks may call it at once on a shared listener (an
    /// `Arc<SafeUnixListener>`, say), as with tokio's own `accept`: every
    /// connection goes to exactly one of them.
    ///
    /// Errors that concern a single connection (ECONNABORTED and the like)
    /// are skipped. Any other error (EMFILE, ENFILE, ENOBUFS, ENOMEM) is
    /// returned, and the next call waits before accepting again (5 ms,
    /// doubling up to 1 s), so a loop that logs and retries never spins.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// let (stream, peer) = listener.accept().await?;
    /// println!("uid {} connected from {peer:?}", stream.peer_cred()?.uid());
    /// # Ok(()) }
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        loop {
            self.backoff.wait().await;
            if let Some(done) = self.settle(self.listener.accept().await) {
                return done;
            }
        }
    }

    /// Polls for a connection, with the same rules as
    /// [`accept`](Self::accept), for a single consumer: like tokio's
    /// `UnixListener::poll_accept`, it wakes only the task that polled it
    /// last, so a listener shared by several tasks must use
    /// [`accept`](Self::accept). The [`Stream`] is built on it and has the
    /// same single-consumer contract.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// let (_stream, _peer) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # Ok(()) }
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        ready!(self.backoff.poll_ready(cx));
        loop {
            if let Some(done) = self.settle(ready!(self.listener.poll_accept(cx))) {
                return Poll::Ready(done);
            }
        }
    }

    /// What one accept comes to: a connection for the caller, an error for
    /// the caller (and a pause before the next accept), or `None` to accept
    /// again (a connection error, or a peer that is not allowed).
    fn settle(
        &self,
        accepted: io::Result<(UnixStream, SocketAddr)>,
    ) -> Option<io::Result<(UnixStream, SocketAddr)>> {
        match accepted {
            Ok(conn) => {
                self.backoff.succeeded();
                // A rejected peer is dropped (closed) here, never seen.
                self.access.admits(&conn.0, &self.addr).then_some(Ok(conn))
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(addr = %self.addr, error = %e, "skipped a failed connection");
                None
            }
            Err(e) => {
                tracing::debug!(addr = %self.addr, error = %e, "accept failed; backing off");
                self.backoff.failed();
                Some(Err(e))
            }
        }
    }

    /// The address this listener was bound to, as it was given.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// assert_eq!(listener.local_addr().to_string(), "/run/app/app.sock");
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> &UnixAddr {
        &self.addr
    }

    /// Turns the unlink on drop on or off (it is on unless the builder said
    /// otherwise). Turning it on never makes a drop remove a file that is
    /// not the socket this listener bound. No effect on abstract names. For
    /// [`bind_temp`](Self::bind_temp) it covers the directory too.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let mut listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// listener.set_unlink_on_drop(false); // hand the path to a successor
    /// # Ok(()) }
    /// ```
    pub fn set_unlink_on_drop(&mut self, unlink: bool) {
        self.cleanup.set_armed(unlink);
    }

    /// Whether dropping this listener will remove its socket file (if it is
    /// still the same inode then).
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// assert!(SafeUnixListener::bind("/run/app/app.sock")?.unlink_on_drop());
    /// assert!(!SafeUnixListener::bind_abstract("app")?.unlink_on_drop());
    /// # Ok(()) }
    /// ```
    pub fn unlink_on_drop(&self) -> bool {
        self.cleanup.is_armed()
    }

    /// The Tokio listener inside. The socket file is then left in place:
    /// nothing removes it on drop.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _raw: tokio::net::UnixListener = SafeUnixListener::bind("/run/app/app.sock")?.into_inner();
    /// # Ok(()) }
    /// ```
    pub fn into_inner(mut self) -> UnixListener {
        self.set_unlink_on_drop(false);
        let Self { listener, .. } = self;
        listener
    }
}

impl Stream for SafeUnixListener {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_accept(cx)
            .map(|r| Some(r.map(|(stream, _)| stream)))
    }
}

impl AsRef<UnixListener> for SafeUnixListener {
    fn as_ref(&self) -> &UnixListener {
        &self.listener
    }
}

impl AsFd for SafeUnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl AsRawFd for SafeUnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }
}

impl fmt::Debug for SafeUnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeUnixListener")
            .field("addr", &self.addr)
            .field("fd", &self.listener.as_raw_fd())
            .field("unlink_on_drop", &self.unlink_on_drop())
            .finish()
    }
}
