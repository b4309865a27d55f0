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
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, renameat};
use nix::sys::stat::fstat;
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};

use crate::entry::EntryRef;
use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::private::{PrivateDir, SOCKET};
use crate::stat::{describe, is_socket};
use crate::sys;

/// Step 5: the socket `s` in `private` becomes `target`, only if nothing
/// is there: by `renameat2(RENAME_NOREPLACE)`; where the filesystem
/// refuses that, by the way [`reachable_by`] found to keep a socket
/// reachable there.
pub(crate) fn move_in(private: &PrivateDir<'_>, target: EntryRef<'_>) -> Result<(), BindError> {
    let (dir, path, name) = (target.dir(), target.path(), target.name());
    let taken = || BindError::raced(Op::MoveIntoPlace, path, crate::explain::Race::FilePutThere);
    let (ours, theirs) = (Path::new(SOCKET), Path::new(name));
    match sys::rename_noreplace(private.fd(), ours, dir, theirs) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(taken()),
        Err(Errno::ENOSYS | Errno::EINVAL) => match reachable_by(private) {
            // A hard link never replaces anything either; the private
            // name goes with the directory.
            Reachable::ByLink => match linkat(private.fd(), SOCKET, dir, name, AtFlags::empty()) {
                Ok(()) => Ok(()),
                Err(Errno::EEXIST) => Err(taken()),
                Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
            },
            // Only a plain rename keeps the socket (FUSE filesystems such
            // as bindfs): the path is checked just before, under the lock.
            Reachable::ByRename => {
                if target
                    .lstat()
                    .map_err(|e| BindError::os(Op::MoveIntoPlace, path, e))?
                    .is_some()
                {
                    return Err(taken());
                }
                renameat(private.fd(), ours, dir, theirs)
                    .map_err(|e| BindError::os(Op::MoveIntoPlace, path, e))
            }
            Reachable::Never => Err(BindError::no_route(path, dir)),
        },
        Err(errno) => Err(BindError::os(Op::MoveIntoPlace, path, errno)),
    }
}

/// How a socket moved to another name stays reachable on a filesystem
/// that refuses `renameat2`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reachable {
    /// A hard link to it is the same socket (local filesystems).
    ByLink,
    /// A link makes a new, unbound inode, but a rename keeps it (FUSE).
    ByRename,
    /// Neither keeps it reachable.
    Never,
}

/// How a socket stays [`Reachable`] on the filesystem `private` is on, found once per
/// filesystem and process: a throwaway socket in our private directory,
/// where nobody else can reach it, is moved each way and connected to.
/// This costs a socket, a move and a connection, only where the flags
/// were refused, once.
fn reachable_by(private: &PrivateDir<'_>) -> Reachable {
    static FOUND: Mutex<Vec<(nix::libc::dev_t, Reachable)>> = Mutex::new(Vec::new());
    let Ok(st) = fstat(private.fd()) else {
        return Reachable::Never;
    };
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&(_, route)) = found.iter().find(|(dev, _)| *dev == st.st_dev) {
        return route;
    }
    let route = [Reachable::ByLink, Reachable::ByRename]
        .into_iter()
        .find(|&route| keeps_reachable(private, route))
        .unwrap_or(Reachable::Never);
    tracing::debug!(dir = %shown(private.socket().path()), ?route, "how a socket is moved on this filesystem");
    found.push((st.st_dev, route));
    route
}

/// Whether a listening socket bound at `p` in `private` still accepts a
/// connection at `q` once moved there by `route`.
fn keeps_reachable(private: &PrivateDir<'_>, route: Reachable) -> bool {
    let (from, to) = ("p", "q");
    let paths: [PathBuf; 2] = [from, to].map(|name| private.path().join(name));
    let at = |name: &'static str, path| {
        EntryRef::new(private.fd(), OsStr::new(name), path)
            .reach(false)
            .address()
            .ok()
    };
    let try_it = || -> Option<bool> {
        let listener = sys::stream_socket().ok()?;
        sys::bind(listener.as_fd(), &at(from, &paths[0])?).ok()?;
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(1).ok()?).ok()?;
        let moved = match route {
            Reachable::ByLink => linkat(private.fd(), from, private.fd(), to, AtFlags::empty()),
            _ => renameat(private.fd(), from, private.fd(), to),
        };
        moved.ok()?;
        let client = sys::stream_socket().ok()?;
        Some(sys::connect(client.as_fd(), &at(to, &paths[1])?).is_ok())
    };
    let reached = try_it().unwrap_or(false);
    for name in [from, to] {
        let _ = unlinkat(private.fd(), name, UnlinkatFlags::NoRemoveDir);
    }
    reached
}

/// Step 5 for a takeover: the socket `s` in `private` replaces the socket at
/// `target`, and never anything else.
pub(crate) fn swap_in(private: &PrivateDir<'_>, target: EntryRef<'_>) -> Result<(), BindError> {
    let (dir, path, name) = (target.dir(), target.path(), target.name());
    let (ours, theirs) = (Path::new(SOCKET), Path::new(name));
    // Bounded: a process that keeps changing the path cannot keep us here.
    for _ in 0..16 {
        let Some(found) = target
            .lstat()
            .map_err(|e| BindError::os(Op::TakeOver, path, e))?
        else {
            match move_in(private, target) {
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
                return match reachable_by(private) {
                    Reachable::Never => Err(BindError::no_route(path, dir)),
                    Reachable::ByLink | Reachable::ByRename => {
                        renameat(private.fd(), ours, dir, theirs)
                            .map_err(|e| BindError::os(Op::TakeOver, path, e))
                    }
                };
            }
            Err(errno) => return Err(BindError::os(Op::TakeOver, path, errno)),
        }
        // What we swapped out is now `s` in the private directory, which
        // removes it on drop if it is a socket. Anything else goes back.
        return match private.socket().lstat() {
            Ok(Some(old)) if is_socket(&old) => Ok(()),
            Ok(Some(other)) => Err(put_back(private, target, describe(&other))),
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
fn put_back(private: &PrivateDir<'_>, target: EntryRef<'_>, what: &'static str) -> BindError {
    let (dir, path, name) = (target.dir(), target.path(), target.name());
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
        return match private.socket().lstat() {
            // Back at the path; the private directory holds nothing, or a
            // socket (ours, or one put in its place), which it removes on
            // drop as a takeover would.
            Ok(None) => BindError::appeared_during_takeover(path, what),
            Ok(Some(st)) if is_socket(&st) => BindError::appeared_during_takeover(path, what),
            // A second file was put at the path meanwhile: both cannot be
            // there, and this one is kept, named in the error.
            Ok(Some(other)) => BindError::stranded(path, private.socket().path(), describe(&other)),
            Err(_) => break,
        };
    }
    BindError::stranded(path, private.socket().path(), what)
}
