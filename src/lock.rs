//! The bind lock: held from the first look at the path until the new socket
//! is in place, and by a listener's drop while it removes its socket, so
//! that probing, removing and binding are one step for every process that
//! uses this crate.
//!
//! In a directory that neither its group nor others may write, nobody but
//! its owner (and root) can create a file there, and the lock is an
//! exclusive `flock` on the directory itself: nothing is created. In a
//! directory others may write, where a lock on the directory would let any
//! user hold up every bind in it, the lock is an exclusive `flock` on
//! `<name>.lock` beside the socket, as follows.
//!
//! A drop only ever races a takeover (any other bind finds the dropping
//! listener live, and leaves it alone), so a drop takes the directory's
//! `flock` alone, without waiting, and a takeover takes it too, after the
//! lock file ([`acquire`] with `with_drops`).
//!
//! The lock file is removed again when the lock is released, while it is
//! still held; a starter that was waiting on it then sees that the name is
//! gone or names another file, and starts over, so two starters never both
//! hold "the" lock. Only a lock file this crate made is removed: one we
//! just created, or one left by a crash, which is ours (same uid) and holds
//! exactly [`MARKER`]. Any other file at the lock path is used but never
//! removed, and anything that is not a regular file is never followed,
//! opened or removed.
//!
//! The lock file's identity is as strong as a socket's (see "Identity" in
//! [`crate::entry`]): it is removed only while we hold it open, and only if
//! its name still leads to the file we hold ([`EntryRef::leads_to`]). An
//! open file's inode is never freed, so no other file can have taken its
//! number in between.

use std::ffi::{OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat};
use nix::unistd::geteuid;

use crate::entry::{Entry, EntryRef};
use crate::error::{BindError, Op};
use crate::escape::shown;
use crate::stat::{file_type, same_file};
use crate::sys;

/// The bind lock at `<path>.lock`, as [`inspect`](crate::diagnosis::inspect) found
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockState {
    /// There is no lock file: nobody made one at `<path>.lock` (a bind
    /// makes it when it needs one), or the address is an abstract name,
    /// which has no file to lock.
    NoLockFile,
    /// A lock file, not held.
    Free,
    /// A lock file held by another process when it was tried: a bind in
    /// progress, or something holding it on purpose.
    Held,
    /// Something other than a regular file is at the lock's path; a bind
    /// fails with [`LockFile`](crate::BindErrorKind::LockFile).
    Unusable,
}

/// What a lock file made by this crate holds.
const MARKER: &[u8] = b"safe-unix-listener bind lock\n";

/// How long a bind waits for another starter to finish.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A held bind lock: on the directory, or on a lock file in it.
#[derive(Debug)]
pub(crate) enum BindLock<'d> {
    /// The directory's own `flock`; dropping it unlocks.
    Dir { _held: Flock<OwnedFd> },
    /// `<name>.lock`, and for a takeover the directory's `flock` too.
    /// Dropping it removes the file if this process created it, then
    /// unlocks.
    File {
        _held: LockFile<'d>,
        _dir: Option<Flock<OwnedFd>>,
    },
}

/// A held lock file.
#[derive(Debug)]
pub(crate) struct LockFile<'d> {
    file: Flock<OwnedFd>,
    /// `<name>.lock` beside the socket.
    at: Entry<BorrowedFd<'d>>,
    /// Whether this crate made the file, so that it may be removed.
    ours: bool,
}

/// Whether the bind lock in `dir` is a lock file: the directory's group or
/// others may write it. This depends on the directory alone, so that every
/// process binding there, whoever it runs as, takes the same lock.
fn needs_file(dir: BorrowedFd<'_>) -> bool {
    fstat(dir).map_or(true, |st| st.st_mode & 0o022 != 0)
}

/// How long to sleep between tries, doubling from 100 µs to 20 ms.
fn next_pause(pause: &mut Duration) {
    thread::sleep(*pause);
    *pause = (*pause * 2).min(Duration::from_millis(20));
}

/// `<socket name>.lock`.
pub(crate) fn lock_name(socket_name: &OsStr) -> OsString {
    let mut name = socket_name.to_owned();
    name.push(".lock");
    name
}

/// The state of the bind lock for the socket `socket`, found without
/// changing anything: a shared `flock` is tried and released at once. With
/// the error a bind would give when the lock cannot be used.
pub(crate) fn look(socket: EntryRef<'_>) -> (LockState, Option<BindError>) {
    let dir = socket.dir();
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let tried = |fd: nix::Result<OwnedFd>| {
        let held = fd.is_ok_and(|fd| {
            matches!(
                Flock::lock(fd, FlockArg::LockSharedNonblock),
                Err((_, Errno::EWOULDBLOCK))
            )
        });
        if held {
            LockState::Held
        } else {
            LockState::Free
        }
    };
    if !needs_file(dir) {
        // A description of our own: a lock on `dir`'s would be ours.
        let again = openat(dir, ".", flags | OFlag::O_DIRECTORY, Mode::empty());
        return (tried(again), None);
    }
    let lock = socket.beside(lock_name(socket.name()));
    let at = lock.at();
    let st = match fstatat(dir, at.name(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(_) => return (LockState::NoLockFile, None),
    };
    if file_type(&st) != SFlag::S_IFREG {
        return (
            LockState::Unusable,
            Some(BindError::lock_unusable(at.path(), &st)),
        );
    }
    let fd = openat(dir, at.name(), flags | OFlag::O_NOCTTY, Mode::empty());
    (tried(fd), None)
}

/// Takes the bind lock for the socket `socket` (its directory named by
/// its path in messages), waiting up to `patience` for another holder.
///
/// # Blocking
///
/// The wait sleeps this thread, for at most `patience` (5 s for a bind, none
/// for a drop). A bind in progress holds the lock for well under a
/// millisecond; only a process holding it on purpose makes anyone wait.
///
/// `Ok(None)` means no lock could be created because we may not write to
/// the directory (or the filesystem has no `flock`). Then nothing we do can
/// change the directory either, so there is nothing to race on: the bind
/// goes on and fails, if it must, with the precise error.
pub(crate) fn acquire<'d>(
    socket: EntryRef<'d>,
    patience: Duration,
    with_drops: bool,
) -> Result<Option<BindLock<'d>>, BindError> {
    let (dir, dir_path) = (socket.dir(), socket.dir_path());
    if !needs_file(dir) {
        return Ok(hold_dir(dir, dir_path, patience)?.map(|_held| BindLock::Dir { _held }));
    }
    let Some(_held) = acquire_file(socket, patience)? else {
        return Ok(None);
    };
    let _dir = if with_drops {
        hold_dir(dir, dir_path, patience)?
    } else {
        None
    };
    Ok(Some(BindLock::File { _held, _dir }))
}

/// The `flock` on the directory itself: the bind lock where only its owner
/// may write it, and what a drop takes anywhere (see the module docs).
pub(crate) fn hold_dir(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    patience: Duration,
) -> Result<Option<Flock<OwnedFd>>, BindError> {
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_micros(100);
    loop {
        let fd = dir
            .try_clone_to_owned()
            .map_err(|e| BindError::io(Op::Lock, dir_path, e))?;
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Some(lock)),
            Err((fd, errno)) => {
                if let Some(done) = not_now(errno, &fd, dir_path, deadline, patience) {
                    return done.map(|()| None);
                }
            }
        }
        next_pause(&mut pause);
    }
}

/// What to do when a `flock` failed with `errno`: `None` to try again
/// later, else give up (`Ok`: go on without the lock).
fn not_now(
    errno: Errno,
    fd: &OwnedFd,
    path: &Path,
    deadline: Instant,
    patience: Duration,
) -> Option<Result<(), BindError>> {
    match errno {
        Errno::EWOULDBLOCK => {
            if Instant::now() >= deadline {
                return Some(Err(BindError::lock_busy(path, patience, None)));
            }
            // An ancestor (`flock FILE cmd`) will not let go while we run:
            // say so now rather than after the wait.
            let holder = fstat(fd)
                .ok()
                .and_then(|st| sys::ancestor_holding_flock(&st))?;
            Some(Err(BindError::lock_busy(path, patience, Some(&holder))))
        }
        Errno::ENOLCK | Errno::EINVAL | Errno::EOPNOTSUPP => {
            tracing::warn!(lock = %shown(path), %errno, "flock is not supported here; binding without the lock");
            Some(Ok(()))
        }
        errno => Some(Err(BindError::os(Op::Lock, path, errno))),
    }
}

/// The lock file `<socket name>.lock`.
fn acquire_file<'d>(
    socket: EntryRef<'d>,
    patience: Duration,
) -> Result<Option<LockFile<'d>>, BindError> {
    let lock = socket.beside(lock_name(socket.name()));
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_micros(100);
    loop {
        let at = lock.at();
        let Some((fd, ours)) = open_or_create(at)? else {
            return Ok(None);
        };
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(file) => {
                let held = LockFile {
                    file,
                    at: lock.clone(),
                    ours,
                };
                if held.is_still_at_path() {
                    return Ok(Some(held));
                }
                // Removed (and maybe re-created) by the previous holder.
            }
            Err((fd, errno)) => {
                if let Some(done) = not_now(errno, &fd, at.path(), deadline, patience) {
                    remove_if_ours(at, &fd, ours);
                    return done.map(|()| None);
                }
                next_pause(&mut pause);
            }
        }
    }
}

/// Opens the lock file, creating it when missing; returns whether this
/// crate made it. Only a regular file is ever opened: anything else at the
/// path is reported, never followed or opened.
fn open_or_create(at: EntryRef<'_>) -> Result<Option<(OwnedFd, bool)>, BindError> {
    let (dir, name) = (at.dir(), at.name());
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
                    Err(errno) => return Err(at.os_error(Op::OpenLock, errno)),
                }
            }
            Ok(st) => return Err(BindError::lock_unusable(at.path(), &st)),
            Err(Errno::ENOENT) => match create(dir, name, flags) {
                Ok(fd) => return Ok(Some((fd, true))),
                Err(Errno::EEXIST) => {}
                Err(Errno::EACCES | Errno::EPERM | Errno::EROFS) => return Ok(None),
                Err(errno) => return Err(at.os_error(Op::OpenLock, errno)),
            },
            // The directory may not be searched: no lock, and the bind will
            // say precisely why it fails.
            Err(Errno::EACCES) => return Ok(None),
            Err(errno) => return Err(at.os_error_in_dir(Op::OpenLock, errno)),
        }
    }
}

/// Creates the lock file `name` in `dir`, holding [`MARKER`] from its
/// first instant where the filesystem allows ([`sys::create_linked`]), so
/// that a crash never leaves an empty one. Elsewhere it is created, then
/// written: a crash between the two leaves an empty file, which no bind
/// removes, since a user's own empty file looks the same (`inspect`
/// reports it).
fn create(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlag) -> nix::Result<OwnedFd> {
    if let Some(fd) = sys::create_linked(dir, name, MARKER)? {
        return Ok(fd);
    }
    let create = flags | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
    let fd = openat(dir, name, create, Mode::from_bits_truncate(0o644))?;
    // A short write only means a crash leftover is kept.
    let _ = nix::unistd::write(&fd, MARKER);
    Ok(fd)
}

/// Whether the lock file holds exactly [`MARKER`].
pub(crate) fn holds_marker(fd: &OwnedFd) -> bool {
    let mut buf = [0; MARKER.len() + 1];
    nix::sys::uio::pread(fd, &mut buf, 0).is_ok_and(|n| &buf[..n] == MARKER)
}

/// Removes a lock file of ours that we could not lock, if the name still
/// leads to it.
fn remove_if_ours(at: EntryRef<'_>, fd: &OwnedFd, ours: bool) {
    if ours && at.leads_to(fd).unwrap_or(false) {
        let _ = at.unlink();
    }
}

impl LockFile<'_> {
    /// Whether the lock path still names the file we locked.
    fn is_still_at_path(&self) -> bool {
        self.at.at().leads_to(&*self.file).unwrap_or(false)
    }
}

impl Drop for LockFile<'_> {
    fn drop(&mut self) {
        // Remove our own file while still holding the lock; waiters then
        // see that the path names another file and start over.
        if self.ours && self.is_still_at_path() {
            let at = self.at.at();
            if let Err(errno) = at.unlink() {
                tracing::warn!(lock = %shown(at.path()), %errno, "could not remove our lock file");
            }
        }
    }
}
