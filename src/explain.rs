//! The sentences of [`BindError`]: one constructor for each failure, and
//! the explanation of an OS error (for EACCES and EPERM, who owns what, as
//! seen through the directory that was opened). Every sentence a user can
//! read is composed in this file, so the wording of all failures can be
//! reviewed in one place. The type itself is in `error.rs`.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{FileStat, fstat};

use crate::error::{BindError, BindErrorKind, Op, Target};
use crate::escape::{shown, text};
use crate::probe::SocketType;
use crate::stat::{describe, lstat_at, parent_dir, permissions};
use crate::sys;

/// The advice for anything that a shared directory makes hard.
const OWN_DIR_FIX: &str = "bind under a directory this service owns, such as \
     $XDG_RUNTIME_DIR or a systemd RuntimeDirectory=";

impl BindError {
    // ---- address validation -------------------------------------------

    pub(crate) fn invalid_address(shown: impl fmt::Display, why: impl fmt::Display) -> Self {
        let shown = shown.to_string();
        let mut e = Self::new(
            BindErrorKind::InvalidAddress,
            Op::UseAddress,
            format!("{shown:?}"),
        )
        .why(why)
        .fix_with("give a non-empty path without NUL bytes, or @name for an abstract socket");
        if !shown.starts_with('@') {
            e.0.target = Target::Quoted(PathBuf::from(shown));
        }
        e
    }

    pub(crate) fn path_too_long(path: &Path, len: usize, max: usize) -> Self {
        Self::at(BindErrorKind::PathTooLong, Op::UsePath, path)
            .why(format_args!(
                "the path is {len} bytes, but this platform allows at most {max} \
                 ({} with the terminating NUL)",
                max + 1
            ))
            .fix_with("use a shorter path, such as one under $XDG_RUNTIME_DIR or /run")
    }

    pub(crate) fn long_path_name_too_long(path: &Path, len: usize, max: usize) -> Self {
        Self::at(BindErrorKind::PathTooLong, Op::UsePath, path)
            .why(format_args!(
                "the path is {} bytes, longer than a socket address holds ({}), so it is \
                 reached through its directory's descriptor (/proc/self/fd/N/), which leaves \
                 at most {max} bytes for its last component, and that is {len} bytes",
                path.as_os_str().len(),
                crate::sys::MAX_PATH_LEN
            ))
            .fix_with("use a shorter file name for the socket")
    }

    pub(crate) fn long_path_without_proc(path: &Path) -> Self {
        Self::at(BindErrorKind::PathTooLong, Op::Bind, path)
            .why(format_args!(
                "the path is {} bytes, longer than a socket address holds ({}), and such a \
                 path is reached through /proc/self/fd, but /proc is not mounted here",
                path.as_os_str().len(),
                crate::sys::MAX_PATH_LEN
            ))
            .fix_with("mount /proc, or use a shorter path, such as one under $XDG_RUNTIME_DIR")
    }

    pub(crate) fn name_too_long(shown: String, len: usize, max: usize) -> Self {
        Self::new(BindErrorKind::PathTooLong, Op::UseName, shown)
            .why(format_args!(
                "the name is {len} bytes, but at most {max} fit"
            ))
            .fix_with("use a shorter name")
    }

    pub(crate) fn unsupported_abstract(shown: impl fmt::Display) -> Self {
        Self::new(BindErrorKind::Unsupported, Op::Bind, shown)
            .why("abstract socket names exist only on Linux and Android")
            .fix_with("bind a filesystem path instead")
    }

    pub(crate) fn no_runtime(shown: impl fmt::Display) -> Self {
        Self::new(BindErrorKind::Other, Op::Bind, shown)
            .why("there is no Tokio runtime on this thread")
            .fix_with("call bind from inside a Tokio runtime, such as in #[tokio::main]")
    }

    /// Tokio refused the socket with an error that has no OS error number
    /// (its runtime is shutting down, say): its words, and its kind.
    pub(crate) fn tokio(shown: impl fmt::Display, path: Option<&Path>, e: io::Error) -> Self {
        let mut err = match path {
            Some(path) => Self::at(BindErrorKind::Other, Op::Register, path),
            None => Self::new(BindErrorKind::Other, Op::Register, shown),
        }
        .why(format_args!("{e}"));
        err.0.io_kind = Some(e.kind());
        err
    }

    // ---- what is at the path ------------------------------------------

    pub(crate) fn live(
        shown: impl fmt::Display,
        path: Option<&Path>,
        pid: Option<i32>,
        socket_type: SocketType,
    ) -> Self {
        let who = match (socket_type, pid) {
            (SocketType::Datagram, _) => {
                "a live datagram socket is bound there (a receiver, such as a log or metrics daemon)".to_owned()
            }
            (SocketType::SeqPacket, Some(pid)) => {
                format!("a server (pid {pid}) is listening on it with a seqpacket socket")
            }
            (SocketType::SeqPacket, None) => {
                "a server is listening on it with a seqpacket socket".to_owned()
            }
            (_, Some(pid)) => format!("a server (pid {pid}) is listening on it"),
            (_, None) => "a server is listening on it".to_owned(),
        };
        let e = match path {
            Some(path) => Self::at(BindErrorKind::InUse, Op::Bind, path),
            None => Self::new(BindErrorKind::InUse, Op::Bind, shown),
        };
        e.why(who)
            .fix_with("stop that server first, or choose another address")
            .caused_by(Errno::EADDRINUSE)
    }

    pub(crate) fn backlog_full(path: &Path) -> Self {
        Self::at(BindErrorKind::InUse, Op::Bind, path)
            .why("a server is listening on it (its accept queue is full)")
            .fix_with("stop that server first, or choose another path")
            .caused_by(Errno::EAGAIN)
    }

    pub(crate) fn abstract_failed(shown: impl fmt::Display, errno: Errno) -> Self {
        let e = Self::new(kind_of(errno), Op::Bind, shown).caused_by(errno);
        match errno {
            Errno::EADDRINUSE => e
                .why("another socket already holds this abstract name (EADDRINUSE)")
                .fix_with("stop that server first, or choose another name"),
            _ => e.why(errno),
        }
    }

    pub(crate) fn stale_kept(path: &Path) -> Self {
        Self::at(BindErrorKind::InUse, Op::Bind, path)
            .why("a stale socket is there, and OnExisting::Fail forbids removing it")
            .fix_with("remove it by hand, or use OnExisting::RemoveStale")
            .caused_by(Errno::EADDRINUSE)
    }

    pub(crate) fn unprobeable(path: &Path, errno: Errno) -> Self {
        Self::at(BindErrorKind::InUse, Op::ProbeSocket, path)
            .why(format_args!(
                "connecting to it failed with {}, so it is not provably stale and is left alone",
                errno
            ))
            .fix_with("remove it by hand if no server uses it, or choose another path")
            .caused_by(errno)
    }

    pub(crate) fn not_a_socket(path: &Path, file_type: &str) -> Self {
        Self::at(BindErrorKind::NotASocket, Op::Bind, path)
            .why(format_args!(
                "{file_type} is in the way, and only stale sockets are ever removed"
            ))
            .fix_with("move it away by hand if it is not needed, or choose another path")
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn appeared_during_takeover(path: &Path, file_type: &str) -> Self {
        Self::at(BindErrorKind::NotASocket, Op::TakeOver, path)
            .why(format_args!(
                "{file_type} appeared there while we were taking it over; it was put back, \
                 and only sockets are ever replaced"
            ))
            .fix_with("find out which other program writes this path, or choose another path")
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn stranded(path: &Path, kept_at: &Path, file_type: &str) -> Self {
        Self::at(BindErrorKind::NotASocket, Op::TakeOver, path)
            .why(format_args!(
                "{file_type} appeared there while we were taking it over, and the path kept \
                 changing, so it could not be put back: it is kept at {}",
                crate::escape::shown(kept_at)
            ))
            .fix_with(format_args!(
                "move it back by hand (mv {} {}), and find out which other program writes this path",
                crate::escape::shown(kept_at),
                crate::escape::shown(path)
            ))
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn lock_busy(
        lock: &Path,
        waited: std::time::Duration,
        holder: Option<&str>,
    ) -> Self {
        let (why, fix) = match holder {
            Some(holder) => (
                format!(
                    "{holder} holds it, and a wrapper such as `flock FILE cmd` holds it for as \
                     long as we run"
                ),
                "do not wrap the service in `flock` on this file (lock another file, such as \
                 one beside it named differently)",
            ),
            None => (
                format!(
                    "another process holds it, and a bind waits for it at most {} s",
                    waited.as_secs()
                ),
                "find the holder with `fuser` or `lsof` and stop it",
            ),
        };
        Self::at(BindErrorKind::InUse, Op::Lock, lock)
            .why(why)
            .fix_with(fix)
            .caused_by(Errno::EWOULDBLOCK)
    }

    /// Something other than a regular file is at the lock path.
    pub(crate) fn lock_unusable(lock: &Path, st: &FileStat) -> Self {
        let (what, uid, mode) = (describe(st), st.st_uid, permissions(st));
        let owner = format!(" owned by uid {uid} (mode {mode:04o})");
        Self::at(BindErrorKind::LockFile, Op::OpenLock, lock)
            .why(format_args!(
                "{what}{owner} is there instead of a lock file; it is never followed, opened or removed"
            ))
            .fix_with(format_args!(
                "remove it if nobody put it there on purpose, or {OWN_DIR_FIX}"
            ))
            .caused_by(Errno::EEXIST)
    }

    pub(crate) fn parent_missing(path: &Path, dir: &Path, why: &str) -> Self {
        Self::at(BindErrorKind::ParentMissing, Op::Bind, path)
            .why(format_args!("directory {} {why}", shown(dir)))
            .fix_with(
                "create the directory first (for a systemd service, RuntimeDirectory=), \
                 or use Builder::create_parents",
            )
            .caused_by(Errno::ENOENT)
    }

    /// `what` (a directory or link at `step`) on the way to `path` could
    /// be changed by another user, `why`.
    pub(crate) fn insecure_parent(
        path: &Path,
        step: &Path,
        what: &str,
        why: impl fmt::Display,
    ) -> Self {
        Self::at(BindErrorKind::InsecureParent, Op::Bind, path)
            .why(format_args!("{} {why}", text(what)))
            .fix_with(format_args!(
                "{OWN_DIR_FIX}, or make {} owned by root or us and not writable by others",
                shown(step)
            ))
    }

    pub(crate) fn no_room_for_private_dir(path: &Path, needed: usize, max: usize) -> Self {
        Self::at(BindErrorKind::PathTooLong, Op::Bind, path)
            .why(format_args!(
                "the socket is made in a private directory beside it first, and that path \
                 would be {needed} bytes, over the limit of {max}"
            ))
            .fix_with("use a directory with a shorter path, or a longer socket file name")
    }

    pub(crate) fn no_temp_dir(tried: &str, errno: Option<Errno>) -> Self {
        let kind = errno.map_or(BindErrorKind::PathTooLong, kind_of);
        let mut e = Self::new(kind, Op::CreateTempDir, "$XDG_RUNTIME_DIR, $TMPDIR or /tmp")
            .why(tried)
            .fix_with("set TMPDIR to a short directory this user may write to, such as /tmp");
        if let Some(errno) = errno {
            e = e.caused_by(errno);
        }
        e
    }

    /// Something at a path we were using changed under us: another process
    /// raced us, and whatever it put there is left alone.
    pub(crate) fn raced(operation: Op, path: &Path, what: &str) -> Self {
        Self::at(BindErrorKind::InUse, operation, path)
            .why(format_args!("{what}, so it is left alone"))
            .fix_with("find out which other program uses this path, or choose another path")
            .caused_by(Errno::EBUSY)
    }

    pub(crate) fn activation(why: String) -> Self {
        Self::new(
            BindErrorKind::InvalidActivation,
            Op::UseActivation,
            "the service manager",
        )
        .why(why)
        .fix_with(
            "check the .socket unit (ListenStream=, FileDescriptorName=) or the LISTEN_* variables",
        )
    }

    // ---- the operating system said no -----------------------------------

    /// A failed system call `operation` on `path`.
    pub(crate) fn os(operation: Op, path: &Path, errno: Errno) -> Self {
        Self::explained(operation, path, errno, &Facts::none())
    }

    /// A failed system call `operation` on `name` in the directory open as
    /// `dir` (`path` in messages), explained, for EACCES and EPERM, with who
    /// owns the file and the directory, as seen through `dir`.
    pub(crate) fn os_at(
        operation: Op,
        path: &Path,
        errno: Errno,
        dir: BorrowedFd<'_>,
        name: Option<&OsStr>,
    ) -> Self {
        let facts = match errno {
            Errno::EACCES | Errno::EPERM => Facts::of(dir, name),
            Errno::EROFS | Errno::ENOSPC | Errno::EDQUOT | Errno::EXDEV | Errno::EOPNOTSUPP => {
                Facts::of_filesystem(dir)
            }
            _ => Facts::none(),
        };
        Self::explained(operation, path, errno, &facts)
    }

    /// `fchownat` refused an owner or group with EINVAL: inside a user
    /// namespace, an id that is not mapped there.
    pub(crate) fn unmapped_owner(
        path: &Path,
        dir: BorrowedFd<'_>,
        owner: Option<u32>,
        group: Option<u32>,
    ) -> Self {
        let unmapped = [("uid", owner), ("gid", group)]
            .into_iter()
            .filter_map(|(which, id)| Some((which, id?, sys::id_mapped(which, id?)?)))
            .find(|(_, _, (mapped, _))| !mapped);
        match unmapped {
            Some((which, id, (_, ranges))) => {
                let flag = if which == "uid" { "--owner" } else { "--group" };
                Self::at(BindErrorKind::PermissionDenied, Op::ChangeOwner, path)
                    .caused_by(Errno::EINVAL)
                    .why(format_args!(
                        "{which} {id} is not mapped in this user namespace (EINVAL), which \
                         maps only {which}s {ranges} (/proc/self/{which}_map), as in a rootless \
                         container"
                    ))
                    .fix_with(format_args!(
                        "choose a {which} that is mapped, map {id} into the namespace \
                         (newuidmap, or the container's --userns options), or run without \
                         {flag} and grant access with the mode"
                    ))
            }
            None => Self::os_at(Op::ChangeOwner, path, Errno::EINVAL, dir, None),
        }
    }

    /// No way to move a socket to another name keeps it reachable on this
    /// filesystem (a hard link makes a new, unbound inode on some FUSE
    /// filesystems, and the exchange and no-replace renames are refused).
    pub(crate) fn no_route(path: &Path, dir: BorrowedFd<'_>) -> Self {
        let fs = sys::fs_type(dir).unwrap_or_else(|| "unknown".to_owned());
        Self::at(BindErrorKind::Unsupported, Op::MoveIntoPlace, path)
            .caused_by(Errno::EOPNOTSUPP)
            .why(format_args!(
                "on this filesystem ({fs}) a socket moved to another name by link or rename \
                 is no longer reachable, so it cannot be placed there without a moment in \
                 which clients could reach it before its mode is set"
            ))
            .fix_with(
                "bind under a directory on a local filesystem (such as /run or \
                 $XDG_RUNTIME_DIR), or in a directory only this service may write, where \
                 the socket is bound at the path itself",
            )
    }

    /// A failed `operation` on `path` reported as an `io::Error`: an OS
    /// error as [`os`](Self::os); anything else with its words and kind.
    pub(crate) fn io(operation: Op, path: &Path, e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Self::os(operation, path, Errno::from_raw(code)),
            None => {
                let mut err =
                    Self::at(BindErrorKind::Other, operation, path).why(format_args!("{e}"));
                err.0.io_kind = Some(e.kind());
                err
            }
        }
    }

    fn explained(operation: Op, path: &Path, errno: Errno, facts: &Facts) -> Self {
        let e = Self::at(kind_of(errno), operation, path).caused_by(errno);
        match errno {
            Errno::EACCES | Errno::EPERM => permission(e, errno, path, facts),
            Errno::EROFS => e
                .why(format_args!(
                    "the filesystem{} is mounted read-only (EROFS)",
                    facts.fs_named()
                ))
                .fix_with(
                    "bind under a directory on a writable filesystem, such as $XDG_RUNTIME_DIR \
                     or a systemd RuntimeDirectory=",
                ),
            Errno::ENOSPC | Errno::EDQUOT => e
                .why(format_args!(
                    "the filesystem{} has {} ({errno})",
                    facts.fs_named(),
                    match facts.fs.as_ref().and_then(|fs| fs.out_of_inodes) {
                        Some(true) => "no free inodes left, though it may have space",
                        _ => "no free space left (or our quota is used up)",
                    }
                ))
                .fix_with(
                    "free some space or inodes there, or bind under a directory on another \
                     filesystem, such as /run",
                ),
            Errno::EXDEV | Errno::EOPNOTSUPP => e
                .why(format_args!(
                    "the filesystem{} does not support this ({errno})",
                    facts.fs_named()
                ))
                .fix_with("bind under a directory on a local filesystem, such as /run"),
            Errno::EMFILE | Errno::ENFILE => e
                .why(format_args!("we are out of file descriptors ({errno})"))
                .fix_with(
                    "raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit), \
                     or close descriptors this process does not need",
                ),
            Errno::ENOBUFS | Errno::ENOMEM => e
                .why(format_args!("the system is out of memory ({errno})"))
                .fix_with("free memory, then try again"),
            Errno::ENAMETOOLONG => e
                .why("a component of the path is too long (ENAMETOOLONG)")
                .fix_with("use shorter directory and file names"),
            Errno::EADDRINUSE => e
                .why("another socket took the path while we were binding (EADDRINUSE)")
                .fix_with("stop the other server, or choose another path"),
            Errno::ENOENT | Errno::ENOTDIR => e
                .why(format_args!(
                    "a directory on the way to it is missing or was replaced ({errno})"
                ))
                .fix_with("check that no other program moves or removes this directory"),
            _ => e.why(errno),
        }
    }
}

/// Who owns what, for explaining EACCES and EPERM, as seen through the
/// descriptor of the directory that was opened: never looked up by path
/// again.
#[derive(Debug)]
struct Facts {
    /// Our effective uid.
    euid: u32,
    /// Owner and mode of the file, when there is one.
    file: Option<(u32, u32)>,
    /// Owner and mode of the directory, when it could be read.
    dir: Option<(u32, u32)>,
    /// The filesystem, for errors that come from it.
    fs: Option<Filesystem>,
}

/// The filesystem a directory is on, as far as it could be asked.
#[derive(Debug)]
struct Filesystem {
    kind: Option<String>,
    /// Whether no inode is free (when the filesystem counts them).
    out_of_inodes: Option<bool>,
}

impl Facts {
    fn none() -> Self {
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            file: None,
            dir: None,
            fs: None,
        }
    }

    fn of_filesystem(dir: BorrowedFd<'_>) -> Self {
        let out_of_inodes = nix::sys::statvfs::fstatvfs(dir)
            .ok()
            .filter(|v| v.files() > 0)
            .map(|v| v.files_available() == 0);
        Self {
            fs: Some(Filesystem {
                kind: sys::fs_type(dir),
                out_of_inodes,
            }),
            ..Self::none()
        }
    }

    /// " (ext4)", or nothing when the type is not known.
    fn fs_named(&self) -> String {
        match self.fs.as_ref().and_then(|fs| fs.kind.as_deref()) {
            Some(kind) => format!(" ({kind})"),
            None => String::new(),
        }
    }

    fn of(dir: BorrowedFd<'_>, name: Option<&OsStr>) -> Self {
        let owner_mode = |st: FileStat| (st.st_uid, permissions(&st));
        Self {
            euid: nix::unistd::geteuid().as_raw(),
            file: name.and_then(|n| lstat_at(dir, n).ok().flatten().map(owner_mode)),
            dir: fstat(dir).ok().map(owner_mode),
            fs: None,
        }
    }
}

fn permission(e: BindError, errno: Errno, path: &Path, f: &Facts) -> BindError {
    let dir = shown(parent_dir(path));
    let us = f.euid;
    let sticky = f.dir.is_some_and(|(_, m)| m & 0o1000 != 0);
    let dir_state = match f.dir {
        Some((uid, mode)) => format!("directory {dir} (owner uid {uid}, mode {mode:04o})"),
        None => format!("directory {dir}"),
    };
    let name = match errno {
        Errno::EPERM => "EPERM",
        _ => "EACCES",
    };
    let (why, fix) = match (e.0.operation, f.file) {
        (Op::ProbeSocket, Some((owner, mode))) => (
            format!(
                "connecting needs write permission on it, but it is owned by uid {owner} with \
                 mode {mode:04o} and we run as uid {us} ({name}), so it is not provably stale"
            ),
            format!("if no server uses it, remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (Op::OpenLock, Some((owner, mode))) => (
            format!(
                "this lock file is owned by uid {owner} with mode {mode:04o}, and we run as uid \
                 {us}, who may not open it ({name}); it was left alone"
            ),
            format!("remove it as uid {owner} if no bind is under way, or {OWN_DIR_FIX}"),
        ),
        (Op::ChangeOwner, _) => (
            format!(
                "giving a file to another user or to a group we are not in needs privilege \
                 (CAP_CHOWN), and we run as uid {us} ({name})"
            ),
            "run with that privilege, or leave the owner alone and grant access with \
             Builder::group and Builder::mode"
                .to_owned(),
        ),
        (Op::RemoveStale, Some((owner, _))) if errno == Errno::EPERM && sticky => (
            format!(
                "it is owned by uid {owner}, we run as uid {us}, and {dir} is sticky, \
                 so only the owner may remove it ({name})"
            ),
            format!("remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (_, Some((owner, _))) => (
            format!(
                "it is owned by uid {owner}, we run as uid {us}, and {dir_state} \
                 does not let us change it ({name})"
            ),
            format!("remove it as uid {owner}, or {OWN_DIR_FIX}"),
        ),
        (_, None) => (
            format!("{dir_state} does not let uid {us} create or look up files in it ({name})"),
            format!("run as a user who may write to {dir}, or {OWN_DIR_FIX}"),
        ),
    };
    e.why(why).fix_with(fix)
}

fn kind_of(errno: Errno) -> BindErrorKind {
    match errno {
        Errno::EADDRINUSE => BindErrorKind::InUse,
        Errno::EACCES | Errno::EPERM | Errno::EROFS => BindErrorKind::PermissionDenied,
        Errno::ENOENT | Errno::ENOTDIR => BindErrorKind::ParentMissing,
        Errno::ENAMETOOLONG => BindErrorKind::PathTooLong,
        Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM => {
            BindErrorKind::ResourceExhausted
        }
        _ => BindErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(file: Option<(u32, u32)>, dir_mode: u32) -> Facts {
        Facts {
            euid: 65534,
            file,
            dir: Some((0, dir_mode)),
            fs: None,
        }
    }

    #[test]
    fn sticky_eperm_names_owner_us_and_fix() {
        let f = facts(Some((0, 0o755)), 0o1777);
        let e = BindError::explained(
            Op::RemoveStale,
            Path::new("/tmp/ergo_websocket"),
            Errno::EPERM,
            &f,
        );
        assert_eq!(e.kind(), BindErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "cannot remove stale socket /tmp/ergo_websocket: it is owned by uid 0, we run as \
             uid 65534, and /tmp is sticky, so only the owner may remove it (EPERM); remove it \
             as uid 0, or bind under a directory this service owns, such as $XDG_RUNTIME_DIR \
             or a systemd RuntimeDirectory="
        );
    }

    #[test]
    fn io_kinds_are_precise() {
        let f = facts(None, 0o755);
        let cases = [
            (Errno::EADDRINUSE, io::ErrorKind::AddrInUse),
            (Errno::EACCES, io::ErrorKind::PermissionDenied),
            (Errno::ENOENT, io::ErrorKind::NotFound),
            (Errno::ENAMETOOLONG, io::ErrorKind::InvalidInput),
        ];
        for (errno, kind) in cases {
            let e = BindError::explained(Op::Bind, Path::new("/x"), errno, &f);
            let msg = e.to_string();
            let io: io::Error = e.into();
            assert_eq!(io.kind(), kind, "{errno}");
            assert_eq!(io.to_string(), msg);
        }
        let io: io::Error =
            BindError::explained(Op::Bind, Path::new("/x"), Errno::EMFILE, &f).into();
        assert_eq!(io.raw_os_error(), None, "the message is kept, wrapped");
        let inner = io.get_ref().unwrap();
        assert!(inner.source().is_none(), "named once, in the sentence");
        assert!(io.to_string().contains("EMFILE"), "{io}");
    }
}
