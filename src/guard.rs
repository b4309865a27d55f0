//! The identity-checked unlink at shutdown.
//!
//! The guard remembers the inode (device and inode number) of the socket
//! file it bound, and the pid that bound it. When it drops, it removes the
//! path only if the path still names that same socket inode, and only in
//! that same process: never in a forked child, never a successor's socket,
//! and never a file someone put there since. The check and the unlink run
//! under the bind lock, like a bind.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Unlinks a bound socket file on drop, if it is still ours.
#[derive(Debug)]
pub(crate) struct UnlinkGuard {
    /// Absolute, so that a later `chdir` cannot redirect the unlink.
    path: PathBuf,
    dev: u64,
    ino: u64,
    pid: u32,
    armed: bool,
}

impl UnlinkGuard {
    /// Records the identity of the socket just bound at `path`.
    pub(crate) fn new(path: &Path) -> io::Result<Self> {
        let m = fs::symlink_metadata(path)?;
        Ok(Self {
            path: std::path::absolute(path)?,
            dev: m.dev(),
            ino: m.ino(),
            pid: std::process::id(),
            armed: true,
        })
    }

    /// The socket was renamed to `path` (a takeover): same inode, new name.
    pub(crate) fn moved_to(&mut self, path: &Path) {
        if let Ok(path) = std::path::absolute(path) {
            self.path = path;
        }
    }

    pub(crate) fn set_armed(&mut self, armed: bool) {
        self.armed = armed;
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.armed
    }

    /// Removes the socket file now, if it is still ours, for a caller that
    /// already holds the bind lock. Runs at most once.
    pub(crate) fn remove_now(&mut self) {
        if !std::mem::take(&mut self.armed) {
            return;
        }
        let path = self.path.display();
        if std::process::id() != self.pid {
            tracing::debug!(%path, "not unlinking socket from a forked child");
            return;
        }
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino && m.file_type().is_socket() => {
                match fs::remove_file(&self.path) {
                    Ok(()) => tracing::debug!(%path, "removed socket file"),
                    Err(e) => tracing::warn!(%path, error = %e, "could not remove socket file"),
                }
            }
            Ok(_) => tracing::info!(%path, "socket path now names another file; left in place"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::debug!(%path, "socket file already gone")
            }
            Err(e) => tracing::warn!(%path, error = %e, "could not check socket file"),
        }
    }
}

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        // Under the bind lock, so that a successor's takeover cannot rename
        // its socket over the path between the check and the unlink.
        let _lock = (self.armed && std::process::id() == self.pid)
            .then(|| crate::lock::acquire(&self.path).ok().flatten());
        self.remove_now();
    }
}
