//! How a [`SafeUnixListener`] comes to be: [`Builder`] and its options, and
//! the constructors on `SafeUnixListener` (bind, bind an abstract name,
//! take a socket passed by the service manager). The bind sequence itself
//! is in [`crate::bind`].

use std::path::Path;

use crate::activation;
use crate::addr::{AddrView, UnixAddr};
use crate::bind::{self, OnExisting};
use crate::error::BindError;
use crate::guard::Cleanup;
use crate::listener::SafeUnixListener;
use crate::peer::PeerFilter;
use crate::temp;

/// Options for binding a [`SafeUnixListener`], from
/// [`SafeUnixListener::builder`].
///
/// ```no_run
/// use safe_unix_listener::SafeUnixListener;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), safe_unix_listener::BindError> {
/// let _listener = SafeUnixListener::builder("/run/app/app.sock".parse()?)
///     .create_parents(0o750)
///     .mode(0o660)
///     .group(33)
///     .bind()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    addr: UnixAddr,
    options: bind::Options,
    unlink_on_drop: bool,
    notify_ready: bool,
    access: PeerFilter,
}

impl Builder {
    /// Options for binding `addr`, with the defaults: umask-derived mode,
    /// our own uid and gid, no directory creation, unlink on drop, and
    /// [`OnExisting::RemoveStale`].
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("@app".parse()?);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn new(addr: UnixAddr) -> Self {
        Self {
            addr,
            options: bind::Options::default(),
            unlink_on_drop: true,
            notify_ready: false,
            access: PeerFilter::default(),
        }
    }

    /// Gives the socket file exactly these permission bits (`& 0o7777`),
    /// whatever the umask. Connecting needs write permission, so `0o660`
    /// admits the owner and the group only.
    ///
    /// The mode is set after `bind` and before `listen`, so no client can
    /// connect while the file has looser permissions. Ignored for abstract
    /// names, which have no file.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock".parse()?).mode(0o660);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.options.mode = Some(mode & 0o7777);
        self
    }

    /// Makes `uid` the owner of the socket file (needs privilege), before
    /// `listen`. Ignored for abstract names.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock".parse()?).owner(1000);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn owner(mut self, uid: u32) -> Self {
        self.options.owner = Some(uid);
        self
    }

    /// Makes `gid` the group of the socket file, before `listen`. Ignored
    /// for abstract names.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock".parse()?).group(33).mode(0o660);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn group(mut self, gid: u32) -> Self {
        self.options.group = Some(gid);
        self
    }

    /// Creates missing parent directories, each with exactly `mode`. Off by
    /// default: a missing directory then fails with
    /// [`ParentMissing`](crate::BindErrorKind::ParentMissing).
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock".parse()?).create_parents(0o750);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn create_parents(mut self, mode: u32) -> Self {
        self.options.create_parents = Some(mode & 0o7777);
        self
    }

    /// Whether dropping the listener removes its socket file (if it is still
    /// the same inode). On by default.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock".parse()?).unlink_on_drop(false);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn unlink_on_drop(mut self, unlink: bool) -> Self {
        self.unlink_on_drop = unlink;
        self
    }

    /// What to do about a file that is already at the path.
    ///
    /// ```
    /// # use safe_unix_listener::{Builder, OnExisting};
    /// let _builder = Builder::new("/run/app.sock".parse()?).on_existing(OnExisting::Fail);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn on_existing(mut self, policy: OnExisting) -> Self {
        self.options.on_existing = policy;
        self
    }

    /// Refuses to bind in a directory that others could use to replace the
    /// socket: one that is writable by every user without the sticky bit,
    /// or one owned by another user than us or root (tmux's rule). Off by
    /// default. Fails with
    /// [`InsecureParent`](crate::BindErrorKind::InsecureParent).
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock".parse()?).check_parent(true);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn check_parent(mut self, check: bool) -> Self {
        self.options.check_parent = check;
        self
    }

    /// Accepts connections only from peers with one of these uids (or one of
    /// the gids given to [`allow_gids`](Self::allow_gids)). Others are
    /// closed at once and never reach `accept`, the `Stream` or the
    /// adapters. Each is logged at `debug` with its pid, uid, gid and
    /// groups, and at `warn` at most once a second per listener, with a
    /// count of those not shown. May be called again to add more.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// // root and the service's own user
    /// let _builder = Builder::new("@app".parse()?).allow_uids([0, 1000]);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn allow_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.access.allow_uids(uids);
        self
    }

    /// Accepts connections only from peers in one of these groups (or whose
    /// uid was given to [`allow_uids`](Self::allow_uids)): the peer's
    /// primary gid, or on Linux (4.13 and later) any of its supplementary
    /// groups, as the kernel recorded them when it connected
    /// (`SO_PEERGROUPS`). Elsewhere only the primary gid is checked.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("@app".parse()?).allow_gids([33]);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn allow_gids(mut self, gids: impl IntoIterator<Item = u32>) -> Self {
        self.access.allow_gids(gids);
        self
    }

    /// Tells the service manager that the service is ready (`READY=1` on
    /// `$NOTIFY_SOCKET`, see [`notify_ready`](crate::notify_ready)) as soon
    /// as the socket listens, so that under `Type=notify` nothing ordered
    /// after the service starts before it accepts connections. Off by
    /// default; nothing is sent when `$NOTIFY_SOCKET` is unset. A failure
    /// to notify is logged at `warn`; the listener is kept.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock".parse()?).notify_ready(true);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn notify_ready(mut self, notify: bool) -> Self {
        self.notify_ready = notify;
        self
    }

    /// Uses the socket passed by the service manager if there is one
    /// ([`SafeUnixListener::from_activation`]), and binds this address
    /// otherwise. The allowed uids and gids apply either way; mode, owner
    /// and the existing-file policy only to a bind.
    ///
    /// ```no_run
    /// # use safe_unix_listener::Builder;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// // Works under `systemd-socket-activate -l /run/app.sock ./app` and alone.
    /// let _listener = Builder::new("/run/app.sock".parse()?).activation_or_bind()?;
    /// # Ok(()) }
    /// ```
    pub fn activation_or_bind(self) -> Result<SafeUnixListener, BindError> {
        match activation::take(None)? {
            Some((listener, addr, _)) => {
                self.ready();
                Ok(SafeUnixListener::new(
                    listener,
                    addr,
                    Cleanup::Nothing,
                    self.access,
                ))
            }
            None => self.bind(),
        }
    }

    /// Binds and listens. Must be called inside a Tokio runtime.
    ///
    /// ```no_run
    /// # use safe_unix_listener::Builder;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _listener = Builder::new("/run/app.sock".parse()?).bind()?;
    /// # Ok(()) }
    /// ```
    pub fn bind(self) -> Result<SafeUnixListener, BindError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BindError::no_runtime(&self.addr));
        }
        let (listener, cleanup) = match self.addr.view() {
            AddrView::Path(path) => {
                let (listener, mut guard) = bind::bind_path(path, &self.options)?;
                guard.set_armed(self.unlink_on_drop);
                tracing::debug!(path = %path.display(), "listening");
                (listener, Cleanup::Socket(guard))
            }
            AddrView::Abstract(name) => {
                let listener = bind::bind_abstract(name, &self.addr)?;
                tracing::debug!(addr = %self.addr, "listening");
                (listener, Cleanup::Nothing)
            }
        };
        self.ready();
        Ok(SafeUnixListener::new(
            listener,
            self.addr,
            cleanup,
            self.access,
        ))
    }

    /// `READY=1`, if asked for.
    fn ready(&self) {
        if self.notify_ready {
            if let Err(e) = crate::notify_ready() {
                tracing::warn!(error = %e, "listening, but the service manager was not told");
            }
        }
    }
}

impl SafeUnixListener {
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
    /// [`UnixStream::peer_cred`](tokio::net::UnixStream::peer_cred) on each connection.
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
    /// assert!(listener.local_addr().is_abstract());
    /// let _client = listener.local_addr().connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn bind_abstract_auto() -> Result<Self, BindError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BindError::no_runtime(
                "an abstract name chosen by the kernel",
            ));
        }
        let (listener, addr) = bind::bind_abstract_auto()?;
        tracing::debug!(%addr, "listening");
        Ok(Self::new(
            listener,
            addr,
            Cleanup::Nothing,
            PeerFilter::default(),
        ))
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
    /// let path = listener.local_addr().as_path().unwrap().to_owned();
    /// let _client = listener.local_addr().connect().await?;
    /// drop(listener);
    /// assert!(!path.parent().unwrap().exists());
    /// # Ok(()) }
    /// ```
    pub fn bind_temp() -> Result<Self, BindError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BindError::no_runtime("a temporary socket"));
        }
        let (listener, addr, temp) = temp::bind_temp()?;
        tracing::debug!(%addr, "listening");
        Ok(Self::new(
            listener,
            addr,
            Cleanup::TempDir(temp),
            PeerFilter::default(),
        ))
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
        Ok(activation::take(None)?.map(passed))
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
        Ok(activation::take(Some(name))?.map(passed))
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
    ///     println!("{name:?} on {}", listener.local_addr());
    /// }
    /// for (fd, what) in &passed.others {
    ///     eprintln!("descriptor {fd} {what}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn from_activation_all() -> Result<Activated, BindError> {
        let (adopted, others) = activation::take_all()?;
        let listeners = adopted
            .into_iter()
            .map(|(l, addr, name)| {
                let listener = Self::new(l, addr, Cleanup::Nothing, PeerFilter::default());
                (name, listener)
            })
            .collect();
        Ok(Activated { listeners, others })
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
}

fn passed((listener, addr, _): activation::Adopted) -> SafeUnixListener {
    SafeUnixListener::new(listener, addr, Cleanup::Nothing, PeerFilter::default())
}

/// What [`SafeUnixListener::from_activation_all`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Activated {
    /// The passed Unix stream listeners, with the names they were passed
    /// under (`FileDescriptorName=`, `--fdname`), in descriptor order.
    pub listeners: Vec<(Option<String>, SafeUnixListener)>,
    /// The passed descriptors that are not Unix stream listeners: the
    /// descriptor number, and what it is instead. Left open, untouched.
    pub others: Vec<(i32, String)>,
}

/// Reads the socket-activation variables (`LISTEN_PID`, `LISTEN_FDS`,
/// `LISTEN_FDNAMES`) now, checks them, marks every passed descriptor
/// close-on-exec and removes the variables; returns how many descriptors
/// were passed. Needs no runtime.
///
/// Call it first thing in `main`, before the runtime starts and before the
/// program opens any descriptor of its own: the protocol passes descriptors
/// by number from 3 on, and a lying `LISTEN_FDS` could otherwise name one
/// the program opened itself. The `from_activation*` functions call it on
/// first use.
///
/// # Errors
///
/// [`InvalidActivation`](crate::BindErrorKind::InvalidActivation) when
/// `LISTEN_PID` is not a number, `LISTEN_FDS` is not a number or is larger
/// than the descriptor table (`RLIMIT_NOFILE`), or a passed descriptor is
/// not open.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let passed = safe_unix_listener::receive_activation()?;
///     let rt = tokio::runtime::Runtime::new()?;
///     rt.block_on(async {
///         let listener = match passed {
///             0 => safe_unix_listener::SafeUnixListener::bind("/run/app/app.sock")?,
///             _ => safe_unix_listener::SafeUnixListener::from_activation()?.expect("passed"),
///         };
///         drop(listener);
///         Ok(())
///     })
/// }
/// ```
pub fn receive_activation() -> Result<usize, BindError> {
    activation::receive()
}
