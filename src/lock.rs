//! The bind lock: an exclusive `flock` on `<path>.lock`, held from the first
//! look at the path until the new socket listens, so that probing, removing
//! and binding are one step for every starter that uses this crate.
//!
//! The lock file is created next to the socket and removed again when the
//! lock is released. A starter that was waiting on the removed file notices
//! that the path now names another file (or none) and starts over, so two
//! starters never both hold "the" lock. A lock file that cannot be removed
//! (one another user left in a sticky directory) stays, and is reused.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};

use crate::error::{BindError, Facts, errno_of};

/// How long a starter waits for another one to finish binding.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A held bind lock. Dropping it removes the lock file, then unlocks.
#[derive(Debug)]
pub(crate) struct BindLock {
    file: Flock<File>,
    path: PathBuf,
}

/// `<socket path>.lock`.
pub(crate) fn lock_path(socket: &Path) -> PathBuf {
    let mut p = OsString::from(socket.as_os_str());
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the bind lock for `socket`.
///
/// `Ok(None)` means no lock could be created because we may not write to
/// the directory (or the filesystem has no `flock`). Then nothing we do can
/// change the directory either, so there is nothing to race on: the bind
/// goes on and fails, if it must, with the precise error.
pub(crate) fn acquire(socket: &Path) -> Result<Option<BindLock>, BindError> {
    let path = lock_path(socket);
    let deadline = Instant::now() + LOCK_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let Some(file) = open_or_create(&path)? else {
            return Ok(None);
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => {
                if is_still_at(&file, &path) {
                    return Ok(Some(BindLock { file, path }));
                }
                // Removed (and maybe re-created) by the previous holder.
            }
            Err((_, Errno::EWOULDBLOCK)) => {
                if Instant::now() >= deadline {
                    return Err(BindError::lock_busy(&path, LOCK_TIMEOUT));
                }
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err((_, errno @ (Errno::ENOLCK | Errno::EINVAL | Errno::EOPNOTSUPP))) => {
                tracing::warn!(lock = %path.display(), %errno, "flock is not supported here; binding without the lock");
                return Ok(None);
            }
            Err((_, errno)) => {
                return Err(BindError::os("lock", &path, errno, &Facts::about(&path)));
            }
        }
    }
}

/// Opens the lock file, creating it when missing. Never follows a symbolic
/// link and never blocks on a FIFO.
fn open_or_create(path: &Path) -> Result<Option<File>, BindError> {
    let flags = (OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits();
    loop {
        let opened = OpenOptions::new().read(true).custom_flags(flags).open(path);
        let errno = match opened {
            Ok(file) => return check_regular(path, file).map(Some),
            Err(e) => errno_of(&e),
        };
        match errno {
            Errno::ENOENT => {}
            Errno::ELOOP => return Err(BindError::lock_not_regular(path, errno)),
            _ => {
                return Err(BindError::os(
                    "open lock file",
                    path,
                    errno,
                    &Facts::about(path),
                ));
            }
        }
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(flags)
            .open(path);
        match created {
            Ok(file) => return Ok(Some(file)),
            Err(e) => match errno_of(&e) {
                Errno::EEXIST => continue,
                Errno::EACCES | Errno::EPERM | Errno::EROFS => return Ok(None),
                errno => {
                    return Err(BindError::os(
                        "create lock file",
                        path,
                        errno,
                        &Facts::about(path),
                    ));
                }
            },
        }
    }
}

fn check_regular(path: &Path, file: File) -> Result<File, BindError> {
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(BindError::lock_not_regular(path, Errno::EEXIST)),
        Err(e) => Err(BindError::os(
            "open lock file",
            path,
            errno_of(&e),
            &Facts::about(path),
        )),
    }
}

/// Whether `path` still names the file we locked.
fn is_still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl Drop for BindLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock; waiters then see
        // that the path names another file and start over.
        if is_still_at(&self.file, &self.path) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::debug!(lock = %self.path.display(), error = %e, "lock file left in place");
            }
        }
    }
}
