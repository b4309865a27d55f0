//! The identity-checked unlink at shutdown, and [`Cleanup`]: what a
//! listener removes when it drops (nothing, its socket file, or a
//! `bind_temp` socket with its directory, in [`crate::temp`]).
//!
//! The guard remembers the inode (device and inode number) of the socket
//! file it bound, and the pid that bound it. When it drops, it removes the
//! path only if the path still names that same socket inode, and only in
//! that same process: never in a forked child, never a successor's socket,
//! and never a file someone put there since.
//!
//! The check and the unlink run under the bind lock, so that a successor's
//! takeover cannot swap its socket in between. A drop never waits for the
//! lock: if a bind holds it, the socket is left in place, and since nobody
//! listens on it any more, the next bind finds it stale and removes it.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::stat::FileStat;
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::error::parent_dir;
use crate::stat::{is_socket, lstat_at, same_inode};
use crate::temp::TempSocket;
use crate::{lock, parent};

/// What a listener removes when it drops.
#[derive(Debug)]
pub(crate) enum Cleanup {
    /// Nothing: an abstract name, or a socket the service manager passed.
    Nothing,
    /// The socket file, if it is still ours.
    Socket(UnlinkGuard),
    /// The socket and the temporary directory `bind_temp` made for it.
    TempDir(TempSocket),
}

impl Cleanup {
    /// Turns the removal off or back on.
    pub(crate) fn set_armed(&mut self, armed: bool) {
        match self {
            Cleanup::Nothing => {}
            Cleanup::Socket(guard) => guard.set_armed(armed),
            Cleanup::TempDir(temp) => temp.set_armed(armed),
        }
    }

    pub(crate) fn is_armed(&self) -> bool {
        match self {
            Cleanup::Nothing => false,
            Cleanup::Socket(guard) => guard.is_armed(),
            Cleanup::TempDir(temp) => temp.is_armed(),
        }
    }
}

/// Unlinks a bound socket file on drop, if it is still ours.
#[derive(Debug)]
pub(crate) struct UnlinkGuard {
    /// Absolute, so that a later `chdir` cannot redirect the unlink.
    dir: PathBuf,
    name: OsString,
    identity: FileStat,
    pid: u32,
    armed: bool,
}

impl UnlinkGuard {
    /// A guard for the socket `identity` now at `path`.
    pub(crate) fn new(path: &Path, identity: &FileStat) -> Self {
        let dir = parent_dir(path);
        Self {
            dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()),
            name: path.file_name().unwrap_or_default().to_owned(),
            identity: *identity,
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

    fn remove(&self) {
        let path = self.dir.join(&self.name);
        let shown = path.display();
        let dir = match parent::open_dir(&path, &self.dir) {
            Ok(dir) => dir,
            Err(e) => {
                return tracing::debug!(path = %shown, error = %e, "socket file left in place");
            }
        };
        let dir = dir.as_fd();
        let lock = match lock::acquire(dir, &self.dir, &self.name, Duration::ZERO) {
            Ok(lock) => lock,
            Err(e) => {
                return tracing::debug!(path = %shown, error = %e, "bind lock busy; socket file left for the next bind to remove");
            }
        };
        match lstat_at(dir, &self.name) {
            Ok(Some(st)) if same_inode(&st, &self.identity) && is_socket(&st) => {
                match unlinkat(dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                    Ok(()) => tracing::debug!(path = %shown, "removed socket file"),
                    Err(errno) => {
                        tracing::warn!(path = %shown, %errno, "could not remove socket file")
                    }
                }
            }
            Ok(Some(_)) => {
                tracing::debug!(path = %shown, "path now names another file; left in place")
            }
            Ok(None) => tracing::debug!(path = %shown, "socket file already gone"),
            Err(errno) => tracing::warn!(path = %shown, %errno, "could not check socket file"),
        }
        drop(lock);
    }
}

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if std::process::id() != self.pid {
            return tracing::debug!(dir = %self.dir.display(), "not unlinking socket from a forked child");
        }
        self.remove();
    }
}
