//! [`SafeUnixListener`]: every way to make one (bind a path, an abstract
//! name, a throwaway socket, take a socket the service manager passed,
//! adopt one), and the listener at work: accept, `poll_accept`, the
//! `Stream` of connections, and the unlink on drop. What it shares with
//! the datagram receiver (the bind, the cleanup, the access filter) is
//! `bound.rs`; its builder, `SafeUnixListener::builder` included, is
//! `builder.rs`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use tokio::net::unix::SocketAddr;
use tokio::net::{UnixListener, UnixStream};

use std::path::Path;

use crate::activation::{self, NotUsed};
use crate::addr::UnixAddr;
use crate::backoff::{Backoff, is_connection_error};
use crate::bound::{Bound, Settings};
use crate::cleanup::UnlinkOnDrop;
use crate::error::BindError;
use crate::guard::Unlinked;

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
    bound: Bound<UnixListener>,
    backoff: Backoff,
}

impl SafeUnixListener {
    pub(crate) fn from_bound(bound: Bound<UnixListener>) -> Self {
        Self {
            bound,
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
    /// # Cancel safety
    ///
    /// Cancel safe, as tokio's: dropped in `tokio::select!` before it
    /// completes, no connection is lost; the next call gets it.
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
            if let Some(done) = self.settle(self.bound.socket.accept().await) {
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
    /// # Cancel safety
    ///
    /// A connection is taken from the kernel only by the call that returns
    /// it as `Ready`: a task that stops polling loses nothing.
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
            if let Some(done) = self.settle(ready!(self.bound.socket.poll_accept(cx))) {
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
                self.bound
                    .access
                    .admits(&conn.0, &self.bound.addr)
                    .then_some(Ok(conn))
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(addr = %self.bound.addr, error = %e, "skipped a failed connection");
                None
            }
            Err(e) => {
                tracing::debug!(addr = %self.bound.addr, error = %e, "accept failed; backing off");
                self.backoff.failed();
                Some(Err(e))
            }
        }
    }

    /// The address this listener was asked to bind, as it was given (or,
    /// for a socket it adopted, the name the socket was bound to).
    pub fn addr(&self) -> &UnixAddr {
        &self.bound.addr
    }

    /// The socket's name as the kernel has it, as tokio's
    /// `UnixListener::local_addr` gives it: the path that was bound,
    /// the same one `ss -xl` shows and clients see as `peer_addr`.
    ///
    /// The kernel's name is whatever string reached `bind(2)`, and it is
    /// the path asked for but where the bind could not take that string
    /// without giving up a guarantee: a
    /// [`TakeOver`](crate::OnExisting::TakeOver) (the new socket is made
    /// beside the old one, then swapped in); a path another user could
    /// redirect (a directory on the way fails StrictModes); and, in a
    /// directory other users may write, a mode or group asked for off
    /// Linux or where a thread cannot take its own umask, an owner other
    /// than us, or a group we cannot create files in. There the name is
    /// the private directory's, or `/proc/self/fd/N/name`; a longer path
    /// than `sun_path` holds is always named that way.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` returns.
    ///
    /// ```
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sock");
    /// let listener = SafeUnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.bound.socket.local_addr()
    }

    /// The pending error on the socket (`SO_ERROR`), cleared, as tokio's
    /// `UnixListener::take_error`.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` returns.
    ///
    /// ```
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = SafeUnixListener::bind_temp()?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.bound.socket.take_error()
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
        self.bound.set_armed(unlink);
    }

    /// Whether dropping this listener will remove its socket file (if it is
    /// still the same inode then).
    pub fn unlink_on_drop(&self) -> bool {
        self.bound.is_armed()
    }

    /// Removes the socket file now, if the path still leads to the socket
    /// this listener bound (never in a forked child), and turns the unlink
    /// on drop off; the listener goes on accepting the connections already
    /// queued and those that reach it by other means. Returns what it did.
    ///
    /// Drops do not run when a program leaves through
    /// [`std::process::exit`] (from a shutdown handler or a panic hook, say)
    /// or is ended by a signal it does not handle: call this first.
    ///
    /// ```no_run
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let mut listener = SafeUnixListener::bind("/run/app/app.sock")?;
    /// // … at shutdown:
    /// println!("{:?}", listener.unlink_now()); // Removed
    /// std::process::exit(0);
    /// # }
    /// ```
    pub fn unlink_now(&mut self) -> Unlinked {
        self.bound.unlink_now()
    }

    /// The Tokio listener inside. The socket file is then left in place:
    /// nothing removes it on drop. To hand the socket to another framework
    /// and keep the removal, use [`into_parts`](Self::into_parts).
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
        self.into_parts().0
    }

    /// The Tokio listener inside, and what removes its socket file: when
    /// the [`UnlinkOnDrop`] drops, it removes the file by the same rules as
    /// the listener would (still the same inode, not in a forked child).
    /// For a framework that takes a listener of its own, such as
    /// actix-web's `HttpServer::listen_uds` or tokio-stream's
    /// `UnixListenerStream`: keep the guard until the server stops.
    ///
    /// The framework may remove the file itself, without those checks:
    /// actix-server removes whatever is at the path the kernel names the
    /// socket by (`getsockname`) when it stops listening, which after a
    /// takeover is the successor's socket. The guard then finds the file
    /// gone, or not its own, and leaves it.
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    /// use tokio_stream::wrappers::UnixListenerStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sock");
    /// let (listener, unlink) = SafeUnixListener::bind(&path)?.into_parts();
    /// let incoming = UnixListenerStream::new(listener);
    /// // … serve `incoming` …
    /// drop(incoming);
    /// drop(unlink);
    /// assert!(!path.exists());
    /// # Ok(()) }
    /// ```
    pub fn into_parts(self) -> (UnixListener, UnlinkOnDrop) {
        self.bound.into_parts()
    }

    /// The std listener inside, as tokio's `UnixListener::into_std`: in
    /// non-blocking mode. The socket file's fate goes with it: nothing
    /// removes it any more (see [`into_parts`](Self::into_parts) to keep
    /// that).
    ///
    /// # Errors
    ///
    /// What deregistering from Tokio returns.
    ///
    /// ```
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let std_listener = SafeUnixListener::bind_temp()?.into_std()?;
    /// std_listener.set_nonblocking(false)?;
    /// # Ok(()) }
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.into_inner().into_std()
    }

    /// Adopts a listening socket made elsewhere, as tokio's
    /// `UnixListener::from_std`, but also sets it non-blocking. An adopted
    /// socket is never unlinked: its file belongs to whoever bound it.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) when it is not a
    /// listening Unix stream socket bound to a name; what registering with
    /// Tokio returns.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, or in one without IO enabled, as tokio's
    /// own `from_std`.
    ///
    /// ```
    /// # use safe_unix_listener::SafeUnixListener;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let std_listener = std::os::unix::net::UnixListener::bind(dir.path().join("s"))?;
    /// let listener = SafeUnixListener::from_std(std_listener)?;
    /// assert!(!listener.unlink_on_drop());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        let addr = activation::checked::<UnixListener>(listener.as_fd()).map_err(|why| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("the socket {why}"))
        })?;
        listener.set_nonblocking(true)?;
        let listener = UnixListener::from_std(listener)?;
        Ok(Self::from_bound(Bound::adopted(listener, addr)))
    }
}

/// Adopts the socket; it is never unlinked ([`SafeUnixListener::from_std`]).
impl TryFrom<std::os::unix::net::UnixListener> for SafeUnixListener {
    type Error = io::Error;

    #[track_caller]
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        Self::from_std(listener)
    }
}

/// Adopts the socket; it is never unlinked ([`SafeUnixListener::from_std`]).
impl TryFrom<UnixListener> for SafeUnixListener {
    type Error = io::Error;

    #[track_caller]
    fn try_from(listener: UnixListener) -> io::Result<Self> {
        Self::from_std(listener.into_std()?)
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
        &self.bound.socket
    }
}

impl AsFd for SafeUnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.bound.socket.as_fd()
    }
}

impl AsRawFd for SafeUnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.bound.socket.as_raw_fd()
    }
}

impl fmt::Debug for SafeUnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeUnixListener")
            .field("addr", self.addr())
            .field("fd", &self.bound.socket.as_raw_fd())
            .field("unlink_on_drop", &self.unlink_on_drop())
            .finish()
    }
}

impl SafeUnixListener {
    /// Binds a filesystem path with the default options: a stale socket is
    /// removed, anything else at the path is an error, and the file is
    /// removed again on drop. Call it inside a Tokio runtime, like
    /// [`tokio::net::UnixListener::bind`].
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    ///
    /// # Errors
    ///
    /// A [`BindError`] whose [kind](BindError::kind) says what went wrong
    /// and whose message names the path, the cause and a fix.
    ///
    /// # Panics
    ///
    /// In a Tokio runtime without IO enabled, as tokio's own `bind`; the
    /// panic names the caller's line. Outside any runtime it is an error.
    ///
    /// ```no_run
    /// use safe_unix_listener::{BindErrorKind, SafeUnixListener};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// match SafeUnixListener::bind("/run/app/app.sock") {
    ///     Ok(listener) => println!("listening on {}", listener.addr()),
    ///     Err(e) if e.kind() == BindErrorKind::InUse => eprintln!("already running: {e}"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> Result<Self, BindError> {
        Bound::bind(UnixAddr::from_path(path)?, Settings::default()).map(Self::from_bound)
    }

    /// Binds the address tokio's `UnixListener::bind_addr` takes: a path
    /// (as [`bind`](Self::bind)), an abstract name (Linux), or an unnamed
    /// address, for which Linux chooses a free abstract name
    /// ([`bind_abstract_auto`](Self::bind_abstract_auto)).
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let addr = SocketAddr::from_pathname(dir.path().join("app.sock"))?.into();
    /// let listener = SafeUnixListener::bind_addr(&addr)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), addr.as_pathname());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> Result<Self, BindError> {
        match (addr.as_pathname(), crate::sys::abstract_name_of_tokio(addr)) {
            (Some(path), _) => Self::bind(path),
            (None, Some(name)) => Self::bind_abstract(name),
            (None, None) => Self::bind_abstract_auto(),
        }
    }

    /// Binds a name in the Linux abstract namespace (no file is created, so
    /// nothing is ever removed). Elsewhere it fails with
    /// [`Unsupported`](crate::BindErrorKind::Unsupported).
    ///
    /// An abstract socket has no permissions: any process in the same
    /// network namespace can connect, so check
    /// [`UnixStream::peer_cred`](tokio::net::UnixStream::peer_cred) on each connection.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let listener = SafeUnixListener::bind_abstract("app")?;
    /// assert_eq!(listener.addr().to_string(), "@app");
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_abstract(name: impl AsRef<[u8]>) -> Result<Self, BindError> {
        Bound::bind(UnixAddr::from_abstract_name(name)?, Settings::default()).map(Self::from_bound)
    }

    /// Binds a free name in the Linux abstract namespace, chosen by the
    /// kernel (autobind): nothing to clean up, no collision, for tests and
    /// throwaway servers. [`local_addr`](Self::local_addr) gives the name
    /// (`@` and five hex digits). Elsewhere it fails with
    /// [`Unsupported`](crate::BindErrorKind::Unsupported).
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # if cfg!(not(target_os = "linux")) { return Ok(()); }
    /// let listener = SafeUnixListener::bind_abstract_auto()?;
    /// assert!(listener.addr().is_abstract());
    /// let _client = listener.addr().connect().await?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_abstract_auto() -> Result<Self, BindError> {
        Bound::abstract_auto().map(Self::from_bound)
    }

    /// Binds a throwaway socket, for tests: `s` in a new directory only we
    /// may enter (mode 0700), made in the first of `$XDG_RUNTIME_DIR`,
    /// `$TMPDIR` and `/tmp` where the socket's whole path fits the
    /// platform's limit (107 bytes on Linux, 103 on macOS and the BSDs).
    /// [`local_addr`](Self::local_addr) gives the path to connect to.
    ///
    /// The directory is `sul-` and eight random characters, never one that
    /// already exists, so any number of threads and processes can bind at
    /// once without colliding. Dropping the listener removes the socket
    /// and the directory (not in a forked child). A process that is killed
    /// leaves them; the next process to call `bind_temp` with the same base
    /// directory removes them (it tells a leftover by its free `flock`).
    ///
    /// In a base directory other users may write (not sticky, unlike
    /// `/tmp`), they can move the directory away, so that the path no
    /// longer leads to the socket, but they cannot redirect the bind: on
    /// Linux it goes through the directory's descriptor.
    ///
    /// # Errors
    ///
    /// When no base directory fits or can be written, a
    /// [`BindError`] that names each one and why it was passed over.
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = SafeUnixListener::bind_temp()?;
    /// let path = listener.addr().as_path().unwrap().to_owned();
    /// let _client = listener.addr().connect().await?;
    /// drop(listener);
    /// assert!(!path.parent().unwrap().exists());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_temp() -> Result<Self, BindError> {
        Bound::temp().map(Self::from_bound)
    }

    /// The Unix listening socket passed by systemd (or anything speaking its
    /// socket-activation protocol), if exactly one was passed; `Ok(None)` if
    /// none was.
    ///
    /// The descriptor is checked to be a listening `AF_UNIX` stream socket,
    /// made non-blocking and close-on-exec (every passed descriptor is, on
    /// the first call, so no child inherits one). The `LISTEN_*` variables
    /// are left in the environment, since removing them is unsound once
    /// other threads run: a child ignores them by itself (their
    /// `LISTEN_PID` names its parent, or, without one, descriptor 3 is not
    /// open in it). Each passed descriptor is handed out once.
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
    #[track_caller]
    pub fn from_activation() -> Result<Option<Self>, BindError> {
        Ok(Bound::activated(None)?.map(Self::from_bound))
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
    #[track_caller]
    pub fn from_activation_named(name: &str) -> Result<Option<Self>, BindError> {
        Ok(Bound::activated(Some(name))?.map(Self::from_bound))
    }

    /// Every passed descriptor not taken yet: the Unix stream listeners,
    /// each with the name it was passed under, and the others (a TCP
    /// listener, a datagram socket, …) reported with their descriptor
    /// number and what they are, left open and untouched.
    ///
    /// The same rules as [`from_activation`](Self::from_activation) apply:
    /// checked, non-blocking, close-on-exec, never unlinked.
    ///
    /// # Errors
    ///
    /// [`InvalidActivation`](crate::BindErrorKind::InvalidActivation) when
    /// the variables are malformed.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let passed = SafeUnixListener::from_activation_all()?;
    /// for (name, listener) in &passed.listeners {
    ///     println!("{name:?} on {}", listener.addr());
    /// }
    /// for other in &passed.others {
    ///     eprintln!("descriptor {} {}", other.fd, other.what);
    /// }
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn from_activation_all() -> Result<Activated, BindError> {
        let (adopted, others) = Bound::all_activated()?;
        let listeners = adopted
            .into_iter()
            .map(|(name, bound)| (name, Self::from_bound(bound)))
            .collect();
        Ok(Activated { listeners, others })
    }
}

/// What [`SafeUnixListener::from_activation_all`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Activated {
    /// The passed Unix stream listeners, with the names they were passed
    /// under (`FileDescriptorName=`, `--fdname`), in descriptor order.
    pub listeners: Vec<(Option<String>, SafeUnixListener)>,
    /// The passed descriptors that are not Unix stream listeners, and what
    /// each is instead. Left open, untouched.
    pub others: Vec<NotUsed>,
}
