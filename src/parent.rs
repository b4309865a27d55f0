//! The directory that holds the socket: resolved once, one component at a
//! time ([`open_dir`]), with OpenSSH's StrictModes rule applied to every
//! step of the resolution, and created without ever following a link
//! ([`create_missing`]).
//!
//! Every later step of a bind, `clean_stale` and `inspect` goes through the
//! descriptor [`open_dir`] returns, so the directory that was checked is the
//! directory that is used.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::geteuid;

use crate::error::{BindError, Op};
use crate::explain::{Missing, Race, StrictModes};
use crate::stat::{self, file_type};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOFOLLOW);

/// How many symbolic links one resolution may follow (Linux's limit).
const MAX_LINKS: usize = 40;

/// The socket's directory, opened.
#[derive(Debug)]
pub(crate) struct Dir {
    /// The directory, for the `*at` calls.
    pub(crate) fd: OwnedFd,
    /// The first step of the resolution, nearest the socket, that another
    /// user could change (StrictModes): what `check_parent` refuses.
    pub(crate) unsafe_step: Option<BindError>,
    /// Whether nobody but us (and root) can replace a name we create in the
    /// directory itself: it is ours and writable by neither its group nor
    /// others, or it is sticky and owned by root or us (like `/tmp`).
    pub(crate) only_ours: bool,
    /// Whether another user could make the directory's path lead elsewhere:
    /// a step before the directory itself, or a link on the way, fails
    /// StrictModes, or the directory is another user's, who may rename it.
    /// When not, a bind by the path goes where the descriptor is, and the
    /// kernel names the socket by that path.
    pub(crate) redirectable: bool,
}

impl Dir {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Opens `dir`, the directory of the socket `path`, resolving it one
/// component at a time without letting the kernel follow any link: each
/// link is read and followed here, so that its owner can be checked, and
/// each directory passed through is checked by the StrictModes rule
/// (owned by root or us, not writable by group or others unless sticky).
/// A relative `dir` starts from the working directory, whose own ancestors
/// are checked too.
pub(crate) fn open_dir(path: &Path, dir: &Path) -> Result<Dir, BindError> {
    let mut walk = Walk {
        path,
        dir,
        euid: geteuid().as_raw(),
        unsafe_step: None,
        last_unsafe: false,
        redirectable: false,
    };
    let (mut fd, mut at) = if dir.is_absolute() {
        walk.open_root()?
    } else {
        walk.open_cwd()?
    };
    let mut todo: VecDeque<OsString> = components(dir);
    let mut links = 0;
    let mut via: Option<PathBuf> = None;
    while let Some(part) = todo.pop_front() {
        if part == "." || part.is_empty() {
            continue;
        }
        if part == ".." {
            fd = openat(&fd, "..", DIR_FLAGS, Mode::empty())
                .map_err(|e| walk.lookup_error(e, &at, fd.as_fd(), &part))?;
            at.pop();
            walk.check_dir(&fd, &at, via.as_deref())?;
            continue;
        }
        match openat(&fd, part.as_os_str(), DIR_FLAGS, Mode::empty()) {
            Ok(next) => {
                at.push(&part);
                walk.check_dir(&next, &at, via.as_deref())?;
                fd = next;
                continue;
            }
            Err(errno @ (Errno::ENOENT | Errno::EACCES | Errno::EPERM)) => {
                return Err(walk.lookup_error(errno, &at, fd.as_fd(), &part));
            }
            // A link (ELOOP; EMLINK on FreeBSD, EFTYPE on NetBSD), or not a
            // directory: look at what it is.
            Err(_) => {}
        }
        let st = fstatat(&fd, part.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| walk.lookup_error(e, &at, fd.as_fd(), &part))?;
        if file_type(&st) != SFlag::S_IFLNK {
            return Err(BindError::parent_missing(path, dir, Missing::NotADirectory));
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(walk.lookup_error(Errno::ELOOP, &at, fd.as_fd(), &part));
        }
        let link = at.join(&part);
        walk.refuse_protected_link(&st, fd.as_fd(), &link)?;
        walk.check_link(&st, &link);
        let target = readlinkat(&fd, part.as_os_str())
            .map_err(|e| walk.lookup_error(e, &at, fd.as_fd(), &part))?;
        let target = PathBuf::from(target);
        for part in components(&target).into_iter().rev() {
            todo.push_front(part);
        }
        if target.is_absolute() {
            (fd, at) = walk.open_root()?;
        }
        via = Some(link);
    }
    let st = fstat(&fd).map_err(|e| BindError::os(Op::LookUpDir, dir, e))?;
    // Nobody else may create there, or (sticky, and owned by root or us,
    // like /tmp) nobody else may rename or remove what we create.
    let sticky = st.st_mode & 0o1000 != 0;
    let only_ours = (st.st_uid == walk.euid && st.st_mode & 0o022 == 0)
        || (sticky && (st.st_uid == walk.euid || st.st_uid == 0));
    // The directory's own owner may rename it, where its parent lets it (a
    // sticky `/tmp` does), and put another directory, or a link, in its
    // place: its path then leads elsewhere.
    let another_owner = st.st_uid != 0 && st.st_uid != walk.euid;
    Ok(Dir {
        fd,
        unsafe_step: walk.unsafe_step,
        only_ours,
        redirectable: walk.redirectable || another_owner,
    })
}

/// The names in `p`, in order; the root is left out.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// One resolution of the socket's directory.
struct Walk<'a> {
    path: &'a Path,
    dir: &'a Path,
    euid: u32,
    unsafe_step: Option<BindError>,
    /// Whether the directory judged last failed StrictModes: once another
    /// one follows it, it was on the way.
    last_unsafe: bool,
    redirectable: bool,
}

impl Walk<'_> {
    fn open_root(&mut self) -> Result<(OwnedFd, PathBuf), BindError> {
        let root = PathBuf::from("/");
        let fd = open("/", DIR_FLAGS, Mode::empty())
            .map_err(|e| BindError::os(Op::LookUpDir, &root, e))?;
        self.check_dir(&fd, &root, None)?;
        Ok((fd, root))
    }

    /// The working directory, and every directory above it.
    fn open_cwd(&mut self) -> Result<(OwnedFd, PathBuf), BindError> {
        let cwd =
            std::env::current_dir().map_err(|e| BindError::io(Op::LookUpDir, Path::new("."), e))?;
        let fd = open(".", DIR_FLAGS, Mode::empty())
            .map_err(|e| BindError::os(Op::LookUpDir, &cwd, e))?;
        let mut up = fd
            .try_clone()
            .map_err(|e| BindError::io(Op::LookUpDir, &cwd, e))?;
        let mut shown = cwd.clone();
        let mut checked = vec![];
        loop {
            let st = fstat(&up).map_err(|e| BindError::os(Op::LookUpDir, &shown, e))?;
            checked.push((st, shown.clone()));
            let parent = openat(&up, "..", DIR_FLAGS, Mode::empty())
                .map_err(|e| BindError::os(Op::LookUpDir, &shown, e))?;
            let pst = fstat(&parent).map_err(|e| BindError::os(Op::LookUpDir, &shown, e))?;
            if stat::same_inode(&pst, &st) {
                break;
            }
            up = parent;
            shown.pop();
        }
        // From `/` down, so that the one nearest the socket is kept.
        for (st, shown) in checked.iter().rev() {
            self.judge(st, shown, None);
        }
        Ok((fd, cwd))
    }

    fn check_dir(&mut self, fd: &OwnedFd, at: &Path, via: Option<&Path>) -> Result<(), BindError> {
        let st = fstat(fd).map_err(|e| BindError::os(Op::LookUpDir, at, e))?;
        self.judge(&st, at, via);
        Ok(())
    }

    /// StrictModes for one directory `d`; `via` is the link that led to it.
    fn judge(&mut self, st: &FileStat, d: &Path, via: Option<&Path>) {
        self.redirectable |= std::mem::take(&mut self.last_unsafe);
        let (owner, mode) = (st.st_uid, stat::permissions(st));
        let euid = self.euid;
        let why = if owner != 0 && owner != euid {
            StrictModes::NotOurs { owner, euid }
        } else if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            StrictModes::WritableByAll { mode }
        } else if mode & 0o020 != 0 && mode & 0o1000 == 0 {
            StrictModes::WritableByGroup {
                gid: st.st_gid,
                mode,
            }
        } else {
            return;
        };
        self.last_unsafe = true;
        self.unsafe_step = Some(BindError::insecure_parent(self.path, d, via, why));
    }

    /// A link of another user in a sticky directory every user may write
    /// (in `dir`): the kernel does not follow it for us
    /// (`fs.protected_symlinks`, on in most distributions), and the bind,
    /// which follows links itself, does not either.
    fn refuse_protected_link(
        &self,
        st: &FileStat,
        dir: BorrowedFd<'_>,
        link: &Path,
    ) -> Result<(), BindError> {
        let dir = fstat(dir).map_err(|e| BindError::os(Op::LookUpDir, link, e))?;
        let shared_sticky = dir.st_mode & 0o1002 == 0o1002;
        if shared_sticky && st.st_uid != self.euid && st.st_uid != dir.st_uid {
            let why = StrictModes::LinkInStickyDir {
                owner: st.st_uid,
                dir_owner: dir.st_uid,
                euid: self.euid,
            };
            return Err(BindError::insecure_parent(self.path, link, None, why));
        }
        Ok(())
    }

    /// A link on the way: its owner could re-point it.
    fn check_link(&mut self, st: &FileStat, link: &Path) {
        let (owner, euid) = (st.st_uid, self.euid);
        if owner != 0 && owner != euid {
            self.redirectable = true;
            let why = StrictModes::LinkNotOurs { owner, euid };
            self.unsafe_step = Some(BindError::insecure_parent(self.path, link, None, why));
        }
    }

    /// `part` in the directory `at` (open as `fd`) could not be looked up.
    fn lookup_error(&self, errno: Errno, at: &Path, fd: BorrowedFd<'_>, part: &OsStr) -> BindError {
        match errno {
            Errno::ENOENT => BindError::parent_missing(self.path, self.dir, Missing::Absent),
            Errno::ENOTDIR => {
                BindError::parent_missing(self.path, self.dir, Missing::NotADirectory)
            }
            errno => BindError::os_at(Op::LookUpDir, &at.join(part), errno, fd, None),
        }
    }
}

/// Creates `dir` and its missing ancestors, each with exactly `mode`.
///
/// Each new directory is made with `mkdirat` in its parent's descriptor,
/// opened without following a link, checked to be ours, and given its mode
/// with `fchmod`: a directory or link swapped in by another user is never
/// changed.
pub(crate) fn create_missing(path: &Path, dir: &Path, mode: u32) -> Result<(), BindError> {
    let existing = dir
        .ancestors()
        .find(|d| d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok())
        .unwrap_or(Path::new(""));
    if existing == dir {
        return Ok(());
    }
    let base = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut fd = open(base, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::ENOENT | Errno::ENOTDIR => BindError::parent_missing(path, base, Missing::Absent),
        errno => BindError::os(Op::LookUpDir, base, errno),
    })?;
    let mut made = base.to_path_buf();
    let missing = dir.strip_prefix(existing).unwrap_or(dir);
    for part in missing.components() {
        let name = match part {
            Component::Normal(name) => name,
            Component::CurDir => continue,
            _ => {
                return Err(BindError::parent_missing(
                    path,
                    dir,
                    Missing::AbsentThroughDotDot,
                ));
            }
        };
        made.push(name);
        fd = make_one(&fd, name, &made, mode)?;
    }
    Ok(())
}

/// One directory of [`create_missing`]; returns its descriptor.
fn make_one(parent: &OwnedFd, name: &OsStr, path: &Path, mode: u32) -> Result<OwnedFd, BindError> {
    let created = match mkdirat(parent, name, stat::mode(mode)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false, // made by someone else meanwhile
        Err(errno) => {
            return Err(BindError::os_at(
                Op::CreateDir,
                path,
                errno,
                parent.as_fd(),
                None,
            ));
        }
    };
    let fd = openat(parent, name, DIR_FLAGS, Mode::empty()).map_err(|errno| match errno {
        Errno::ELOOP | Errno::ENOTDIR => {
            BindError::raced(Op::CreateDir, path, Race::NotADirPutThere)
        }
        errno => BindError::os(Op::CreateDir, path, errno),
    })?;
    if created {
        let st = fstat(&fd).map_err(|errno| BindError::os(Op::CreateDir, path, errno))?;
        if st.st_uid != geteuid().as_raw() {
            return Err(BindError::raced(
                Op::CreateDir,
                path,
                Race::NewDirReplaced { uid: st.st_uid },
            ));
        }
        fchmod(&fd, stat::mode(mode)).map_err(|errno| BindError::os(Op::CreateDir, path, errno))?;
        tracing::info!(dir = %crate::escape::shown(path), mode = format_args!("{mode:04o}"), "created directory");
    }
    Ok(fd)
}
