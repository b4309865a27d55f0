//! [`SafeUnixListener`]: bind, accept, `poll_accept`, and the `Stream` of
//! connections.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use tokio::net::unix::SocketAddr;
use tokio::net::{UnixListener, UnixStream};

use crate::accept::{Backoff, is_connection_error};
use crate::access::PeerFilter;
use crate::addr::UnixAddr;
use crate::builder::Builder;
use crate::error::BindError;
use crate::guard::UnlinkGuard;

/// A Unix-domain listening socket that was bound safely and cleans up after
/// itself.
///
/// Binding removes a socket left behind by a dead server, and nothing else:
/// a live socket, a regular file, a directory, a FIFO or a symbolic link at
/// the path makes [`bind`](Self::bind) fail with a [`BindError`] that says
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
#[must_use = "streams do nothing unless polled"]
pub struct SafeUnixListener {
    // Declared before `listener`, so it drops first: the identity check
    // and unlink happen while the listening socket is still open.
    guard: Option<UnlinkGuard>,
    listener: UnixListener,
    addr: UnixAddr,
    access: PeerFilter,
    backoff: Mutex<Backoff>,
}

impl SafeUnixListener {
    pub(crate) fn new(listener: UnixListener, addr: UnixAddr, guard: Option<UnlinkGuard>) -> Self {
        Self {
            guard,
            listener,
            addr,
            access: PeerFilter::default(),
            backoff: Mutex::new(Backoff::new()),
        }
    }

    pub(crate) fn set_access(&mut self, access: PeerFilter) {
        self.access = access;
    }

    /// Binds a filesystem path with the default options: a stale socket is
    /// removed, anything else at the path is an error, and the file is
    /// removed again on drop. Call it inside a Tokio runtime, like
    /// [`tokio::net::UnixListener::bind`].
    ///
    /// # Errors
    ///
    /// A [`BindError`] whose [kind](BindError::kind) says what went wrong
    /// and whose message names the path, the cause and a fix.
    ///
    /// ```no_run
    /// use safe_unix_listener::{BindErrorKind, SafeUnixListener};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// match SafeUnixListener::bind("/run/app/app.sock") {
    ///     Ok(listener) => println!("listening on {}", listener.local_addr()),
    ///     Err(e) if e.kind() == BindErrorKind::InUse => eprintln!("already running: {e}"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> Result<Self, BindError> {
        Builder::new(UnixAddr::from_path(path)?).bind()
    }

    /// Binds a name in the Linux abstract namespace (no file is created, so
    /// nothing is ever removed). Elsewhere it fails with
    /// [`Unsupported`](crate::BindErrorKind::Unsupported).
    ///
    /// An abstract socket has no permissions: any process in the same
    /// network namespace can connect, so check
    /// [`UnixStream::peer_cred`] on each connection.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let listener = SafeUnixListener::bind_abstract("app")?;
    /// assert_eq!(listener.local_addr().to_string(), "@app");
    /// # Ok(()) }
    /// ```
    pub fn bind_abstract(name: impl AsRef<[u8]>) -> Result<Self, BindError> {
        Builder::new(UnixAddr::from_abstract_name(name)?).bind()
    }

    /// The Unix listening socket passed by systemd (or anything speaking its
    /// socket-activation protocol), if exactly one was passed; `Ok(None)` if
    /// none was.
    ///
    /// The descriptor is checked to be a listening `AF_UNIX` stream socket,
    /// made non-blocking and close-on-exec, and `LISTEN_PID`, `LISTEN_FDS`
    /// and `LISTEN_FDNAMES` are removed from the environment so children do
    /// not inherit them. Call it early, before other threads read the
    /// environment. Each passed descriptor is handed out once.
    ///
    /// A passed socket belongs to the service manager: **it is never
    /// unlinked**, whatever [`set_unlink_on_drop`](Self::set_unlink_on_drop)
    /// says. Mode and owner are the `.socket` unit's business
    /// (`SocketMode=`, `SocketUser=`).
    ///
    /// # Errors
    ///
    /// [`InvalidActivation`](crate::BindErrorKind::InvalidActivation) when
    /// the variables are malformed, or the descriptors passed are not one
    /// listening Unix stream socket.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _listener = match SafeUnixListener::from_activation()? {
    ///     Some(passed) => passed,
    ///     None => SafeUnixListener::bind("/run/app/app.sock")?,
    /// };
    /// # Ok(()) }
    /// ```
    pub fn from_activation() -> Result<Option<Self>, BindError> {
        crate::activation::take(None)
    }

    /// Like [`from_activation`](Self::from_activation), but takes the
    /// socket named `name` (systemd's `FileDescriptorName=`, or
    /// `systemd-socket-activate --fdname`); `Ok(None)` if no passed socket
    /// has that name.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _api = SafeUnixListener::from_activation_named("api")?;
    /// let _admin = SafeUnixListener::from_activation_named("admin")?;
    /// # Ok(()) }
    /// ```
    pub fn from_activation_named(name: &str) -> Result<Option<Self>, BindError> {
        crate::activation::take(Some(name))
    }

    /// Options for binding `addr`: mode, owner, parent directories, unlink
    /// on drop, and the policy for an existing file.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _listener = SafeUnixListener::builder("/run/app/app.sock".parse()?)
    ///     .mode(0o660)
    ///     .bind()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(addr: UnixAddr) -> Builder {
        Builder::new(addr)
    }

    /// Accepts a connection.
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
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection, with the same rules as
    /// [`accept`](Self::accept).
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
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        ready!(backoff.poll_ready(cx));
        loop {
            match ready!(self.listener.poll_accept(cx)) {
                Ok(conn) => {
                    backoff.succeeded();
                    if self.access.admits(&conn.0) {
                        return Poll::Ready(Ok(conn));
                    }
                    // Rejected: dropped (closed) here, never seen by the caller.
                }
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(addr = %self.addr, error = %e, "skipped a failed connection");
                }
                Err(e) => {
                    tracing::debug!(addr = %self.addr, error = %e, "accept failed; backing off");
                    backoff.failed();
                    return Poll::Ready(Err(e));
                }
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
    /// not the socket this listener bound. No effect on abstract names.
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
        if let Some(guard) = &mut self.guard {
            guard.set_armed(unlink);
        }
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
        self.guard.as_ref().is_some_and(UnlinkGuard::is_armed)
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
