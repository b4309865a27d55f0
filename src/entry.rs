//! A name in a directory we opened: the directory's descriptor, the name in
//! it, and the path that names it in messages, carried as one value, with
//! the rules about them as its methods.
//!
//! [`EntryRef`] is the borrowed form, `Copy`, passed down the bind
//! sequence; [`Entry`] owns the name and the path (and the descriptor, or a
//! descriptor borrowed from whatever owns the directory), held by what
//! outlives a call: the listener's [`UnlinkGuard`](crate::guard::UnlinkGuard),
//! the lock file, the private directory and the temporary socket.
//!
//! The rules:
//!
//! - **Once a directory is opened, every step goes through its descriptor.**
//!   The path is for messages, and for one route only: a bind or connect by
//!   the path's own string, which [`EntryRef::reach`] decides, in this one
//!   place, where the platform has no route through the descriptor or
//!   where the caller wants the kernel to name the socket by that path.
//! - **"Is this still the socket we made" is asked here only.** What a bind
//!   records of the file it made is a [`Made`]; [`EntryRef::made_socket`]
//!   takes it, and [`EntryRef::remove_if_still`] compares and removes.
//!   See "Identity" below.
//! - **Nothing is removed that is not still what we think it is**: a file
//!   by its [`Made`], a directory or a lock file by the open descriptor of
//!   it ([`EntryRef::leads_to`]).
//! - **Errors name the path, and explain EACCES and EPERM from what is seen
//!   through the descriptor** ([`EntryRef::os_error`]).
//!
//! # Identity
//!
//! An inode number alone names nothing for long: once a file is removed,
//! ext4 and tmpfs give its number to the next file made, and a successor
//! that removed our stale socket often gets it. So a [`Made`] is tied to the
//! socket we bound, in two ways, each for what it does best:
//!
//! - **Which file is our socket: asked of the kernel**, where the file
//!   could have been swapped before we looked (a directory others may
//!   write). On Linux, `sock_diag` (`NETLINK_SOCK_DIAG`, `UDIAG_SHOW_VFS`
//!   for the inode of our socket, which `fstat` of it gives) names the
//!   inode of the file the socket is bound to, and the file at the name
//!   must be that one. Only the inode number is compared, and only its
//!   low 32 bits, all that `struct unix_diag_vfs` holds (on XFS or btrfs,
//!   a socket put there whose number differs from ours only above them
//!   would pass, a collision nobody can choose). The device
//!   `sock_diag` gives is the superblock's (`s_dev`, in the kernel's own
//!   encoding), which is not what `stat` reports on a btrfs subvolume, and
//!   the file at the name is on the directory's filesystem anyway, since
//!   it is opened through the directory's descriptor and no rename crosses
//!   filesystems. Where netlink is refused (a seccomp filter, systemd's
//!   `RestrictAddressFamilies=AF_UNIX`) or `unix_diag` is missing, and on
//!   the other platforms, which have no such call, the check falls back to
//!   the owner, mode and group that only this bind could have given the
//!   file. Two sockets of the same user with the same mode and group are
//!   then told apart by nothing, which is what remains there.
//! - **That the file stays the one we verified: a pinned inode.** Right
//!   after the bind, the name is opened `O_PATH | O_NOFOLLOW` through the
//!   directory's descriptor (Linux, Android, FreeBSD), and the file is
//!   recorded by `fstat` of that descriptor, which the `Made` holds for as
//!   long as anything may remove the file (the listener's guard,
//!   `into_parts`' `UnlinkOnDrop`). An open inode is never freed, so no
//!   other file can take its number while we hold it, and device and
//!   inode number at the name then mean our file and nothing else. It
//!   costs one `openat` per bind and one descriptor per listener; the
//!   `sock_diag` round trip (four calls) is paid only where it is needed,
//!   in a directory others may write. `sock_diag` alone would not do for
//!   the guard: after the listener is closed there is no socket to ask
//!   about. macOS and NetBSD cannot open a socket file, and where the open
//!   fails (no descriptor left, `EMFILE`), the `Made` holds none: identity
//!   there is the device and inode number, and a file that takes a freed
//!   number while we still hold the guard can be removed as ours.
//!
//! A lock file is held open for as long as we may remove it, so its inode
//! is pinned the same way, and [`EntryRef::leads_to`] compares with it.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::stat::FileStat;
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::error::{BindError, Op};
use crate::stat::{self, is_socket, lstat_at, parent_dir, same_file, same_inode};
use crate::sys::{self, Where};

/// A name in a directory we opened, borrowed: the directory's descriptor,
/// the name in it, and the path that names it in messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    dir: BorrowedFd<'a>,
    name: &'a OsStr,
    path: &'a Path,
}

/// A name in a directory we opened, owned: the name and the path are
/// owned, and the directory is `D`, its descriptor ([`OwnedFd`]) or one
/// borrowed from what owns it ([`BorrowedFd`]).
#[derive(Debug, Clone)]
pub(crate) struct Entry<D = OwnedFd> {
    dir: D,
    name: OsString,
    path: PathBuf,
}

/// How [`EntryRef::reach`] reaches a name.
#[derive(Debug)]
pub(crate) enum Reach<'a> {
    /// Through the directory's descriptor (`/proc/self/fd/N/name`, or
    /// `bindat`/`connectat`): no rename of the directory redirects it, and
    /// no length of its path limits it.
    Descriptor(Where<'a>),
    /// By the path's own string: asked for, or the platform has no route
    /// through the descriptor (no `/proc`, macOS, NetBSD).
    Path(&'a Path),
}

impl<'a> Reach<'a> {
    /// The address to bind or connect to; by path, `ENAMETOOLONG` when the
    /// path does not fit `sun_path`.
    pub(crate) fn address(self) -> nix::Result<Where<'a>> {
        match self {
            Reach::Descriptor(at) => Ok(at),
            Reach::Path(path) => Ok(Where::Addr(nix::sys::socket::UnixAddr::new(path)?)),
        }
    }
}

/// What a bind records of the socket file it made, to recognise it later:
/// the file's `stat` just after the bind, through the `O_PATH` descriptor
/// that keeps its inode number from being reused while it is held (see
/// "Identity" in the module docs), and its owner, group and mode then.
#[derive(Debug, Clone)]
pub(crate) struct Made {
    st: FileStat,
    /// The file, pinned: held, it keeps the inode and its number ours;
    /// `None` where it cannot be opened. Its access is set through it
    /// where others may write the directory.
    pin: Option<Arc<OwnedFd>>,
}

/// Why [`EntryRef::made_socket`] found no socket of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotMade {
    /// Nothing at the name: the bind went elsewhere.
    NoSocket,
    /// Another file at the name: not a socket, or a socket the kernel says
    /// is not the one ours is bound to.
    NotOurs,
}

impl Made {
    /// Whether the file is as this process made it: owned by our effective
    /// uid, with the permission bits `mode` and the group `gid` where these
    /// were asked for. Another user cannot make such a file.
    pub(crate) fn is_as_made(&self, mode: Option<u32>, gid: Option<u32>) -> bool {
        self.st.st_uid == nix::unistd::geteuid().as_raw()
            && mode.is_none_or(|mode| stat::permissions(&self.st) == mode)
            && gid.is_none_or(|gid| self.st.st_gid == gid)
    }

    /// The descriptor that pins the file, where it could be opened.
    pub(crate) fn pin(&self) -> Option<BorrowedFd<'_>> {
        self.pin.as_deref().map(AsFd::as_fd)
    }

    /// The group the file had when recorded.
    pub(crate) fn gid(&self) -> u32 {
        self.st.st_gid
    }

    /// The same file, recorded again now (through its pin, which it must
    /// have).
    pub(crate) fn restat(&self) -> nix::Result<Made> {
        let pin = self.pin().ok_or(Errno::EBADF)?;
        Ok(Made {
            st: nix::sys::stat::fstat(pin)?,
            pin: self.pin.clone(),
        })
    }

    /// Whether the file has exactly the permission bits `mode`, the owner
    /// `uid` and the group `gid`.
    pub(crate) fn is_as(&self, mode: u32, uid: u32, gid: u32) -> bool {
        stat::permissions(&self.st) == mode && self.st.st_uid == uid && self.st.st_gid == gid
    }

    /// Device and inode number, to tell which of our sockets a probe
    /// reached ([`crate::guard::held_here`]).
    pub(crate) fn key(&self) -> (u64, u64) {
        key(&self.st)
    }
}

/// Device and inode number of `st`.
#[allow(clippy::unnecessary_cast)] // `dev_t` and `ino_t` are narrower on some targets
pub(crate) fn key(st: &FileStat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// What [`EntryRef::remove_if_still`] and [`EntryRef::remove_dir_if_still`]
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// It was still ours, and is removed.
    Removed,
    /// It was still ours, and the unlink failed.
    Failed(Errno),
    /// The name leads to another file now; left in place.
    Replaced,
    /// Nothing is at the name any more.
    Gone,
    /// What is at the name could not be looked at; left in place.
    Unchecked(Errno),
}

impl Removal {
    /// For the log.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Removal::Removed => "removed socket file",
            Removal::Failed(_) => "could not remove socket file",
            Removal::Replaced => "path now names another file; left in place",
            Removal::Gone => "socket file already gone",
            Removal::Unchecked(_) => "could not check socket file",
        }
    }
}

impl<'a> EntryRef<'a> {
    /// `name` in the directory open as `dir`, named `path` in messages.
    pub(crate) fn new(dir: BorrowedFd<'a>, name: &'a OsStr, path: &'a Path) -> Self {
        Self { dir, name, path }
    }

    /// The directory's descriptor, for the `*at` calls.
    pub(crate) fn dir(self) -> BorrowedFd<'a> {
        self.dir
    }

    pub(crate) fn name(self) -> &'a OsStr {
        self.name
    }

    /// The path, for messages (and the route by path, [`reach`](Self::reach)).
    pub(crate) fn path(self) -> &'a Path {
        self.path
    }

    /// The directory's path, for messages (`.` for a bare file name).
    pub(crate) fn dir_path(self) -> &'a Path {
        parent_dir(self.path)
    }

    /// `name` beside this one, in the same directory.
    pub(crate) fn beside(self, name: OsString) -> Entry<BorrowedFd<'a>> {
        Entry {
            path: self.dir_path().join(&name),
            dir: self.dir,
            name,
        }
    }

    /// The route to the name, decided here for every bind, connect and
    /// probe: through the directory's descriptor where the platform can
    /// ([`sys::through_dir`]), unless `by_path` asks for the path's own
    /// string (so that the kernel names the socket by it); by the path
    /// otherwise.
    pub(crate) fn reach(self, by_path: bool) -> Reach<'a> {
        match sys::through_dir(self.dir, self.name) {
            Some(through) if !by_path => Reach::Descriptor(through),
            _ => Reach::Path(self.path),
        }
    }

    /// What is at the name, without following a link; `None` for nothing.
    pub(crate) fn lstat(self) -> nix::Result<Option<FileStat>> {
        lstat_at(self.dir, self.name)
    }

    /// The socket a bind just made at the name, recorded so that it is
    /// recognised later, its inode pinned where the platform can. With
    /// `bound`, the socket that was bound, the kernel is asked which file
    /// that is, where it says, and another file is [`NotMade::NotOurs`].
    pub(crate) fn made_socket(self, bound: Option<BorrowedFd<'_>>) -> Result<Made, NotMade> {
        let (st, pin) = match sys::pin_file(self.dir, self.name) {
            Ok(pin) => match nix::sys::stat::fstat(pin.as_fd()) {
                Ok(st) => (st, Some(pin)),
                Err(_) => return Err(NotMade::NoSocket),
            },
            // No `O_PATH` here, or no descriptor left: the number alone.
            Err(_) => match self.lstat() {
                Ok(Some(st)) => (st, None),
                _ => return Err(NotMade::NoSocket),
            },
        };
        if !is_socket(&st) {
            return Err(NotMade::NotOurs);
        }
        if let Some(bound) = bound {
            // `sock_diag` has room for the low 32 bits of the number.
            let low = key(&st).1 as u32;
            if sys::bound_inode(bound).is_some_and(|ino| ino != low) {
                return Err(NotMade::NotOurs);
            }
        }
        Ok(Made {
            st,
            pin: pin.map(Arc::new),
        })
    }

    /// Removes the name if it still leads to the socket `made`; with
    /// `None`, if it leads to any socket, which only a directory nobody
    /// else may enter allows (our private directories). While `made` holds
    /// its pinned inode, its number is no other file's.
    pub(crate) fn remove_if_still(self, made: Option<&Made>) -> Removal {
        match self.lstat() {
            Ok(Some(st)) if made.is_none_or(|made| same_inode(&st, &made.st)) && is_socket(&st) => {
                match self.unlink() {
                    Ok(()) => Removal::Removed,
                    Err(errno) => Removal::Failed(errno),
                }
            }
            Ok(Some(_)) => Removal::Replaced,
            Ok(None) => Removal::Gone,
            Err(errno) => Removal::Unchecked(errno),
        }
    }

    /// Whether the name leads to the open file `file` (a directory or a
    /// lock file we opened).
    pub(crate) fn leads_to(self, file: &impl AsFd) -> nix::Result<bool> {
        Ok(self.lstat()?.is_some_and(|st| same_file(file, &st)))
    }

    /// Removes the directory at the name if it is still `dir`, which we
    /// opened, and empty.
    pub(crate) fn remove_dir_if_still(self, dir: &impl AsFd) -> Removal {
        match self.lstat() {
            Ok(Some(st)) if same_file(dir, &st) => {
                match unlinkat(self.dir, self.name, UnlinkatFlags::RemoveDir) {
                    Ok(()) => Removal::Removed,
                    Err(errno) => Removal::Failed(errno),
                }
            }
            Ok(Some(_)) => Removal::Replaced,
            Ok(None) => Removal::Gone,
            Err(errno) => Removal::Unchecked(errno),
        }
    }

    /// `unlinkat` of the name, never a directory: for a caller that has
    /// just checked what it is.
    pub(crate) fn unlink(self) -> nix::Result<()> {
        unlinkat(self.dir, self.name, UnlinkatFlags::NoRemoveDir)
    }

    /// The system call `op` on the name failed with `errno`: the error,
    /// explained for EACCES and EPERM with who owns the file and the
    /// directory, as seen through the descriptor.
    pub(crate) fn os_error(self, op: Op, errno: Errno) -> BindError {
        BindError::os_at(op, self.path, errno, self.dir, Some(self.name))
    }

    /// The system call `op` in the directory failed with `errno` (making
    /// the name, say): explained with who owns the directory.
    pub(crate) fn os_error_in_dir(self, op: Op, errno: Errno) -> BindError {
        BindError::os_at(op, self.path, errno, self.dir, None)
    }
}

impl<D: AsFd> Entry<D> {
    /// `name` in the directory `dir`, named `path` in messages.
    pub(crate) fn new(dir: D, name: OsString, path: PathBuf) -> Self {
        Self { dir, name, path }
    }

    /// The borrowed form, for the rules.
    pub(crate) fn at(&self) -> EntryRef<'_> {
        EntryRef {
            dir: self.dir.as_fd(),
            name: &self.name,
            path: &self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixListener;

    use super::*;

    #[test]
    fn the_kernel_names_our_socket_file_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let ours = UnixListener::bind(dir.path().join("a")).unwrap();
        let other = UnixListener::bind(dir.path().join("b")).unwrap();
        let fd =
            nix::fcntl::open(dir.path(), nix::fcntl::OFlag::O_DIRECTORY, stat::mode(0)).unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let at_a = EntryRef::new(fd.as_fd(), OsStr::new("a"), &a);
        let at_b = EntryRef::new(fd.as_fd(), OsStr::new("b"), &b);
        if cfg!(any(target_os = "linux", target_os = "android")) {
            let st = at_a.lstat().unwrap().unwrap();
            assert_eq!(sys::bound_inode(ours.as_fd()), Some(key(&st).1 as u32));
        }
        assert!(at_a.made_socket(Some(ours.as_fd())).is_ok());
        if sys::bound_inode(ours.as_fd()).is_some() {
            assert_eq!(
                at_b.made_socket(Some(ours.as_fd())).unwrap_err(),
                NotMade::NotOurs
            );
        }
        drop(other);
    }
}
