//! "This is ours to remove": [`Ours`] records the inode (device and inode
//! number) of a socket file we bound, the pid that bound it, and whether
//! removal is armed. Every socket that removes itself uses it: the
//! listener's [`UnlinkGuard`], and `bind_temp`'s socket ([`crate::temp`]).
//!
//! A file is removed only if its name still leads to that same socket
//! inode, and only in that same process: never in a forked child, never a
//! successor's socket, and never a file someone put there since.
//!
//! The guard keeps the descriptor of the directory it bound in, and the
//! check and the unlink go through it, under the directory's `flock` (see
//! [`crate::lock`]), so that a successor's takeover cannot swap its socket
//! in between. A drop never waits for the lock: if a bind holds it, the
//! socket is left in place, and since nobody listens on it any more, the
//! next bind finds it stale and removes it.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::stat::FileStat;
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::escape::shown;
use crate::lock;
use crate::stat::{is_socket, lstat_at, same_inode};

/// The sockets (device, inode) that this process's live listeners hold.
static LIVE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

#[allow(clippy::unnecessary_cast)] // `dev_t` and `ino_t` are narrower on some targets
fn key(st: &FileStat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// Whether the socket `st` is held by a listener of this process that is
/// still alive. A probe that this process itself answers for another socket
/// is a copy of a closed listener in a child between `fork` and `exec`.
pub(crate) fn held_here(st: &FileStat) -> bool {
    LIVE.lock().is_ok_and(|live| live.contains(&key(st)))
}

/// A socket file of ours: what it was, who made it, whether to remove it.
#[derive(Debug)]
pub(crate) struct Ours {
    identity: FileStat,
    pid: u32,
    armed: bool,
}

impl Ours {
    /// The socket `identity`, bound by this process just now.
    pub(crate) fn new(identity: FileStat) -> Self {
        Self {
            identity,
            pid: std::process::id(),
            armed: true,
        }
    }

    pub(crate) fn set_armed(&mut self, armed: bool) {
        self.armed = armed;
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.armed
    }

    /// Whether this process may remove it now: armed, and not a forked
    /// child.
    pub(crate) fn may_remove(&self) -> bool {
        self.armed && std::process::id() == self.pid
    }

    /// Removes `name` in `dir` if it is still this socket. Returns what
    /// happened, for the log.
    pub(crate) fn remove_from(&self, dir: BorrowedFd<'_>, name: &OsStr) -> &'static str {
        match lstat_at(dir, name) {
            Ok(Some(st)) if same_inode(&st, &self.identity) && is_socket(&st) => {
                match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
                    Ok(()) => "removed socket file",
                    Err(_) => "could not remove socket file",
                }
            }
            Ok(Some(_)) => "path now names another file; left in place",
            Ok(None) => "socket file already gone",
            Err(_) => "could not check socket file",
        }
    }
}

/// Unlinks a bound socket file on drop, if it is still ours.
#[derive(Debug)]
pub(crate) struct UnlinkGuard {
    /// The directory the socket was bound in, as opened then.
    dir: OwnedFd,
    /// Its path, for the lock file's messages and the log.
    dir_path: PathBuf,
    name: OsString,
    ours: Ours,
}

impl UnlinkGuard {
    /// A guard for the socket `identity`, now at `name` in `dir`.
    pub(crate) fn new(dir: OwnedFd, dir_path: PathBuf, name: &OsStr, identity: FileStat) -> Self {
        if let Ok(mut live) = LIVE.lock() {
            live.push(key(&identity));
        }
        Self {
            dir,
            dir_path,
            name: name.to_owned(),
            ours: Ours::new(identity),
        }
    }

    pub(crate) fn ours(&mut self) -> &mut Ours {
        &mut self.ours
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.ours.is_armed()
    }
}

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            if let Some(at) = live.iter().position(|k| *k == key(&self.ours.identity)) {
                live.swap_remove(at);
            }
        }
        let path = self.dir_path.join(&self.name);
        if !self.ours.may_remove() {
            return tracing::debug!(path = %shown(&path), "socket file left in place (disarmed, or a forked child)");
        }
        let dir = self.dir.as_fd();
        match lock::hold_dir(dir, &self.dir_path, Duration::ZERO) {
            Ok(lock) => {
                let done = self.ours.remove_from(dir, &self.name);
                drop(lock);
                tracing::debug!(path = %shown(&path), "{done}");
            }
            Err(e) => {
                tracing::debug!(path = %shown(&path), error = %e, "bind lock busy; socket file left for the next bind to remove")
            }
        }
    }
}
