//! [`Builder`]: the bind options, and the bind sequence itself.

use std::fs::{self, Permissions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::socket::{self, Backlog};

use crate::access::PeerFilter;
use crate::addr::UnixAddr;
use crate::error::{BindError, Facts, errno_of};
use crate::guard::UnlinkGuard;
use crate::listener::SafeUnixListener;
use crate::{prebind, sys};

/// What to do when a file already exists at the socket path.
///
/// Whatever the policy, a live socket and anything that is not a socket
/// are never touched.
///
/// ```no_run
/// use safe_unix_listener::{OnExisting, SafeUnixListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), safe_unix_listener::BindError> {
/// let _listener = SafeUnixListener::builder("/run/app/app.sock".parse()?)
///     .on_existing(OnExisting::Fail)
///     .bind()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnExisting {
    /// Remove a socket that nobody listens on (the connection is refused),
    /// then bind. The default.
    #[default]
    RemoveStale,
    /// Remove nothing: fail with [`InUse`](crate::BindErrorKind::InUse) when
    /// any socket is at the path, stale or not.
    Fail,
    /// Zero-downtime restart: bind and listen under a temporary name in the
    /// same directory (with mode and owner applied), then `rename(2)` it
    /// over the path, live or not. The path never goes missing, so clients
    /// connecting in a loop are never refused; the old server keeps the
    /// connections it has, and its drop leaves the new socket alone (it is
    /// another inode). Then send the old server SIGTERM.
    ///
    /// Anything at the path that is not a socket is still refused.
    TakeOver,
}

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
    mode: Option<u32>,
    owner: Option<u32>,
    group: Option<u32>,
    create_parents: Option<u32>,
    unlink_on_drop: bool,
    on_existing: OnExisting,
    check_parent: bool,
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
            mode: None,
            owner: None,
            group: None,
            create_parents: None,
            unlink_on_drop: true,
            on_existing: OnExisting::RemoveStale,
            check_parent: false,
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
        self.mode = Some(mode & 0o7777);
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
        self.owner = Some(uid);
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
        self.group = Some(gid);
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
        self.create_parents = Some(mode & 0o7777);
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
        self.on_existing = policy;
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
        self.check_parent = check;
        self
    }

    /// Accepts connections only from peers with one of these uids (or one of
    /// the gids given to [`allow_gids`](Self::allow_gids)). Others are
    /// closed at once, logged at `warn` with their pid and uid, and never
    /// reach `accept`, the `Stream` or the adapters. May be called again to
    /// add more.
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

    /// Accepts connections only from peers whose primary gid is one of
    /// these (or whose uid was given to [`allow_uids`](Self::allow_uids)).
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
        match SafeUnixListener::from_activation()? {
            Some(mut passed) => {
                passed.set_access(self.access);
                Ok(passed)
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
        if let Some(path) = self.addr.as_path() {
            let path = path.to_owned();
            self.bind_path(&path)
        } else {
            self.bind_abstract()
        }
    }

    fn bind_path(self, path: &Path) -> Result<SafeUnixListener, BindError> {
        let options = prebind::Options {
            create_parents: self.create_parents,
            on_existing: self.on_existing,
            check_parent: self.check_parent,
        };
        let lock = prebind::prepare(path, &options)?;
        // A takeover binds beside the path and renames over it at the end.
        let at = match self.on_existing {
            OnExisting::TakeOver => prebind::takeover_name(path)?,
            _ => path.to_owned(),
        };
        let fail = |operation, errno| BindError::os(operation, &at, errno, &Facts::about(&at));

        let fd = sys::stream_socket().map_err(|e| fail("create socket for", e))?;
        let sockaddr = socket::UnixAddr::new(&at).map_err(|e| fail("bind", e))?;
        socket::bind(fd.as_raw_fd(), &sockaddr).map_err(|e| fail("bind", e))?;
        // From here on the file is ours: it is removed again on any failure.
        let mut guard = UnlinkGuard::new(&at).map_err(|e| fail("look up", errno_of(&e)))?;
        if let Err(e) = self.finish_socket(&fd, &at, path) {
            guard.remove_now(); // the bind lock is held: no need to take it
            return Err(e);
        }
        guard.moved_to(path);
        // Only now may another starter probe the path and find it live.
        drop(lock);

        guard.set_armed(self.unlink_on_drop);
        let listener = into_tokio(fd).map_err(|e| fail("register", errno_of(&e)))?;
        tracing::debug!(path = %path.display(), "listening");
        let mut bound = SafeUnixListener::new(listener, self.addr, Some(guard));
        bound.set_access(self.access);
        Ok(bound)
    }

    /// Between bind and listen: the mode and owner; then listen, and for a
    /// takeover the rename from `at` over `path`.
    fn finish_socket(&self, fd: &OwnedFd, at: &Path, path: &Path) -> Result<(), BindError> {
        let fail = |operation, errno| BindError::os(operation, at, errno, &Facts::about(at));
        if let Some(mode) = self.mode {
            fs::set_permissions(at, Permissions::from_mode(mode))
                .map_err(|e| fail("set mode of", errno_of(&e)))?;
        }
        if self.owner.is_some() || self.group.is_some() {
            std::os::unix::fs::lchown(at, self.owner, self.group)
                .map_err(|e| fail("change owner of", errno_of(&e)))?;
        }
        socket::listen(fd, Backlog::MAXCONN).map_err(|e| fail("listen on", e))?;
        if at != path {
            fs::rename(at, path).map_err(|e| {
                BindError::os("rename over", path, errno_of(&e), &Facts::about(path))
            })?;
            tracing::info!(path = %path.display(), "took over the socket path");
        }
        Ok(())
    }

    fn bind_abstract(self) -> Result<SafeUnixListener, BindError> {
        let name = self.addr.as_abstract_name().unwrap_or_default();
        let Some(sockaddr) = sys::abstract_sockaddr(name) else {
            return Err(BindError::unsupported_abstract(&self.addr));
        };
        let fail = |e| BindError::abstract_failed(&self.addr, e);
        let fd = sys::stream_socket().map_err(fail)?;
        socket::bind(fd.as_raw_fd(), &sockaddr).map_err(fail)?;
        socket::listen(&fd, Backlog::MAXCONN).map_err(fail)?;
        let listener = into_tokio(fd).map_err(|e| fail(errno_of(&e)))?;
        tracing::debug!(addr = %self.addr, "listening");
        let mut bound = SafeUnixListener::new(listener, self.addr, None);
        bound.set_access(self.access);
        Ok(bound)
    }
}

fn into_tokio(fd: OwnedFd) -> std::io::Result<tokio::net::UnixListener> {
    tokio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
}
