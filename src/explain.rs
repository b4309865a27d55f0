//! The sentences of [`BindError`]: one constructor for each failure, the
//! explanation of an OS error (for EACCES and EPERM, who owns what, as
//! seen through the directory that was opened), the one conversion of an
//! [`io::Error`] ([`BindError::from_io`]), and the reasons other modules
//! report as private enums ([`Race`], [`Missing`], [`StrictModes`],
//! [`Activation`], [`Unusable`]), worded here. Every sentence a user can
//! read is composed in this file, so the wording of all failures can be
//! reviewed in one place. The type itself, and its table of OS errors, are
//! in `error.rs`.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockType};
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
        let e = Self::new(BindErrorKind::of_errno(errno), Op::Bind, shown).caused_by(errno);
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

    pub(crate) fn parent_missing(path: &Path, dir: &Path, why: Missing) -> Self {
        Self::at(BindErrorKind::ParentMissing, Op::Bind, path)
            .why(format_args!("directory {} {why}", shown(dir)))
            .fix_with(
                "create the directory first (for a systemd service, RuntimeDirectory=), \
                 or use Builder::create_parents",
            )
            .caused_by(Errno::ENOENT)
    }

    /// `step`, a directory or link on the way to `path` (a directory
    /// reached through the link `via`), could be changed by another user,
    /// as `why` says.
    pub(crate) fn insecure_parent(
        path: &Path,
        step: &Path,
        via: Option<&Path>,
        why: StrictModes,
    ) -> Self {
        let what = match why {
            StrictModes::LinkNotOurs { .. } | StrictModes::LinkInStickyDir { .. } => {
                "the symbolic link"
            }
            _ => "directory",
        };
        let reached = match via {
            Some(via) => format!(" (reached through the link at {})", shown(via)),
            None => String::new(),
        };
        Self::at(BindErrorKind::InsecureParent, Op::Bind, path)
            .why(format_args!("{what} {}{reached} {why}", shown(step)))
            .fix_with(format_args!(
                "{OWN_DIR_FIX}, or make {} owned by root or us and not writable by others",
                shown(step)
            ))
    }

    /// A StrictModes refusal met by `clean_stale`, which then never
    /// looked at what is at the path: it says so, and how to trust them.
    pub(crate) fn refused_clean(mut self) -> Self {
        self.0.operation = Op::Clean;
        self.0.why = format!("nothing there was probed or touched: {}", self.0.why);
        self.fix_with(
            "leave it to the server that binds there, or, having decided to trust the \
             directories above it, sul clean --trust-parents (Parents::Trust)",
        )
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
        let kind = errno.map_or(BindErrorKind::PathTooLong, BindErrorKind::of_errno);
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
    pub(crate) fn raced(operation: Op, path: &Path, what: Race) -> Self {
        Self::at(BindErrorKind::InUse, operation, path)
            .why(format_args!("{what}, so it is left alone"))
            .fix_with("find out which other program uses this path, or choose another path")
            .caused_by(Errno::EBUSY)
    }

    pub(crate) fn activation(why: Activation) -> Self {
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

    /// `fchownat` of the new socket refused (EPERM): say which change was
    /// asked for, what it needs, and what grants it, from what the kernel
    /// grants us (`CAP_CHOWN`, our groups). A change we are allowed,
    /// refused anyway, is a system-call filter.
    pub(crate) fn chown_refused(
        path: &Path,
        errno: Errno,
        owner: Option<u32>,
        group: Option<u32>,
        dir: BorrowedFd<'_>,
    ) -> Self {
        use nix::unistd::{Gid, Group, geteuid};
        let us = geteuid().as_raw();
        let new_owner = owner.filter(|&uid| uid != us);
        if errno != Errno::EPERM {
            return Self::os_at(Op::ChangeOwner, path, errno, dir, None);
        }
        let e = Self::at(BindErrorKind::PermissionDenied, Op::ChangeOwner, path).caused_by(errno);
        let chown = sys::Caps::now().has(sys::Cap::Chown);
        let (change, allowed, missing, grant) = match (new_owner, group) {
            (Some(uid), _) => (
                format!("making uid {uid} its owner"),
                chown,
                format!("it needs CAP_CHOWN, and we run as uid {us} without it"),
                "grant CAP_CHOWN (systemd AmbientCapabilities=CAP_CHOWN, docker --cap-add \
                 CHOWN), or leave the owner alone and grant access with Builder::group and \
                 Builder::mode"
                    .to_owned(),
            ),
            (None, Some(gid)) => {
                let name = Group::from_gid(Gid::from_raw(gid))
                    .ok()
                    .flatten()
                    .map(|g| g.name);
                let named = match &name {
                    Some(name) => format!("group {gid} ({name})"),
                    None => format!("group {gid}"),
                };
                let member = sys::in_group(gid);
                let join = name.unwrap_or_else(|| gid.to_string());
                (
                    format!("giving it {named}"),
                    member || chown,
                    format!(
                        "it needs membership of that group or CAP_CHOWN, and we run as uid {us}, \
                         which is not a member and holds no CAP_CHOWN"
                    ),
                    format!(
                        "add this service's user to the group (systemd \
                         SupplementaryGroups={join}, docker --group-add {gid}), or grant \
                         CAP_CHOWN (AmbientCapabilities=CAP_CHOWN, docker --cap-add CHOWN)"
                    ),
                )
            }
            (None, None) => return Self::os_at(Op::ChangeOwner, path, errno, dir, None),
        };
        if allowed {
            e.why(format_args!(
                "{change} is allowed to uid {us}, yet it was refused, so a system-call filter \
                 refused fchownat (systemd SystemCallFilter=~@privileged or ~@chown, or a \
                 container's seccomp profile) (EPERM)"
            ))
            .fix_with("allow fchownat in that filter, or leave the owner and group alone")
        } else {
            e.why(format_args!("{change}: {missing} (EPERM)"))
                .fix_with(grant)
        }
    }

    /// The filesystem gid `gid` could not be taken for a bind at `path`
    /// (the group's only route: no `CAP_CHOWN`, not a member, and
    /// `CAP_SETGID` held): `setfsgid` refused by a system-call filter.
    pub(crate) fn fsgid_refused(path: &Path, gid: u32, errno: Errno) -> Self {
        let us = nix::unistd::geteuid().as_raw();
        Self::at(BindErrorKind::PermissionDenied, Op::ChangeOwner, path)
            .caused_by(errno)
            .why(format_args!(
                "giving it group {gid} takes switching the filesystem gid, since we run as uid \
                 {us} without CAP_CHOWN and outside that group; CAP_SETGID allows it, yet \
                 setfsgid was refused, so a system-call filter refused it (systemd \
                 SystemCallFilter=~@privileged or ~setfsgid, or a container's seccomp profile) \
                 ({errno})"
            ))
            .fix_with(format_args!(
                "allow setfsgid in that filter, grant CAP_CHOWN (AmbientCapabilities=CAP_CHOWN, \
                 docker --cap-add CHOWN), or add this service's user to group {gid} (systemd \
                 SupplementaryGroups=, docker --group-add {gid})"
            ))
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

    /// A failed `operation` on `path` reported as an `io::Error`, through
    /// [`from_io`](Self::from_io): an OS error as [`os`](Self::os).
    pub(crate) fn io(operation: Op, path: &Path, e: io::Error) -> Self {
        Self::from_io(e, |errno| Self::os(operation, path, errno))
    }

    /// The one conversion of an [`io::Error`] (from Tokio's registration,
    /// or from the standard library) into a `BindError`.
    ///
    /// An OS error has a number, and `os` explains it: the sentence names
    /// it. Any other error (Tokio's own: its runtime is shutting down,
    /// say) is kept whole. The error `os` builds gives the operation and
    /// what it was done to; the sentence says who refused, the error
    /// itself is the `source()`, and converting into `io::Error` hands it
    /// back unchanged, so that Tokio's checks recognise it.
    pub(crate) fn from_io(e: io::Error, os: impl FnOnce(Errno) -> Self) -> Self {
        if let Some(code) = e.raw_os_error() {
            return os(Errno::from_raw(code));
        }
        let mut err = os(Errno::UnknownErrno);
        let why = match err.0.operation {
            Op::Register | Op::UseActivation => "Tokio refused it",
            _ => "it failed, with no OS error number",
        };
        err.0.kind = BindErrorKind::Other;
        err.0.why = why.to_owned();
        err.0.fix = None;
        err.0.errno = None;
        err.0.cause = Some(e);
        err
    }

    fn explained(operation: Op, path: &Path, errno: Errno, facts: &Facts) -> Self {
        let e = Self::at(BindErrorKind::of_errno(errno), operation, path).caused_by(errno);
        if operation == Op::PassCredentials {
            // A socket option, not the file: no facts about the directory.
            return e.why(format_args!(
                "the kernel refused to attach each sender's credentials to its datagrams \
                 ({errno}), and without them no datagram's sender is known"
            ));
        }
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
            Errno::EAGAIN if operation == Op::Bind => e
                .why(
                    "the thread that gives the new file its mode and group could not be \
                     started: the process is at its task limit (EAGAIN)",
                )
                .fix_with(
                    "raise the limit (systemd LimitNPROC= or TasksMax=, docker --pids-limit), \
                     or bind under a directory only this service may write, where no thread \
                     is needed",
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

    // ---- access beyond the mode (crate::access) -------------------------

    /// A default ACL on the directory of `path` gave the new socket an
    /// access ACL, which is still there after it was removed.
    pub(crate) fn default_acl_grants(path: &Path) -> Self {
        let dir = parent_dir(path);
        Self::at(BindErrorKind::PermissionDenied, Op::SetMode, path)
            .why(format_args!(
                "a default ACL on directory {} would grant other users access to the socket \
                 beyond its mode, and the access ACL it gave the socket was still there after \
                 it was removed",
                shown(dir)
            ))
            .fix_with(format_args!(
                "remove the default ACL (setfacl -k {}), or {OWN_DIR_FIX}",
                shown(dir)
            ))
            .caused_by(Errno::EPERM)
    }

    /// The access ACL a default ACL on the directory of `path` gave the new
    /// socket could not be removed (`errno`).
    pub(crate) fn acl_not_removed(path: &Path, errno: Errno) -> Self {
        let dir = parent_dir(path);
        Self::at(BindErrorKind::of_errno(errno), Op::SetMode, path)
            .why(format_args!(
                "could not remove the access ACL the default ACL on directory {} gave the \
                 socket, which would grant other users access beyond its mode ({errno})",
                shown(dir)
            ))
            .fix_with(format_args!(
                "remove the default ACL (setfacl -k {}), or {OWN_DIR_FIX}",
                shown(dir)
            ))
            .caused_by(errno)
    }

    /// The new socket at `path` inherited the group of its setgid
    /// directory, and could not be given ours, `gid` (`errno`).
    pub(crate) fn setgid_group(path: &Path, gid: u32, errno: Errno) -> Self {
        let dir = parent_dir(path);
        Self::at(BindErrorKind::of_errno(errno), Op::ChangeOwner, path)
            .why(format_args!(
                "the socket inherited the group of directory {}, which is setgid, instead of \
                 ours (gid {gid}), and could not be given ours ({errno})",
                shown(dir)
            ))
            .fix_with(format_args!(
                "ask for the group with Builder::group (--group), remove the setgid bit \
                 (chmod g-s {}), or {OWN_DIR_FIX}",
                shown(dir)
            ))
            .caused_by(errno)
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

// ---- the reasons other modules report, worded ---------------------------

/// What another process changed under us ([`BindError::raced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Race {
    /// A file appeared at the path between our check and our bind.
    FilePutThere,
    /// The socket we bound was replaced before we could check it.
    SocketReplaced,
    /// The socket's directory was replaced during the bind.
    DirReplacedWhileBinding,
    /// The stale socket was replaced between its probe and its removal.
    ReplacedWhileChecked,
    /// The socket's directory was replaced during the probe.
    DirReplacedWhileProbed,
    /// What a takeover swapped into our private directory is gone.
    ReplacedVanished,
    /// The path changed on every try of a takeover.
    KeptChanging,
    /// Every private directory we made was replaced; the last error.
    PrivateDirsReplaced(Errno),
    /// A directory we were creating was replaced by something else.
    NotADirPutThere,
    /// A directory we created was replaced by one of another owner.
    NewDirReplaced {
        /// The owner of the directory found there.
        uid: u32,
    },
}

impl fmt::Display for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Race::FilePutThere => {
                f.write_str("another process put a file there while we were binding")
            }
            Race::SocketReplaced => {
                f.write_str("another process replaced the new socket while we were binding")
            }
            Race::DirReplacedWhileBinding => {
                f.write_str("the directory was replaced while binding")
            }
            Race::ReplacedWhileChecked => {
                f.write_str("another process replaced it while it was being checked")
            }
            Race::DirReplacedWhileProbed => {
                f.write_str("its directory was replaced while it was being probed")
            }
            Race::ReplacedVanished => {
                f.write_str("what we replaced vanished from our private directory")
            }
            Race::KeptChanging => f.write_str("it kept changing while we were taking it over"),
            Race::PrivateDirsReplaced(errno) => write!(
                f,
                "each new private directory was replaced before it could be used ({errno})"
            ),
            Race::NotADirPutThere => f.write_str("something that is not a directory was put there"),
            Race::NewDirReplaced { uid } => {
                write!(
                    f,
                    "the new directory was replaced by one owned by uid {uid}"
                )
            }
        }
    }
}

/// What is wrong with the directory that should hold the socket
/// ([`BindError::parent_missing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Nothing is there.
    Absent,
    /// Something other than a directory is there.
    NotADirectory,
    /// It is missing, and its path climbs through `..`.
    AbsentThroughDotDot,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Missing::Absent => "does not exist",
            Missing::NotADirectory => "is not a directory",
            Missing::AbsentThroughDotDot => {
                "does not exist, and directories are never created through `..`"
            }
        })
    }
}

/// Why a step on the way to the socket fails OpenSSH's StrictModes rule
/// ([`BindError::insecure_parent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrictModes {
    /// A directory owned by neither root nor us.
    NotOurs {
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        euid: u32,
    },
    /// A directory every user may write, and not sticky.
    WritableByAll {
        /// Its permission bits.
        mode: u32,
    },
    /// A directory its group may write, and not sticky.
    WritableByGroup {
        /// Its group.
        gid: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// A symbolic link owned by neither root nor us.
    LinkNotOurs {
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        euid: u32,
    },
    /// A symbolic link of another user in a sticky directory every user
    /// may write, which the kernel does not follow for us
    /// (`fs.protected_symlinks`): never followed, whatever `check_parent`.
    LinkInStickyDir {
        /// Its owner.
        owner: u32,
        /// The directory's owner.
        dir_owner: u32,
        /// Our effective uid.
        euid: u32,
    },
}

impl fmt::Display for StrictModes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StrictModes::NotOurs { owner, euid } => write!(
                f,
                "is owned by uid {owner}, and we run as uid {euid}: only root or we may own a \
                 directory above the socket"
            ),
            StrictModes::WritableByAll { mode } => write!(
                f,
                "is writable by every user and not sticky (mode {mode:04o}), so anyone could \
                 replace the socket"
            ),
            StrictModes::WritableByGroup { gid, mode } => write!(
                f,
                "is writable by its group (gid {gid}, mode {mode:04o}), so any member could \
                 replace the socket"
            ),
            StrictModes::LinkNotOurs { owner, euid } => write!(
                f,
                "is owned by uid {owner}, and we run as uid {euid}: its owner could re-point \
                 it, and only root or we may own a link on the way to the socket"
            ),
            StrictModes::LinkInStickyDir {
                owner,
                dir_owner,
                euid,
            } => write!(
                f,
                "is owned by uid {owner} and sits in a sticky directory every user may write, \
                 owned by uid {dir_owner}; the kernel does not follow such a link for another \
                 user (uid {euid} here; fs.protected_symlinks), and neither does the bind"
            ),
        }
    }
}

/// Why the sockets passed by the service manager cannot be used
/// ([`BindError::activation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Activation {
    /// `LISTEN_PID` holds this, which is not a number.
    PidNotANumber(String),
    /// `LISTEN_FDS` holds this, which is not a number.
    FdsNotANumber(String),
    /// `LISTEN_FDS` is larger than the descriptor table.
    TooManyFds {
        /// `LISTEN_FDS`.
        count: u32,
        /// `RLIMIT_NOFILE`.
        limit: u64,
    },
    /// A descriptor `LISTEN_FDS` counts is not open.
    FdNotOpen {
        /// `LISTEN_FDS`.
        count: u32,
        /// The descriptor.
        fd: RawFd,
    },
    /// None of the passed descriptors is of the kind asked for.
    NoneOfKind {
        /// How many were passed.
        count: usize,
        /// The kind asked for (`Kind::PASSED`).
        kind: &'static str,
    },
    /// More than one is, and no name was given.
    SeveralOfKind {
        /// The kind asked for (`Kind::PASSED`).
        kind: &'static str,
        /// Their names (`LISTEN_FDNAMES`), where they have one.
        names: Vec<Option<String>>,
    },
    /// The descriptor asked for is not of the kind asked for.
    Unusable {
        /// The descriptor.
        fd: RawFd,
        /// What it is instead.
        why: Unusable,
    },
    /// It could not be made non-blocking.
    NonBlocking {
        /// The descriptor.
        fd: RawFd,
        /// The error of `fcntl`.
        errno: Errno,
    },
    /// Tokio refused it with an OS error.
    Register(Errno),
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::PidNotANumber(pid) => write!(f, "LISTEN_PID={pid:?} is not a process id"),
            Activation::FdsNotANumber(fds) => write!(f, "LISTEN_FDS={fds:?} is not a number"),
            Activation::TooManyFds { count, limit } => write!(
                f,
                "LISTEN_FDS={count} is more descriptors than this process may have open \
                 (RLIMIT_NOFILE is {limit})"
            ),
            Activation::FdNotOpen { count, fd } => {
                write!(f, "LISTEN_FDS={count}, but descriptor {fd} is not open")
            }
            Activation::NoneOfKind { count, kind } => {
                write!(f, "{count} descriptor(s) were passed, but none is a {kind}")
            }
            Activation::SeveralOfKind { kind, names } => {
                write!(f, "{} of them are a {kind} (", names.len())?;
                for (i, name) in names.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", text(name.as_deref().unwrap_or("?")))?;
                }
                f.write_str("); pick one by its name (from_activation_named)")
            }
            Activation::Unusable { fd, why } => write!(f, "descriptor {fd} {why}"),
            Activation::NonBlocking { fd, errno } => write!(f, "descriptor {fd}: {errno}"),
            Activation::Register(errno) => write!(
                f,
                "cannot register it with Tokio: {}",
                io::Error::from_raw_os_error(*errno as i32)
            ),
        }
    }
}

/// What a descriptor is when it is not the socket asked for: a passed one,
/// or one handed to `from_std`. It reads after "descriptor 3" or "the
/// socket".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// `getsockname` failed.
    NotASocket(Errno),
    /// A TCP/IP socket.
    Inet,
    /// A socket of another family.
    NotUnix(Option<AddressFamily>),
    /// A Unix socket of another type.
    WrongType {
        /// Its type.
        found: SockType,
        /// The kind asked for (`Kind::PASSED`).
        wanted: &'static str,
    },
    /// Its type could not be read.
    NoType(Errno),
    /// A stream socket that does not listen.
    NotListening,
    /// Its address is not a Unix address.
    NoAddress,
    /// It is bound to no name.
    Unnamed,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unusable::NotASocket(errno) => write!(f, "is not a socket ({errno})"),
            Unusable::Inet => f.write_str("is a TCP/IP socket, not a Unix socket"),
            Unusable::NotUnix(family) => write!(f, "is not a Unix socket ({family:?})"),
            Unusable::WrongType { found, wanted } => match found {
                SockType::Stream => write!(f, "is a Unix stream socket, not a {wanted}"),
                SockType::Datagram => write!(f, "is a Unix datagram socket, not a {wanted}"),
                other => write!(f, "is a Unix {other:?} socket, not a {wanted}"),
            },
            Unusable::NoType(errno) => write!(f, "cannot be asked its type ({errno})"),
            Unusable::NotListening => f.write_str("is not listening"),
            Unusable::NoAddress => f.write_str("has no Unix address"),
            Unusable::Unnamed => f.write_str("is not bound to a name"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

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
        // The table on `BindErrorKind`, row by row.
        let own = |errno: Errno| io::Error::from(errno).kind();
        let cases = [
            (
                Errno::EADDRINUSE,
                BindErrorKind::InUse,
                io::ErrorKind::AddrInUse,
            ),
            (
                Errno::EACCES,
                BindErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
            (
                Errno::EPERM,
                BindErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
            (
                Errno::EROFS,
                BindErrorKind::PermissionDenied,
                io::ErrorKind::ReadOnlyFilesystem,
            ),
            (
                Errno::ENOENT,
                BindErrorKind::ParentMissing,
                io::ErrorKind::NotFound,
            ),
            (
                Errno::ENOTDIR,
                BindErrorKind::ParentMissing,
                io::ErrorKind::NotADirectory,
            ),
            (
                Errno::ENAMETOOLONG,
                BindErrorKind::PathTooLong,
                io::ErrorKind::InvalidInput,
            ),
            (
                Errno::EMFILE,
                BindErrorKind::ResourceExhausted,
                own(Errno::EMFILE),
            ),
            (
                Errno::ENFILE,
                BindErrorKind::ResourceExhausted,
                own(Errno::ENFILE),
            ),
            (
                Errno::ENOBUFS,
                BindErrorKind::ResourceExhausted,
                own(Errno::ENOBUFS),
            ),
            (
                Errno::ENOMEM,
                BindErrorKind::ResourceExhausted,
                io::ErrorKind::OutOfMemory,
            ),
            (
                Errno::ENOSPC,
                BindErrorKind::Other,
                io::ErrorKind::StorageFull,
            ),
            (
                Errno::EXDEV,
                BindErrorKind::Other,
                io::ErrorKind::CrossesDevices,
            ),
            (
                Errno::EINVAL,
                BindErrorKind::Other,
                io::ErrorKind::InvalidInput,
            ),
        ];
        for (errno, kind, io_kind) in cases {
            let e = BindError::explained(Op::Bind, Path::new("/x"), errno, &f);
            assert_eq!(e.kind(), kind, "{errno}");
            let msg = e.to_string();
            let io: io::Error = e.into();
            assert_eq!(io.kind(), io_kind, "{errno}");
            assert_eq!(io.to_string(), msg);
        }
        let io: io::Error =
            BindError::explained(Op::Bind, Path::new("/x"), Errno::EMFILE, &f).into();
        assert_eq!(io.raw_os_error(), None, "the message is kept, wrapped");
        let inner = io.get_ref().unwrap();
        assert!(inner.source().is_none(), "named once, in the sentence");
        assert!(io.to_string().contains("EMFILE"), "{io}");
    }

    /// The kinds of the failures this crate finds itself, whatever errno
    /// they carry for `raw_os_error`.
    #[test]
    fn found_failures_keep_their_io_kind() {
        let path = Path::new("/x");
        let cases = [
            (BindError::backlog_full(path), io::ErrorKind::AddrInUse),
            (
                BindError::raced(Op::Bind, path, Race::FilePutThere),
                io::ErrorKind::AddrInUse,
            ),
            (
                BindError::not_a_socket(path, "a regular file"),
                io::ErrorKind::AlreadyExists,
            ),
            (
                BindError::parent_missing(path, Path::new("/"), Missing::NotADirectory),
                io::ErrorKind::NotFound,
            ),
            (
                BindError::activation(Activation::FdsNotANumber("x".into())),
                io::ErrorKind::InvalidInput,
            ),
        ];
        for (e, kind) in cases {
            let msg = e.to_string();
            assert_eq!(io::Error::from(e).kind(), kind, "{msg}");
        }
    }

    /// Tokio's own error, with no OS error number, is kept whole: the
    /// source, and what the `io::Error` is; an OS error is explained.
    #[test]
    fn tokio_s_errors_pass_through() {
        let shutdown = "A Tokio 1.x context was found, but it is being shutdown.";
        let path = Path::new("/run/app.sock");
        let e = BindError::from_io(io::Error::other(shutdown), |errno| {
            BindError::os(Op::Register, path, errno)
        });
        assert_eq!(e.kind(), BindErrorKind::Other);
        assert_eq!(e.raw_os_error(), None);
        assert_eq!(
            e.to_string(),
            "cannot register with Tokio the socket at /run/app.sock: Tokio refused it"
        );
        assert_eq!(e.source().unwrap().to_string(), shutdown);
        let io = io::Error::from(e);
        assert!(tokio::runtime::is_rt_shutdown_err(&io), "{io:?}");
        assert_eq!(io.kind(), io::ErrorKind::Other);
        assert_eq!(io.get_ref().unwrap().to_string(), shutdown);

        let e = BindError::from_io(io::Error::other(shutdown), |errno| {
            BindError::activation(Activation::Register(errno))
        });
        assert_eq!(
            e.to_string(),
            "cannot use the socket passed by the service manager: Tokio refused it"
        );
        assert!(tokio::runtime::is_rt_shutdown_err(&e.into()));

        let e = BindError::from_io(io::Error::from_raw_os_error(Errno::EBADF as i32), |errno| {
            BindError::activation(Activation::Register(errno))
        });
        assert!(e.source().is_none(), "named once, in the sentence");
        assert_eq!(e.raw_os_error(), None, "the activation error names it");
        assert_eq!(
            e.to_string(),
            "cannot use the socket passed by the service manager: cannot register it with \
             Tokio: Bad file descriptor (os error 9); check the .socket unit \
             (ListenStream=, FileDescriptorName=) or the LISTEN_* variables"
        );
        let e = BindError::io(
            Op::Lock,
            path,
            io::Error::from_raw_os_error(Errno::EBADF as i32),
        );
        assert_eq!(e.raw_os_error(), Some(Errno::EBADF as i32));
        assert!(e.source().is_none());
    }

    /// Every reason other modules report, word for word as the tests and
    /// users have read them.
    #[test]
    fn catalogue_words() {
        let path = Path::new("/run/app.sock");
        let races = [
            (
                Race::FilePutThere,
                "another process put a file there while we were binding",
            ),
            (
                Race::SocketReplaced,
                "another process replaced the new socket while we were binding",
            ),
            (
                Race::DirReplacedWhileBinding,
                "the directory was replaced while binding",
            ),
            (
                Race::ReplacedWhileChecked,
                "another process replaced it while it was being checked",
            ),
            (
                Race::DirReplacedWhileProbed,
                "its directory was replaced while it was being probed",
            ),
            (
                Race::ReplacedVanished,
                "what we replaced vanished from our private directory",
            ),
            (
                Race::KeptChanging,
                "it kept changing while we were taking it over",
            ),
            (
                Race::PrivateDirsReplaced(Errno::EEXIST),
                "each new private directory was replaced before it could be used (EEXIST: File exists)",
            ),
            (
                Race::NotADirPutThere,
                "something that is not a directory was put there",
            ),
            (
                Race::NewDirReplaced { uid: 65534 },
                "the new directory was replaced by one owned by uid 65534",
            ),
        ];
        for (race, words) in races {
            assert_eq!(
                BindError::raced(Op::Bind, path, race).to_string(),
                format!(
                    "cannot bind /run/app.sock: {words}, so it is left alone; find out which \
                     other program uses this path, or choose another path"
                )
            );
        }

        let missing = [
            (Missing::Absent, "does not exist"),
            (Missing::NotADirectory, "is not a directory"),
            (
                Missing::AbsentThroughDotDot,
                "does not exist, and directories are never created through `..`",
            ),
        ];
        for (why, words) in missing {
            let e = BindError::parent_missing(path, Path::new("/run"), why);
            assert!(
                e.to_string().starts_with(&format!(
                    "cannot bind /run/app.sock: directory /run {words}; create"
                )),
                "{e}"
            );
        }

        let fix = "; bind under a directory this service owns, such as $XDG_RUNTIME_DIR or a \
                   systemd RuntimeDirectory=, or make";
        let strict = [
            (
                Path::new("/srv"),
                None,
                StrictModes::NotOurs {
                    owner: 1000,
                    euid: 0,
                },
                "directory /srv is owned by uid 1000, and we run as uid 0: only root or we may \
                 own a directory above the socket",
            ),
            (
                Path::new("/srv"),
                Some(Path::new("/run/l\x1b")),
                StrictModes::WritableByAll { mode: 0o777 },
                "directory /srv (reached through the link at /run/l\\e) is writable by every \
                 user and not sticky (mode 0777), so anyone could replace the socket",
            ),
            (
                Path::new("/srv"),
                None,
                StrictModes::WritableByGroup {
                    gid: 10,
                    mode: 0o775,
                },
                "directory /srv is writable by its group (gid 10, mode 0775), so any member \
                 could replace the socket",
            ),
            (
                Path::new("/run/l"),
                None,
                StrictModes::LinkNotOurs {
                    owner: 1000,
                    euid: 0,
                },
                "the symbolic link /run/l is owned by uid 1000, and we run as uid 0: its owner \
                 could re-point it, and only root or we may own a link on the way to the socket",
            ),
            (
                Path::new("/tmp/d"),
                None,
                StrictModes::LinkInStickyDir {
                    owner: 65534,
                    dir_owner: 0,
                    euid: 0,
                },
                "the symbolic link /tmp/d is owned by uid 65534 and sits in a sticky directory \
                 every user may write, owned by uid 0; the kernel does not follow such a link \
                 for another user (uid 0 here; fs.protected_symlinks), and neither does the bind",
            ),
        ];
        for (step, via, why, words) in strict {
            let e = BindError::insecure_parent(path, step, via, why);
            assert!(
                e.to_string()
                    .starts_with(&format!("cannot bind /run/app.sock: {words}{fix}")),
                "{e}"
            );
        }

        let activation = [
            (
                Activation::PidNotANumber("x".into()),
                r#"LISTEN_PID="x" is not a process id"#,
            ),
            (
                Activation::FdsNotANumber("x".into()),
                r#"LISTEN_FDS="x" is not a number"#,
            ),
            (
                Activation::TooManyFds {
                    count: 9000,
                    limit: 1024,
                },
                "LISTEN_FDS=9000 is more descriptors than this process may have open \
                 (RLIMIT_NOFILE is 1024)",
            ),
            (
                Activation::FdNotOpen { count: 2, fd: 4 },
                "LISTEN_FDS=2, but descriptor 4 is not open",
            ),
            (
                Activation::NoneOfKind {
                    count: 2,
                    kind: "Unix datagram socket",
                },
                "2 descriptor(s) were passed, but none is a Unix datagram socket",
            ),
            (
                Activation::SeveralOfKind {
                    kind: "listening Unix stream socket",
                    names: vec![Some("a".into()), None, Some("b\x1b".into())],
                },
                "3 of them are a listening Unix stream socket (a, ?, b\\e); pick one by its \
                 name (from_activation_named)",
            ),
            (
                Activation::Unusable {
                    fd: 3,
                    why: Unusable::Inet,
                },
                "descriptor 3 is a TCP/IP socket, not a Unix socket",
            ),
            (
                Activation::NonBlocking {
                    fd: 3,
                    errno: Errno::EBADF,
                },
                "descriptor 3: EBADF: Bad file number",
            ),
        ];
        for (why, words) in activation {
            assert_eq!(
                BindError::activation(why).to_string(),
                format!(
                    "cannot use the socket passed by the service manager: {words}; check the \
                     .socket unit (ListenStream=, FileDescriptorName=) or the LISTEN_* variables"
                )
            );
        }

        let wanted = "listening Unix stream socket";
        let unusable = [
            (
                Unusable::NotASocket(Errno::ENOTSOCK),
                "is not a socket (ENOTSOCK: Socket operation on non-socket)",
            ),
            (Unusable::Inet, "is a TCP/IP socket, not a Unix socket"),
            (
                Unusable::NotUnix(Some(AddressFamily::Netlink)),
                "is not a Unix socket (Some(Netlink))",
            ),
            (
                Unusable::WrongType {
                    found: SockType::Stream,
                    wanted: "Unix datagram socket",
                },
                "is a Unix stream socket, not a Unix datagram socket",
            ),
            (
                Unusable::WrongType {
                    found: SockType::Datagram,
                    wanted,
                },
                "is a Unix datagram socket, not a listening Unix stream socket",
            ),
            (
                Unusable::WrongType {
                    found: SockType::SeqPacket,
                    wanted,
                },
                "is a Unix SeqPacket socket, not a listening Unix stream socket",
            ),
            (
                Unusable::NoType(Errno::EBADF),
                "cannot be asked its type (EBADF: Bad file number)",
            ),
            (Unusable::NotListening, "is not listening"),
            (Unusable::NoAddress, "has no Unix address"),
            (Unusable::Unnamed, "is not bound to a name"),
        ];
        for (why, words) in unusable {
            assert_eq!(why.to_string(), words);
        }
    }
}
