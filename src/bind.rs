//! The bind sequence, read top to bottom in [`bind_path`]:
//!
//! 1. the directory: created when asked (never following a link), checked
//!    when asked (OpenSSH's StrictModes rule), and opened; every later step
//!    works through its descriptor;
//! 2. the bind lock ([`crate::lock`]);
//! 3. the path, looked at without following a link: nothing, or a socket,
//!    may be there. A socket is probed with a non-blocking `connect`; only
//!    one that refuses the connection is stale, and it is removed after
//!    checking that the path still names the same inode;
//! 4. a private 0700 directory beside the path ([`crate::private`]);
//! 5. the socket, bound in that directory (through `/proc/self/fd` on
//!    Linux, so that the bind cannot be redirected), given its mode and
//!    owner through the directory's descriptor (no other user can enter it,
//!    so they can only ever apply to our socket), then listening;
//! 6. moved into place without replacing anything
//!    (`renameat2(RENAME_NOREPLACE)`, or `link` and `unlink`), so that a
//!    socket at the path is always already listening with its final mode;
//!    a takeover swaps it with the socket at the path
//!    (`renameat2(RENAME_EXCHANGE)`) and swaps back anything that is not a
//!    socket;
//! 7. the private directory is removed, then the lock released.
//!
//! [`bind_abstract`] is the whole sequence for an abstract name: there is no
//! file, so nothing to look at, lock or remove.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, renameat};
use nix::sys::socket::{self, Backlog};
use nix::sys::stat::{FchmodatFlags, FileStat, fchmodat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, linkat, unlinkat};
use tokio::net::UnixListener;

use crate::addr::UnixAddr;
use crate::error::{BindError, Op, errno_of, parent_dir};
use crate::guard::UnlinkGuard;
use crate::lock::{self, LOCK_TIMEOUT};
use crate::private::{self, PrivateDir, SOCKET};
use crate::probe::{self, Probe};
use crate::stat::{self, describe, is_socket, lstat_at, same_inode};
use crate::{parent, sys};

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
    /// Zero-downtime restart: bind and listen in a private directory beside
    /// the path (with mode and owner applied), then swap the new socket with
    /// the one at the path, live or not. The path never goes missing, so
    /// clients connecting in a loop are never refused; the old server keeps
    /// the connections it has, and its drop leaves the new socket alone (it
    /// is another inode). Then send the old server SIGTERM.
    ///
    /// Anything at the path that is not a socket is still refused, even one
    /// that appears during the takeover: on Linux the swap is atomic
    /// (`renameat2(RENAME_EXCHANGE)`) and whatever came back is checked and
    /// swapped back if it is not a socket. Elsewhere the path is checked
    /// just before a plain `rename(2)`.
    TakeOver,
}

/// The options that shape a bind to a path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) mode: Option<u32>,
    pub(crate) owner: Option<u32>,
    pub(crate) group: Option<u32>,
    pub(crate) create_parents: Option<u32>,
    pub(crate) on_existing: OnExisting,
    pub(crate) check_parent: bool,
}

/// Binds and listens on `path`, safely (see the module docs). Returns the
/// listener and the guard that removes the socket file on drop.
pub(crate) fn bind_path(
    path: &Path,
    o: &Options,
) -> Result<(UnixListener, UnlinkGuard), BindError> {
    // 1. The directory, made and checked when asked.
    let dir_path = parent_dir(path);
    if let Some(mode) = o.create_parents {
        parent::create_missing(path, dir_path, mode)?;
    }
    if o.check_parent {
        parent::check_chain(path, dir_path)?;
    }
    // 2. and 3., then the rest under the lock.
    cleared(path, o.on_existing, |dir, name, _| {
        // 4. A private directory, which nobody else can enter.
        let private = PrivateDir::create(dir, dir_path, path)?;

        // 5. The socket: bound, checked, mode and owner, listening,
        // registered.
        let fd = sys::stream_socket().map_err(|e| BindError::os(Op::CreateSocket, path, e))?;
        let at = socket::UnixAddr::new(&private.socket_path())
            .map_err(|e| BindError::os(Op::Bind, path, e))?;
        socket::bind(fd.as_raw_fd(), &at).map_err(|e| BindError::os(Op::Bind, path, e))?;
        let identity = match lstat_at(private.fd(), OsStr::new(SOCKET)) {
            Ok(Some(st)) if is_socket(&st) => st,
            // The bind went elsewhere: the directory's path was redirected.
            _ => {
                return Err(BindError::raced(
                    Op::Bind,
                    path,
                    "our private directory was replaced while binding",
                ));
            }
        };
        if let Some(mode) = o.mode {
            fchmodat(
                private.fd(),
                SOCKET,
                stat::mode(mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| BindError::os(Op::SetMode, path, e))?;
        }
        if o.owner.is_some() || o.group.is_some() {
            let (uid, gid) = (o.owner.map(Uid::from_raw), o.group.map(Gid::from_raw));
            fchownat(private.fd(), SOCKET, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| BindError::os(Op::ChangeOwner, path, e))?;
        }
        socket::listen(&fd, Backlog::MAXCONN).map_err(|e| BindError::os(Op::Listen, path, e))?;
        // Only a listening socket may be registered: epoll reports a stream
        // socket that is neither connected nor listening as hung up, and
        // Tokio would keep that forever, spinning on accept.
        let listener =
            into_tokio(fd).map_err(|e| BindError::os(Op::Register, path, errno_of(&e)))?;

        // 6. Into place.
        match o.on_existing {
            OnExisting::TakeOver => swap_in(private.fd(), dir, path, name)?,
            _ => move_in(private.fd(), dir, path, name)?,
        }
        // 7. The private directory goes here, the lock on return.
        Ok((listener, UnlinkGuard::new(path, &identity)))
    })
}

/// Steps 1 to 3 alone, for `clean_stale`: removes a provably stale socket
/// at `path`. `Ok(true)` if it removed one, `Ok(false)` if nothing was
/// there.
pub(crate) fn clean_path(path: &Path) -> Result<bool, BindError> {
    cleared(path, OnExisting::RemoveStale, |_, _, removed| Ok(removed))
}

/// Steps 1 to 3: opens the directory of `path`, takes the bind lock (2),
/// clears leftovers of binds that died half-way and what is at the path
/// (3), then runs `then` with the directory, the file name, and whether a
/// stale socket was removed. The lock is released after `then` returns.
fn cleared<T>(
    path: &Path,
    on_existing: OnExisting,
    then: impl FnOnce(BorrowedFd<'_>, &OsStr, bool) -> Result<T, BindError>,
) -> Result<T, BindError> {
    let dir_path = parent_dir(path);
    let Some(name) = path.file_name() else {
        return Err(BindError::invalid_address(
            path.display(),
            "the path does not end in a file name",
        ));
    };
    let dir = parent::open_dir(path, dir_path)?;
    let dir = dir.as_fd();
    let lock = lock::acquire(dir, dir_path, name, LOCK_TIMEOUT)?;
    private::remove_leftovers(dir, dir_path, private::PREFIX);
    let removed = clear(dir, path, name, on_existing)?;
    let done = then(dir, name, removed);
    drop(lock);
    done
}

/// Step 3: leaves the path empty (or, for a takeover, a socket), or fails
/// without touching it. `Ok(true)` if it removed a stale socket.
fn clear(
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
    on_existing: OnExisting,
) -> Result<bool, BindError> {
    let Some(found) = lstat_at(dir, name).map_err(|e| BindError::os(Op::LookUp, path, e))? else {
        return Ok(false);
    };
    if !is_socket(&found) {
        return Err(BindError::not_a_socket(path, describe(&found)));
    }
    if on_existing == OnExisting::TakeOver {
        return Ok(false);
    }
    match probe(path)? {
        Probe::Gone => Ok(false),
        Probe::Live(peer) => Err(BindError::live(path.display(), Some(path), peer.pid)),
        Probe::QueueFull => Err(BindError::backlog_full(path)),
        Probe::Failed(errno @ (Errno::EACCES | Errno::EPERM)) => {
            Err(BindError::os(Op::ProbeSocket, path, errno))
        }
        Probe::Failed(errno) => Err(BindError::unprobeable(path, errno)),
        Probe::Stale if on_existing == OnExisting::Fail => Err(BindError::stale_kept(path)),
        Probe::Stale => remove_stale(dir, path, name, &found).map(|()| true),
    }
}

fn probe(path: &Path) -> Result<Probe, BindError> {
    let addr = socket::UnixAddr::new(path).map_err(|errno| BindError::unprobeable(path, errno))?;
    probe::probe(&addr).map_err(|errno| BindError::os(Op::ProbeSocket, path, errno))
}

fn remove_stale(
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
    probed: &FileStat,
) -> Result<(), BindError> {
    match lstat_at(dir, name).map_err(|e| BindError::os(Op::LookUp, path, e))? {
        None => return Ok(()),
        Some(now) if !same_inode(&now, probed) => {
            return Err(BindError::raced(
                Op::RemoveStale,
                path,
                "another process replaced it while it was being checked",
            ));
        }
        Some(_) => {}
    }
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {
            tracing::info!(path = %path.display(), "removed stale socket");
            Ok(())
        }
        Err(errno) => Err(BindError::os(Op::RemoveStale, path, errno)),
    }
}

/// Step 6: the socket `s` in `private` becomes `name` in `dir`, only if
/// nothing is there.
fn move_in(
    private: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
) -> Result<(), BindError> {
    let taken = || {
        BindError::raced(
            Op::MoveIntoPlace,
            path,
            "another process put a file there while we were binding",
        )
    };
    match sys::rename_noreplace(private, Path::new(SOCKET), dir, Path::new(name)) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(taken()),
        // No renameat2 here (or not on this filesystem): a hard link never
        // replaces anything either. The private name goes with the
        // directory.
        Err(Errno::ENOSYS | Errno::EINVAL) => {
            match linkat(private, SOCKET, dir, name, AtFlags::empty()) {
                Ok(()) => Ok(()),
                Err(Errno::EEXIST) => Err(taken()),
                Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
            }
        }
        Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
    }
}

/// Step 6 for a takeover: the socket `s` in `private` replaces the socket at
/// `name` in `dir`, and never anything else.
fn swap_in(
    private: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
) -> Result<(), BindError> {
    let (ours, theirs) = (Path::new(SOCKET), Path::new(name));
    // Bounded: a process that keeps changing the path cannot keep us here.
    for _ in 0..16 {
        let Some(found) = lstat_at(dir, name).map_err(|e| BindError::os(Op::TakeOver, path, e))?
        else {
            match move_in(private, dir, path, name) {
                Err(e) if e.kind() == crate::BindErrorKind::InUse => continue,
                done => return done,
            }
        };
        if !is_socket(&found) {
            return Err(BindError::not_a_socket(path, describe(&found)));
        }
        match sys::rename_exchange(private, ours, dir, theirs) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue, // gone meanwhile: look again
            // No atomic exchange here: the check above, then a rename.
            Err(Errno::ENOSYS | Errno::EINVAL) => {
                return renameat(private, ours, dir, theirs)
                    .map_err(|e| BindError::os(Op::TakeOver, path, e));
            }
            Err(errno) => return Err(BindError::os(Op::TakeOver, path, errno)),
        }
        // What we swapped out is now `s` in the private directory, which
        // removes it on drop if it is a socket. Anything else goes back.
        match lstat_at(private, OsStr::new(SOCKET)) {
            Ok(Some(old)) if is_socket(&old) => return Ok(()),
            Ok(Some(other)) => {
                sys::rename_exchange(private, ours, dir, theirs)
                    .map_err(|e| BindError::os(Op::TakeOver, path, e))?;
                return Err(BindError::not_a_socket(path, describe(&other)));
            }
            _ => {
                return Err(BindError::raced(
                    Op::TakeOver,
                    path,
                    "what we replaced vanished from our private directory",
                ));
            }
        }
    }
    Err(BindError::raced(
        Op::TakeOver,
        path,
        "it kept changing while we were taking it over",
    ))
}

/// The whole sequence for an abstract name (`shown` in messages).
pub(crate) fn bind_abstract(
    name: &[u8],
    shown: &dyn std::fmt::Display,
) -> Result<UnixListener, BindError> {
    let Some(sockaddr) = sys::abstract_sockaddr(name) else {
        return Err(BindError::unsupported_abstract(shown));
    };
    let fail = |e| BindError::abstract_failed(shown, e);
    let fd = sys::stream_socket().map_err(fail)?;
    socket::bind(fd.as_raw_fd(), &sockaddr).map_err(fail)?;
    socket::listen(&fd, Backlog::MAXCONN).map_err(fail)?;
    into_tokio(fd).map_err(|e| fail(errno_of(&e)))
}

/// Linux autobind: binding an unnamed address makes the kernel choose a
/// free abstract name. Returns the listener and the name it got.
pub(crate) fn bind_abstract_auto() -> Result<(UnixListener, UnixAddr), BindError> {
    let shown = "an abstract name chosen by the kernel";
    let Some(unnamed) = sys::autobind_sockaddr() else {
        return Err(BindError::unsupported_abstract(shown));
    };
    let fail = |e| BindError::abstract_failed(shown, e);
    let fd = sys::stream_socket().map_err(fail)?;
    socket::bind(fd.as_raw_fd(), &unnamed).map_err(fail)?;
    socket::listen(&fd, Backlog::MAXCONN).map_err(fail)?;
    let bound: socket::UnixAddr = socket::getsockname(fd.as_raw_fd()).map_err(fail)?;
    let addr = sys::unix_addr_of(&bound).ok_or_else(|| fail(Errno::EADDRNOTAVAIL))?;
    Ok((into_tokio(fd).map_err(|e| fail(errno_of(&e)))?, addr))
}

fn into_tokio(fd: OwnedFd) -> std::io::Result<UnixListener> {
    UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
}
