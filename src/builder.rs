//! [`Builder`]: the bind options, and the bind sequence itself.

use std::fs::{self, Permissions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::socket::{self, Backlog};

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
        let facts = || Facts::about(path);
        let lock = prebind::prepare(path, self.create_parents, self.on_existing)?;

        let fd = sys::stream_socket()
            .map_err(|e| BindError::os("create socket for", path, e, &facts()))?;
        let sockaddr =
            socket::UnixAddr::new(path).map_err(|e| BindError::os("bind", path, e, &facts()))?;
        socket::bind(fd.as_raw_fd(), &sockaddr)
            .map_err(|e| BindError::os("bind", path, e, &facts()))?;
        // From here on the file is ours: the guard removes it on any failure.
        let mut guard = UnlinkGuard::new(path)
            .map_err(|e| BindError::os("look up", path, errno_of(&e), &facts()))?;

        if let Some(mode) = self.mode {
            fs::set_permissions(path, Permissions::from_mode(mode))
                .map_err(|e| BindError::os("set mode of", path, errno_of(&e), &facts()))?;
        }
        if self.owner.is_some() || self.group.is_some() {
            std::os::unix::fs::lchown(path, self.owner, self.group)
                .map_err(|e| BindError::os("change owner of", path, errno_of(&e), &facts()))?;
        }
        socket::listen(&fd, Backlog::MAXCONN)
            .map_err(|e| BindError::os("listen on", path, e, &facts()))?;
        // Only now may another starter probe the path and find it live.
        drop(lock);

        guard.set_armed(self.unlink_on_drop);
        let listener =
            into_tokio(fd).map_err(|e| BindError::os("register", path, errno_of(&e), &facts()))?;
        tracing::debug!(path = %path.display(), "listening");
        Ok(SafeUnixListener::new(listener, self.addr, Some(guard)))
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
        Ok(SafeUnixListener::new(listener, self.addr, None))
    }
}

fn into_tokio(fd: OwnedFd) -> std::io::Result<tokio::net::UnixListener> {
    tokio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
}
