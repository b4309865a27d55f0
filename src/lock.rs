//! The bind lock: an exclusive `flock` on `<name>.lock` beside the socket,
//! held from the first look at the path until the new socket is in place,
//! so that probing, removing and binding are one step for every process
//! that uses this crate.
//!
//! The lock file is removed again when the lock is released, while it is
//! still held; a starter that was waiting on it then sees that the name is
//! gone or names another file, and starts over, so two starters never both
//! hold "the" lock. Only a lock file this crate made is removed: one we
//! just created, or one left by a crash, which is ours (same uid) and holds
//! exactly [`MARKER`]. Any other file at the lock path is used but never
//! removed, and anything that is not a regular file is never followed,
//! opened or removed.

use std::ffi::{OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, geteuid, unlinkat};

use crate::error::{BindError, Op};
use crate::inspect::LockState;
use crate::stat::{describe, file_type, same_file};
use crate::sys;

/// What a lock file made by this crate holds.
const MARKER: &[u8] = b"safe-unix-listener bind lock\n";

/// How long a bind waits for another starter to finish.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A held bind lock. Dropping it removes the lock file if this process
/// created it, then unlocks.
#[derive(Debug)]
pub(crate) struct BindLock<'d> {
    file: Flock<OwnedFd>,
    dir: BorrowedFd<'d>,
    name: OsString,
    path: PathBuf,
    /// Whether this crate made the file, so that it may be removed.
    ours: bool,
}

/// `<socket name>.lock`.
pub(crate) fn lock_name(socket_name: &OsStr) -> OsString {
    let mut name = socket_name.to_owned();
    name.push(".lock");
    name
}

/// The state of the bind lock for `socket_name` in `dir`, found without
/// changing anything: a shared `flock` is tried and released at once. With
/// the error a bind would give when the lock cannot be used.
pub(crate) fn look(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    socket_name: &OsStr,
) -> (LockState, Option<BindError>) {
    let name = lock_name(socket_name);
    let st = match fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(_) => return (LockState::None, None),
    };
    if file_type(&st) != SFlag::S_IFREG {
        let path = dir_path.join(&name);
        return (
            LockState::Unusable,
            Some(BindError::lock_unusable(&path, describe(&st))),
        );
    }
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let held = openat(
        dir,
        name.as_os_str(),
        flags | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .is_ok_and(|fd| {
        matches!(
            Flock::lock(fd, FlockArg::LockSharedNonblock),
            Err((_, Errno::EWOULDBLOCK))
        )
    });
    match held {
        true => (LockState::Held, None),
        false => (LockState::Free, None),
    }
}

/// Takes the bind lock for the socket `socket_name` in the directory `dir`
/// (named `dir_path` in messages), waiting up to `patience` for another
/// holder.
///
/// `Ok(None)` means no lock could be created because we may not write to
/// the directory (or the filesystem has no `flock`). Then nothing we do can
/// change the directory either, so there is nothing to race on: the bind
/// goes on and fails, if it must, with the precise error.
pub(crate) fn acquire<'d>(
    dir: BorrowedFd<'d>,
    dir_path: &Path,
    socket_name: &OsStr,
    patience: Duration,
) -> Result<Option<BindLock<'d>>, BindError> {
    let name = lock_name(socket_name);
    let path = dir_path.join(&name);
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        let Some((fd, ours)) = open_or_create(dir, &name, &path)? else {
            return Ok(None);
        };
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(file) => {
                let lock = BindLock {
                    file,
                    dir,
                    name: name.clone(),
                    path: path.clone(),
                    ours,
                };
                if lock.is_still_at_path() {
                    return Ok(Some(lock));
                }
                // Removed (and maybe re-created) by the previous holder.
            }
            Err((fd, Errno::EWOULDBLOCK)) => {
                if Instant::now() >= deadline {
                    return Err(BindError::lock_busy(&path, patience, None));
                }
                // An ancestor (`flock FILE cmd`) will not let go while we
                // run: say so now rather than after the wait.
                if let Some(holder) = fstat(&fd)
                    .ok()
                    .and_then(|st| sys::ancestor_holding_flock(&st))
                {
                    return Err(BindError::lock_busy(&path, patience, Some(&holder)));
                }
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err((fd, errno @ (Errno::ENOLCK | Errno::EINVAL | Errno::EOPNOTSUPP))) => {
                tracing::warn!(lock = %path.display(), %errno, "flock is not supported here; binding without the lock");
                remove_if_ours(dir, &name, &fd, ours);
                return Ok(None);
            }
            Err((fd, errno)) => {
                remove_if_ours(dir, &name, &fd, ours);
                return Err(BindError::os(Op::Lock, &path, errno));
            }
        }
    }
}

/// Opens the lock file, creating it when missing; returns whether this
/// crate made it. Only a regular file is ever opened: anything else at the
/// path is reported, never followed or opened.
fn open_or_create(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
) -> Result<Option<(OwnedFd, bool)>, BindError> {
    let flags = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    loop {
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if file_type(&st) == SFlag::S_IFREG => {
                match openat(dir, name, flags | OFlag::O_RDONLY, Mode::empty()) {
                    Ok(fd) if same_file(&fd, &st) => {
                        let ours = st.st_uid == geteuid().as_raw() && holds_marker(&fd);
                        return Ok(Some((fd, ours)));
                    }
                    // Replaced between the look and the open: look again.
                    Ok(_) | Err(Errno::ENOENT | Errno::ELOOP) => {}
                    Err(errno) => return Err(BindError::os(Op::OpenLock, path, errno)),
                }
            }
            Ok(st) => return Err(BindError::lock_unusable(path, describe(&st))),
            Err(Errno::ENOENT) => {
                let create = flags | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
                match openat(dir, name, create, Mode::from_bits_truncate(0o644)) {
                    Ok(fd) => {
                        // A short write only means a crash leftover is kept.
                        let _ = nix::unistd::write(&fd, MARKER);
                        return Ok(Some((fd, true)));
                    }
                    Err(Errno::EEXIST) => {}
                    Err(Errno::EACCES | Errno::EPERM | Errno::EROFS) => return Ok(None),
                    Err(errno) => return Err(BindError::os(Op::OpenLock, path, errno)),
                }
            }
            // The directory may not be searched: no lock, and the bind will
            // say precisely why it fails.
            Err(Errno::EACCES) => return Ok(None),
            Err(errno) => return Err(BindError::os(Op::OpenLock, path, errno)),
        }
    }
}

/// Whether the lock file holds exactly [`MARKER`].
fn holds_marker(fd: &OwnedFd) -> bool {
    let mut buf = [0; MARKER.len() + 1];
    nix::sys::uio::pread(fd, &mut buf, 0).is_ok_and(|n| &buf[..n] == MARKER)
}

/// Removes a lock file of ours that we could not lock, if the name still
/// leads to it.
fn remove_if_ours(dir: BorrowedFd<'_>, name: &OsStr, fd: &OwnedFd, ours: bool) {
    if ours
        && matches!(fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW), Ok(st) if same_file(fd, &st))
    {
        let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
    }
}

impl BindLock<'_> {
    /// Whether the lock path still names the file we locked.
    fn is_still_at_path(&self) -> bool {
        match fstatat(
            self.dir,
            self.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => same_file(&*self.file, &st),
            Err(_) => false,
        }
    }
}

impl Drop for BindLock<'_> {
    fn drop(&mut self) {
        // Remove our own file while still holding the lock; waiters then
        // see that the path names another file and start over.
        if self.ours && self.is_still_at_path() {
            if let Err(errno) =
                unlinkat(self.dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir)
            {
                tracing::warn!(lock = %self.path.display(), %errno, "could not remove our lock file");
            }
        }
    }
}
