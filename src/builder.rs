//! [`Builder`]: the options of a bind. What binds with them is in the file
//! of the socket type made ([`Builder::bind`] in `listener.rs`), and the
//! sequence itself in `bind.rs`.

use crate::addr::UnixAddr;
use crate::bind::{self, OnExisting};
use crate::peer::PeerFilter;

/// Options for binding a [`SafeUnixListener`](crate::SafeUnixListener), from
/// [`SafeUnixListener::builder`](crate::SafeUnixListener::builder).
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
    pub(crate) addr: UnixAddr,
    pub(crate) options: bind::Options,
    pub(crate) unlink_on_drop: bool,
    pub(crate) notify_ready: bool,
    pub(crate) access: PeerFilter,
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
}
