//! Step 5 of the bind, for a socket bound in our private directory:
//! putting it at the path without replacing anything ([`move_in`]), or,
//! for a takeover, in place of the socket there ([`swap_in`]), and putting
//! back whatever else appeared there meanwhile.
//!
//! Where the filesystem refuses `renameat2`'s flags, the way that keeps a
//! socket reachable there is found once, with a throwaway socket: on local
//! filesystems a hard link is the same socket, but on FUSE filesystems such
//! as bindfs a link is a new inode no socket is bound to, and only a rename
//! keeps it. A bind never reports success with a socket nobody can reach.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, renameat};
use nix::sys::stat::fstat;
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};

use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::private::{PrivateDir, SOCKET};
use crate::stat::{describe, is_socket, lstat_at};
use crate::sys::{self, Where};

/// Step 5: the socket `s` in `private` becomes `name` in `dir`, only if
/// nothing is there: by `renameat2(RENAME_NOREPLACE)`; where the
/// filesystem refuses that, by the route [`route`] found to keep a socket
/// reachable there.
pub(crate) fn move_in(
    private: &PrivateDir<'_>,
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
) -> Result<(), BindError> {
    let taken = || BindError::raced(Op::MoveIntoPlace, path, crate::explain::Race::FilePutThere);
    let (ours, theirs) = (Path::new(SOCKET), Path::new(name));
    match sys::rename_noreplace(private.fd(), ours, dir, theirs) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(taken()),
        Err(Errno::ENOSYS | Errno::EINVAL) => match route(private) {
            // A hard link never replaces anything either; the private
            // name goes with the directory.
            Route::Link => match linkat(private.fd(), SOCKET, dir, name, AtFlags::empty()) {
                Ok(()) => Ok(()),
                Err(Errno::EEXIST) => Err(taken()),
                Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
            },
            // Only a plain rename keeps the socket (FUSE filesystems such
            // as bindfs): the path is checked just before, under the lock.
            Route::Rename => {
                if lstat_at(dir, name)
                    .map_err(|e| BindError::os(Op::MoveIntoPlace, path, e))?
                    .is_some()
                {
                    return Err(taken());
                }
                renameat(private.fd(), ours, dir, theirs)
                    .map_err(|e| BindError::os(Op::MoveIntoPlace, path, e))
            }
            Route::None => Err(BindError::no_route(path, dir)),
        },
        Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
    }
}

/// How a socket moved to another name stays reachable on a filesystem
/// that refuses `renameat2`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A hard link to it is the same socket (local filesystems).
    Link,
    /// A link makes a new, unbound inode, but a rename keeps it (FUSE).
    Rename,
    /// Neither keeps it reachable.
    None,
}

/// The [`Route`] for the filesystem `private` is on, found once per
/// filesystem and process: a throwaway socket in our private directory,
/// where nobody else can reach it, is moved each way and connected to.
/// This costs a socket, a move and a connection, only where the flags
/// were refused, once.
fn route(private: &PrivateDir<'_>) -> Route {
    static FOUND: Mutex<Vec<(nix::libc::dev_t, Route)>> = Mutex::new(Vec::new());
    let Ok(st) = fstat(private.fd()) else {
        return Route::None;
    };
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&(_, route)) = found.iter().find(|(dev, _)| *dev == st.st_dev) {
        return route;
    }
    let route = [Route::Link, Route::Rename]
        .into_iter()
        .find(|&route| keeps_reachable(private, route))
        .unwrap_or(Route::None);
    tracing::debug!(dir = %shown(&private.socket_path()), ?route, "how a socket is moved on this filesystem");
    found.push((st.st_dev, route));
    route
}

/// Whether a listening socket bound at `p` in `private` still accepts a
/// connection at `q` once moved there by `route`.
fn keeps_reachable(private: &PrivateDir<'_>, route: Route) -> bool {
    let (from, to) = ("p", "q");
    let at = |name: &'static str| match sys::through_dir(private.fd(), OsStr::new(name)) {
        Some(through) => Some(through),
        None => nix::sys::socket::UnixAddr::new(&private.socket_path().with_file_name(name))
            .ok()
            .map(Where::Addr),
    };
    let try_it = || -> Option<bool> {
        let listener = sys::stream_socket().ok()?;
        sys::bind(listener.as_fd(), &at(from)?).ok()?;
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(1).ok()?).ok()?;
        let moved = match route {
            Route::Link => linkat(private.fd(), from, private.fd(), to, AtFlags::empty()),
            _ => renameat(private.fd(), from, private.fd(), to),
        };
        moved.ok()?;
        let client = sys::stream_socket().ok()?;
        Some(sys::connect(client.as_fd(), &at(to)?).is_ok())
    };
    let reached = try_it().unwrap_or(false);
    for name in [from, to] {
        let _ = unlinkat(private.fd(), name, UnlinkatFlags::NoRemoveDir);
    }
    reached
}

/// Step 5 for a takeover: the socket `s` in `private` replaces the socket at
/// `name` in `dir`, and never anything else.
pub(crate) fn swap_in(
    private: &PrivateDir<'_>,
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
        match sys::rename_exchange(private.fd(), ours, dir, theirs) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue, // gone meanwhile: look again
            // No atomic exchange here: the check above, then a rename,
            // where a rename keeps a socket reachable.
            Err(Errno::ENOSYS | Errno::EINVAL) => {
                return match route(private) {
                    Route::None => Err(BindError::no_route(path, dir)),
                    Route::Link | Route::Rename => renameat(private.fd(), ours, dir, theirs)
                        .map_err(|e| BindError::os(Op::TakeOver, path, e)),
                };
            }
            Err(errno) => return Err(BindError::os(Op::TakeOver, path, errno)),
        }
        // What we swapped out is now `s` in the private directory, which
        // removes it on drop if it is a socket. Anything else goes back.
        return match lstat_at(private.fd(), OsStr::new(SOCKET)) {
            Ok(Some(old)) if is_socket(&old) => Ok(()),
            Ok(Some(other)) => Err(put_back(private, dir, path, name, describe(&other))),
            _ => Err(BindError::raced(
                Op::TakeOver,
                path,
                crate::explain::Race::ReplacedVanished,
            )),
        };
    }
    Err(BindError::raced(
        Op::TakeOver,
        path,
        crate::explain::Race::KeptChanging,
    ))
}

/// Puts back a file that appeared at the path during a takeover and was
/// swapped into our private directory: by another exchange while the path
/// holds something, by a rename that replaces nothing when it is empty
/// (someone removed our socket meanwhile). Returns the error that says
/// what happened.
fn put_back(
    private: &PrivateDir<'_>,
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
    what: &'static str,
) -> BindError {
    let (ours, theirs) = (Path::new(SOCKET), Path::new(name));
    for _ in 0..16 {
        let moved = match sys::rename_exchange(private.fd(), ours, dir, theirs) {
            Err(Errno::ENOENT) => sys::rename_noreplace(private.fd(), ours, dir, theirs),
            done => done,
        };
        match moved {
            Ok(()) => {}
            // The path changed between the two calls: look again.
            Err(Errno::EEXIST | Errno::ENOENT) => continue,
            Err(_) => break,
        }
        return match lstat_at(private.fd(), OsStr::new(SOCKET)) {
            // Back at the path; the private directory holds nothing, or a
            // socket (ours, or one put in its place), which it removes on
            // drop as a takeover would.
            Ok(None) => BindError::appeared_during_takeover(path, what),
            Ok(Some(st)) if is_socket(&st) => BindError::appeared_during_takeover(path, what),
            // A second file was put at the path meanwhile: both cannot be
            // there, and this one is kept, named in the error.
            Ok(Some(other)) => BindError::stranded(path, &private.socket_path(), describe(&other)),
            Err(_) => break,
        };
    }
    BindError::stranded(path, &private.socket_path(), what)
}
