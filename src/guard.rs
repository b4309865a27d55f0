//! "This is ours to remove": [`Ours`] records what a socket file we bound
//! is ([`Made`]), the pid that bound it, and whether its removal is
//! **armed**: the one internal name of the switch that the public API
//! calls unlink-on-drop (`Builder::unlink_on_drop`,
//! `set_unlink_on_drop`, `UnlinkOnDrop::set_armed`). Every socket that
//! removes itself uses it: the listener's [`UnlinkGuard`], and
//! `bind_temp`'s socket ([`crate::temp`]). A bind that made its socket
//! file and then fails, by an error or a panic, removes it with
//! [`Unfinished`].
//!
//! A file is removed only if its name still leads to that same socket
//! ([`EntryRef::remove_if_still`]), and only in that same process: never in
//! a forked child, never a successor's socket, and never a file someone put
//! there since.
//!
//! The guard keeps the directory it bound in as an [`Entry`], and the
//! check and the unlink go through its descriptor, under its `flock` (see
//! [`crate::lock`]), so that a successor's takeover cannot swap its socket
//! in between. A drop never waits for the lock: if a bind holds it, the
//! socket is left in place, and since nobody listens on it any more, the
//! next bind finds it stale and removes it.

use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::stat::FileStat;

use crate::entry::{Entry, EntryRef, Made, Removal, key};
use crate::escape::shown;
use crate::lock;

/// The sockets (device, inode) that this process's live listeners hold.
static LIVE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// Whether the socket `st` is held by a listener of this process that is
/// still alive. A probe that this process itself answers for another socket
/// is a copy of a closed listener in a child between `fork` and `exec`.
pub(crate) fn held_here(st: &FileStat) -> bool {
    LIVE.lock().is_ok_and(|live| live.contains(&key(st)))
}

/// A socket file of ours: what it is, who made it, whether to remove it.
#[derive(Debug)]
pub(crate) struct Ours {
    made: Made,
    pid: u32,
    armed: bool,
}

impl Ours {
    /// The socket `made`, bound by this process just now; armed.
    pub(crate) fn new(made: Made) -> Self {
        Self {
            made,
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

    /// Removes `at` if it is still this socket and this process may:
    /// what happened.
    pub(crate) fn remove_from(&self, at: EntryRef<'_>) -> Unlinked {
        if !self.armed {
            return Unlinked::NotArmed;
        }
        if std::process::id() != self.pid {
            return Unlinked::ForkedChild;
        }
        let done = Unlinked::from(at.remove_if_still(Some(&self.made)));
        if let Unlinked::Failed(code) = done {
            // A service that dropped privileges after binding, say.
            tracing::warn!(
                path = %shown(at.path()),
                error = %std::io::Error::from_raw_os_error(code),
                euid = nix::unistd::geteuid().as_raw(),
                "cannot remove our socket file, so the next start finds it in the way; bind under a directory this user owns (systemd RuntimeDirectory=), or give the socket's directory to this user"
            );
        }
        done
    }
}

/// What removing a socket file of ours did: from
/// [`UnlinkOnDrop::unlink_now`](crate::UnlinkOnDrop::unlink_now) and the
/// listener's and receiver's `unlink_now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unlinked {
    /// The path still named the socket we bound, and it is removed.
    Removed,
    /// Nothing was at the path any more.
    AlreadyGone,
    /// The path names another file now (a successor's socket, say), which
    /// is left in place.
    NotOurs,
    /// Removal is not armed: an abstract name or an adopted socket, which
    /// have no file of ours, removal turned off, or done already.
    NotArmed,
    /// This is a forked child of the process that bound it: the file is
    /// the parent's to remove.
    ForkedChild,
    /// A bind of the same path holds its lock right now; the file is left
    /// to it, and it finds the socket stale and removes it.
    LockBusy,
    /// Looking at the path or removing the file failed with this OS error
    /// (EACCES after the process dropped privileges, say); the file is
    /// left in place, and a warning logged.
    Failed(i32),
}

impl From<Removal> for Unlinked {
    fn from(removal: Removal) -> Self {
        match removal {
            Removal::Removed => Self::Removed,
            Removal::Gone => Self::AlreadyGone,
            Removal::Replaced => Self::NotOurs,
            Removal::Failed(errno) | Removal::Unchecked(errno) => Self::Failed(errno as i32),
        }
    }
}

/// The socket file a bind made at `at`, until the bind is finished: removed
/// when this drops still armed, on an error return and on a panic (Tokio's
/// registration panics outside a runtime with IO) alike, so that what we
/// bound and could not finish is never left behind. Costs nothing on
/// success but the check of an `Option`.
#[derive(Debug)]
pub(crate) struct Unfinished<'a> {
    at: EntryRef<'a>,
    made: Option<Made>,
}

impl<'a> Unfinished<'a> {
    /// Nothing made at `at` yet.
    pub(crate) fn new(at: EntryRef<'a>) -> Self {
        Self { at, made: None }
    }

    /// The bind made `made` at the name: removed unless [`finished`](Self::finished).
    pub(crate) fn made(&mut self, made: Made) {
        self.made = Some(made);
    }

    /// The bind succeeded: the file stays.
    pub(crate) fn finished(mut self) {
        self.made = None;
    }
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(made) = self.made.take() {
            let done = self.at.remove_if_still(Some(&made)).describe();
            tracing::debug!(path = %shown(self.at.path()), "the bind failed: {done}");
        }
    }
}

/// Unlinks a bound socket file on drop, if it is still ours and removal is
/// armed.
#[derive(Debug)]
pub(crate) struct UnlinkGuard {
    /// The socket's name in the directory it was bound in, as opened then.
    at: Entry<OwnedFd>,
    ours: Ours,
}

impl UnlinkGuard {
    /// A guard for the socket `made`, now at `at`.
    pub(crate) fn new(at: Entry<OwnedFd>, made: Made) -> Self {
        if let Ok(mut live) = LIVE.lock() {
            live.push(made.key());
        }
        Self {
            at,
            ours: Ours::new(made),
        }
    }

    pub(crate) fn ours(&mut self) -> &mut Ours {
        &mut self.ours
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.ours.is_armed()
    }
}

impl UnlinkGuard {
    /// Removes the file now, if it is still ours and removal is armed, and
    /// disarms: the drop does nothing more. What happened.
    pub(crate) fn unlink_now(&mut self) -> Unlinked {
        let done = self.unlink();
        self.ours.set_armed(false);
        done
    }

    /// The removal itself, under the directory's lock, never waiting for
    /// it.
    fn unlink(&self) -> Unlinked {
        let at = self.at.at();
        if !self.ours.may_remove() {
            return self.ours.remove_from(at); // says why not, removes nothing
        }
        match lock::hold_dir(at.dir(), at.dir_path(), Duration::ZERO) {
            Ok(lock) => {
                let done = self.ours.remove_from(at);
                drop(lock);
                done
            }
            Err(e) => {
                tracing::debug!(path = %shown(at.path()), error = %e, "bind lock busy; socket file left for the next bind to remove");
                Unlinked::LockBusy
            }
        }
    }
}

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            if let Some(at) = live.iter().position(|k| *k == self.ours.made.key()) {
                live.swap_remove(at);
            }
        }
        let done = self.unlink();
        tracing::debug!(path = %shown(self.at.at().path()), "at drop: {done:?}");
    }
}
