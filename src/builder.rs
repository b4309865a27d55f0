//! [`Builder`]: the options of a bind, and every way to finish one, for a
//! listener ([`Builder::bind`]) and a datagram receiver
//! ([`Builder::bind_datagram`]). Both end in the one generic bind of
//! `bound.rs` ([`Bound::bind`]), so every option applies to both; the
//! sequence itself is in `bind.rs`.

use std::fmt;
use std::marker::PhantomData;

use std::path::PathBuf;

use crate::addr::UnixAddr;
use crate::bind::OnExisting;
use crate::bound::{Bound, Settings};
use crate::cleanup::UnlinkOnDrop;
use crate::datagram::SafeUnixDatagram;
use crate::error::BindError;
use crate::listener::SafeUnixListener;

/// Options for binding a [`SafeUnixListener`], from
/// [`SafeUnixListener::builder`] or [`Builder::new`], or a
/// [`SafeUnixDatagram`], from [`SafeUnixDatagram::builder`].
///
/// The type parameter is what [`bind`](Self::bind) makes, so a datagram
/// receiver's builder cannot make a listener:
///
/// ```compile_fail
/// use safe_unix_listener::{SafeUnixDatagram, SafeUnixListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), safe_unix_listener::BindError> {
/// let _listener: SafeUnixListener = SafeUnixDatagram::builder("@m".parse::<safe_unix_listener::UnixAddr>()?).bind()?;
/// # Ok(()) }
/// ```
///
/// ```no_run
/// use safe_unix_listener::SafeUnixListener;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), safe_unix_listener::BindError> {
/// let _listener = SafeUnixListener::builder("/run/app/app.sock")
///     .create_parents(0o750)
///     .mode(0o660)
///     .group(33)
///     .bind()?;
/// # Ok(()) }
/// ```
pub struct Builder<S = SafeUnixListener> {
    /// The address, or a path whose check waits for the bind.
    addr: Result<UnixAddr, PathBuf>,
    settings: Settings,
    /// What [`bind`](Self::bind) makes.
    makes: PhantomData<fn() -> S>,
}

impl Builder {
    /// Options for binding `addr`, with the defaults: umask-derived mode,
    /// our own uid and gid, no directory creation, unlink on drop, and
    /// [`OnExisting::RemoveStale`].
    ///
    /// `addr` is what [`SafeUnixListener::bind`] takes, a path (`&str`,
    /// `PathBuf`, …), or a [`UnixAddr`] (an abstract name, say). A path
    /// that is not a valid address is reported by the bind, with the rest.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _by_path = Builder::new("/run/app.sock");
    /// let _by_addr = Builder::new("@app".parse::<safe_unix_listener::UnixAddr>()?);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn new(addr: impl Address) -> Self {
        Self::of(addr)
    }
}

impl<S> Builder<S> {
    fn of(addr: impl Address) -> Self {
        Self {
            addr: addr.into_addr(),
            settings: Settings::default(),
            makes: PhantomData,
        }
    }

    /// The address, checked, and the settings.
    fn parts(self) -> Result<(UnixAddr, Settings), BindError> {
        let addr = self.addr.or_else(UnixAddr::from_path)?;
        Ok((addr, self.settings))
    }

    /// Gives the socket file exactly these permission bits (`& 0o7777`),
    /// whatever the umask. Connecting needs write permission, so `0o660`
    /// admits the owner and the group only.
    ///
    /// The mode is set after `bind` and before `listen`, so no client can
    /// connect while the file has looser permissions. Ignored for abstract
    /// names, which have no file.
    ///
    /// The mode is the access the kernel enforces, nothing more: a default
    /// ACL on the directory, which the new file inherits as an access ACL
    /// (with the mode's group bits as its mask), is removed before
    /// `listen`, and the mode set again; where no [`group`](Self::group)
    /// is asked for, a group a setgid directory gave the file is replaced
    /// by our effective gid. Where another user may write the directory,
    /// nothing is changed by name: on Linux the socket is made with no
    /// permission bits, proven to be the file our socket is bound to, and
    /// set through a descriptor of that file; elsewhere it is made in a
    /// private directory, set there, and moved into place. If the ACL or
    /// the group cannot be set, the bind fails and says why. ACLs are read on Linux
    /// and Android only. Without a mode, owner or group, nothing is
    /// checked: the file gets what any file made there gets (the umask, or
    /// the directory's default ACL and group).
    ///
    /// `None` (the default) leaves the mode to the umask, so a configured
    /// `Option<u32>` applies as it is, without an `if`:
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let configured: Option<u32> = None;
    /// let _builder = Builder::new("/run/app.sock").mode(0o660);
    /// let _builder = Builder::new("/run/app.sock").mode(configured);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn mode(mut self, mode: impl Into<Option<u32>>) -> Self {
        self.settings.options.mode = mode.into().map(|mode| mode & 0o7777);
        self
    }

    /// Makes `uid` the owner of the socket file (needs privilege), before
    /// `listen`; `None` (the default) leaves it ours. Ignored for abstract
    /// names.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock").owner(1000);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn owner(mut self, uid: impl Into<Option<u32>>) -> Self {
        self.settings.options.owner = uid.into();
        self
    }

    /// Makes `gid` the group of the socket file, before `listen`; `None`
    /// (the default) leaves the socket in our effective gid, even in a
    /// setgid directory, which would give it the directory's group (where
    /// a mode or owner is asked for; see [`mode`](Self::mode)). Ignored for
    /// abstract names.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock").group(33).mode(0o660);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn group(mut self, gid: impl Into<Option<u32>>) -> Self {
        self.settings.options.group = gid.into();
        self
    }

    /// The length of the queue of connections not yet accepted
    /// (`listen(2)`'s backlog). By default, and at most, `SOMAXCONN`; the
    /// kernel caps it again (`net.core.somaxconn` on Linux). Ignored for a
    /// datagram receiver, which does not listen.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.settings.options.backlog = Some(backlog);
        self
    }

    /// Creates missing parent directories, each with exactly `mode`. Off by
    /// default: a missing directory then fails with
    /// [`ParentMissing`](crate::BindErrorKind::ParentMissing).
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock").create_parents(0o750);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn create_parents(mut self, mode: u32) -> Self {
        self.settings.options.create_parents = Some(mode & 0o7777);
        self
    }

    /// Whether dropping the listener removes its socket file (if it is still
    /// the same inode). On by default.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app.sock").unlink_on_drop(false);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn unlink_on_drop(mut self, unlink: bool) -> Self {
        self.settings.armed = unlink;
        self
    }

    /// What to do about a file that is already at the path.
    ///
    /// ```
    /// # use safe_unix_listener::{Builder, OnExisting};
    /// let _builder = Builder::new("/run/app.sock").on_existing(OnExisting::Fail);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn on_existing(mut self, policy: OnExisting) -> Self {
        self.settings.options.on_existing = policy;
        self
    }

    /// Refuses to bind where another user could redirect the path or replace
    /// the socket (OpenSSH's StrictModes rule), over every step of the one
    /// resolution of the socket's directory that the bind then uses: every
    /// directory passed through, up to `/`, must be owned by root or us and
    /// not writable by group or others unless sticky, and every symbolic
    /// link on the way must be owned by root or us. Off by default. Fails
    /// with [`InsecureParent`](crate::BindErrorKind::InsecureParent),
    /// naming the step nearest the socket that fails, its owner and mode.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock").check_parent(true);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn check_parent(mut self, check: bool) -> Self {
        self.settings.options.check_parent = check;
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
    /// let _builder = Builder::new("@app".parse::<safe_unix_listener::UnixAddr>()?).allow_uids([0, 1000]);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn allow_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.settings.access.allow_uids(uids);
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
    /// let _builder = Builder::new("@app".parse::<safe_unix_listener::UnixAddr>()?).allow_gids([33]);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn allow_gids(mut self, gids: impl IntoIterator<Item = u32>) -> Self {
        self.settings.access.allow_gids(gids);
        self
    }

    /// Tells the service manager that the service is ready (`READY=1` on
    /// `$NOTIFY_SOCKET`, see [`notify_ready`](crate::systemd::notify_ready)) as soon
    /// as the socket listens, so that under `Type=notify` nothing ordered
    /// after the service starts before it accepts connections. Off by
    /// default; nothing is sent when `$NOTIFY_SOCKET` is unset. A failure
    /// to notify is logged at `warn`; the listener is kept.
    ///
    /// ```
    /// # use safe_unix_listener::Builder;
    /// let _builder = Builder::new("/run/app/app.sock").notify_ready(true);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn notify_ready(mut self, notify: bool) -> Self {
        self.settings.notify_ready = notify;
        self
    }
}

impl Builder<SafeUnixListener> {
    /// Binds and listens. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// A [`BindError`] that names the address, the cause and a fix;
    /// outside a Tokio runtime, one that says so, before anything is made.
    ///
    /// # Panics
    ///
    /// In a Tokio runtime without IO enabled, as tokio's own `bind`; the
    /// panic names the caller's line.
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    ///
    /// ```no_run
    /// # use safe_unix_listener::Builder;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _listener = Builder::new("/run/app.sock").bind()?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind(self) -> Result<SafeUnixListener, BindError> {
        let (addr, settings) = self.parts()?;
        Bound::bind(addr, settings).map(SafeUnixListener::from_bound)
    }

    /// Uses the socket passed by the service manager if there is one
    /// ([`SafeUnixListener::from_activation`]), and binds this address
    /// otherwise. The allowed uids and gids and `notify_ready` apply either
    /// way; mode, owner and the existing-file policy only to a bind.
    ///
    /// # Errors
    ///
    /// As [`SafeUnixListener::from_activation`] and [`bind`](Self::bind).
    ///
    /// ```no_run
    /// # use safe_unix_listener::Builder;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// // Works under `systemd-socket-activate -l /run/app.sock ./app` and alone.
    /// let _listener = Builder::new("/run/app.sock").activation_or_bind()?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn activation_or_bind(self) -> Result<SafeUnixListener, BindError> {
        let (addr, settings) = self.parts()?;
        Bound::activation_or_bind(addr, settings).map(SafeUnixListener::from_bound)
    }
}

impl Builder<SafeUnixDatagram> {
    /// Binds the datagram receiver, as [`bind_datagram`](Self::bind_datagram).
    ///
    /// # Errors
    ///
    /// As [`Builder::bind`].
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixDatagram;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let rx = SafeUnixDatagram::builder(dir.path().join("log.sock"))
    ///     .mode(0o620)
    ///     .bind()?;
    /// # drop(rx); Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind(self) -> Result<SafeUnixDatagram, BindError> {
        self.bind_datagram()
    }

    /// Uses the datagram socket passed by the service manager if there is
    /// one ([`SafeUnixDatagram::from_activation`]), and binds this address
    /// otherwise, as [`Builder::activation_or_bind`] does for a listener.
    ///
    /// # Errors
    ///
    /// As [`SafeUnixDatagram::from_activation`] and [`Builder::bind`].
    #[track_caller]
    pub fn activation_or_bind(self) -> Result<SafeUnixDatagram, BindError> {
        let (addr, settings) = self.parts()?;
        Bound::activation_or_bind(addr, settings).map(SafeUnixDatagram::from_bound)
    }
}

impl<S> Builder<S> {
    /// Binds a datagram receiver with these options: mode, owner, group,
    /// `create_parents`, `check_parent`, `notify_ready` and the
    /// existing-file policy work as for a listener; the allowed uids and
    /// gids apply to [`SafeUnixDatagram::recv_with_peer`]. Call it inside
    /// a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`Builder::bind`].
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let addr: safe_unix_listener::UnixAddr = dir.path().join("log.sock").try_into()?;
    /// let rx = safe_unix_listener::Builder::new(addr).allow_uids([0]).bind_datagram()?;
    /// # drop(rx); Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind_datagram(self) -> Result<SafeUnixDatagram, BindError> {
        let (addr, settings) = self.parts()?;
        Bound::bind(addr, settings).map(SafeUnixDatagram::from_bound)
    }
}

impl<S> Builder<S> {
    /// Binds and listens, as [`Builder::bind`] does, without Tokio: the
    /// bind itself is synchronous, so any program gets its guarantees, a
    /// std accept thread or another runtime (async-io, smol) alike. The
    /// listener is left blocking, as std's own `bind` leaves it; the
    /// [`UnlinkOnDrop`] removes the socket file when it drops, by the same
    /// rules as the listener's drop. Needs no runtime.
    ///
    /// The options apply as to [`bind`](Builder::bind), but for
    /// [`allow_uids`](Self::allow_uids) and [`allow_gids`](Self::allow_gids):
    /// a std listener's `accept` filters nothing, so check each peer's
    /// credentials yourself.
    ///
    /// # Errors
    ///
    /// As [`Builder::bind`], but for the runtime: there is none to miss.
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    ///
    /// ```
    /// use std::io::Write;
    /// use safe_unix_listener::Builder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sock");
    /// let (listener, unlink) = Builder::new(&path).mode(0o600).bind_std()?;
    /// let server = std::thread::spawn(move || -> std::io::Result<()> {
    ///     let (mut stream, _) = listener.accept()?;
    ///     stream.write_all(b"hello\n")
    /// });
    /// let mut reply = String::new();
    /// std::io::Read::read_to_string(&mut std::os::unix::net::UnixStream::connect(&path)?, &mut reply)?;
    /// assert_eq!(reply, "hello\n");
    /// server.join().unwrap()?;
    /// drop(unlink);
    /// assert!(!path.exists());
    /// # Ok(()) }
    /// ```
    pub fn bind_std(self) -> Result<(std::os::unix::net::UnixListener, UnlinkOnDrop), BindError> {
        let (addr, settings) = self.parts()?;
        Bound::bind(addr, settings).map(Bound::into_parts)
    }

    /// Binds a datagram receiver, as [`bind_datagram`](Self::bind_datagram)
    /// does, without Tokio: blocking, as std's own, with the
    /// [`UnlinkOnDrop`] that removes its file. Needs no runtime. The
    /// allowed uids and gids do not apply (std's `recv` filters nothing).
    ///
    /// # Errors
    ///
    /// As [`Builder::bind`], but for the runtime.
    ///
    /// # Blocking
    ///
    /// Waits at most 5 s for a bind lock another process holds; see
    /// [Blocking](crate#blocking).
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixDatagram;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("metrics.sock");
    /// let (rx, unlink) = SafeUnixDatagram::builder(&path).bind_datagram_std()?;
    /// std::os::unix::net::UnixDatagram::unbound()?.send_to(b"up:1|c", &path)?;
    /// let mut buf = [0; 16];
    /// let n = rx.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"up:1|c");
    /// drop(unlink);
    /// assert!(!path.exists());
    /// # Ok(()) }
    /// ```
    pub fn bind_datagram_std(
        self,
    ) -> Result<(std::os::unix::net::UnixDatagram, UnlinkOnDrop), BindError> {
        let (addr, settings) = self.parts()?;
        Bound::bind(addr, settings).map(Bound::into_parts)
    }
}

impl SafeUnixListener {
    /// Options for binding `addr`: mode, owner, parent directories, unlink
    /// on drop, and the policy for an existing file.
    ///
    /// ```no_run
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// let _listener = SafeUnixListener::builder("/run/app/app.sock")
    ///     .mode(0o660)
    ///     .bind()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(addr: impl Address) -> Builder {
        Builder::new(addr)
    }
}

impl SafeUnixDatagram {
    /// Options for binding a receiver at `addr`, finished with
    /// [`bind`](Builder::bind).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), safe_unix_listener::BindError> {
    /// use safe_unix_listener::SafeUnixDatagram;
    ///
    /// // Writable by the owner and a group of senders.
    /// let rx = SafeUnixDatagram::builder("/run/app/metrics.sock")
    ///     .mode(0o620)
    ///     .bind()?;
    /// # drop(rx); Ok(()) }
    /// ```
    pub fn builder(addr: impl Address) -> Builder<SafeUnixDatagram> {
        Builder::of(addr)
    }
}

impl<S> Clone for Builder<S> {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
            settings: self.settings.clone(),
            makes: PhantomData,
        }
    }
}

/// What [`Builder::new`], [`SafeUnixListener::builder`] and
/// [`SafeUnixDatagram::builder`] take: a path, as
/// [`SafeUnixListener::bind`] takes one, or a [`UnixAddr`].
mod address {
    use std::path::{Path, PathBuf};

    use crate::addr::UnixAddr;

    /// A path (anything `AsRef<Path>`), or a [`UnixAddr`] (owned or
    /// borrowed).
    pub trait Address {
        /// The address, or the path to check when binding.
        fn into_addr(self) -> Result<UnixAddr, PathBuf>;
    }

    impl<P: AsRef<Path>> Address for P {
        fn into_addr(self) -> Result<UnixAddr, PathBuf> {
            Err(self.as_ref().to_owned())
        }
    }

    impl Address for UnixAddr {
        fn into_addr(self) -> Result<UnixAddr, PathBuf> {
            Ok(self)
        }
    }

    impl Address for &UnixAddr {
        fn into_addr(self) -> Result<UnixAddr, PathBuf> {
            Ok(self.clone())
        }
    }
}
use address::Address;

impl<S> fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("addr", &self.addr.as_ref().map_err(|path| path.display()))
            .field("options", &self.settings.options)
            .field("unlink_on_drop", &self.settings.armed)
            .field("notify_ready", &self.settings.notify_ready)
            .field("access", &self.settings.access)
            .finish()
    }
}
