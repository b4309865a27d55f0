//! The directory that holds the socket: opened once, created without ever
//! following a link ([`create_missing`]), and checked by OpenSSH's
//! StrictModes rule ([`check_chain`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, fchmod, fstat, mkdirat};
use nix::unistd::geteuid;

use crate::error::{BindError, Op, errno_of};
use crate::stat;

/// Opens `dir`, the directory of the socket `path`, for the `*at` calls.
pub(crate) fn open_dir(path: &Path, dir: &Path) -> Result<OwnedFd, BindError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    open(dir, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::ENOENT => BindError::parent_missing(path, dir, "does not exist"),
        Errno::ENOTDIR => BindError::parent_missing(path, dir, "is not a directory"),
        errno => BindError::os(Op::LookUpDir, dir, errno),
    })
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
        .find(|d| d.as_os_str().is_empty() || fs::symlink_metadata(d).is_ok())
        .unwrap_or(Path::new(""));
    if existing == dir {
        return Ok(());
    }
    let base = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    let mut fd = open_dir(path, base)?;
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
                    "does not exist, and directories are never created through `..`",
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
        Err(errno) => return Err(BindError::os(Op::CreateDir, path, errno)),
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(parent, name, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::ELOOP | Errno::ENOTDIR => BindError::raced(
            Op::CreateDir,
            path,
            "something that is not a directory was put there",
        ),
        errno => BindError::os(Op::CreateDir, path, errno),
    })?;
    if created {
        let st = fstat(&fd).map_err(|errno| BindError::os(Op::CreateDir, path, errno))?;
        if st.st_uid != geteuid().as_raw() {
            return Err(BindError::raced(
                Op::CreateDir,
                path,
                &format!(
                    "the new directory was replaced by one owned by uid {}",
                    st.st_uid
                ),
            ));
        }
        fchmod(&fd, stat::mode(mode)).map_err(|errno| BindError::os(Op::CreateDir, path, errno))?;
        tracing::info!(dir = %path.display(), mode = format_args!("{mode:04o}"), "created directory");
    }
    Ok(fd)
}

/// OpenSSH's StrictModes rule (`safe_path`): every directory that resolving
/// the socket's directory passes through, up to `/`, must be owned by root
/// or by us, and must not be writable by group or others unless it is
/// sticky. Symbolic links are resolved, and the directories that hold them
/// are checked too. The first failing directory, nearest the socket first,
/// is named.
pub(crate) fn check_chain(path: &Path, dir: &Path) -> Result<(), BindError> {
    let lookup = |d: &Path, e: std::io::Error| BindError::os(Op::LookUpDir, d, errno_of(&e));
    let absolute = std::path::absolute(dir).map_err(|e| lookup(dir, e))?;
    let euid = geteuid().as_raw();
    let mut seen = HashSet::new();
    // The resolved directory first, then what each prefix of the path
    // resolves to: between them, every directory a lookup passes through.
    let prefixes: Vec<&Path> = absolute.ancestors().collect();
    for prefix in prefixes {
        let real = fs::canonicalize(prefix).map_err(|e| lookup(prefix, e))?;
        let via = (real != prefix).then_some(prefix);
        for d in real.ancestors() {
            if seen.insert(d.to_path_buf()) {
                check_one(path, d, via, euid)?;
            }
        }
    }
    Ok(())
}

/// One directory of [`check_chain`]; `via` is the path with a symbolic
/// link that led to it, if any.
fn check_one(path: &Path, d: &Path, via: Option<&Path>, euid: u32) -> Result<(), BindError> {
    let m = fs::symlink_metadata(d).map_err(|e| BindError::os(Op::LookUpDir, d, errno_of(&e)))?;
    let (owner, mode) = (m.uid(), m.mode() & 0o7777);
    let reached = via
        .map(|via| format!(" (reached through the link at {})", via.display()))
        .unwrap_or_default();
    let why = if owner != 0 && owner != euid {
        format!(
            "{reached} is owned by uid {owner}, and we run as uid {euid}: only root or we may \
             own a directory above the socket"
        )
    } else if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        format!(
            "{reached} is writable by every user and not sticky (mode {mode:04o}), so anyone \
             could replace the socket"
        )
    } else if mode & 0o020 != 0 && mode & 0o1000 == 0 {
        format!(
            "{reached} is writable by its group (gid {}, mode {mode:04o}), so any member \
             could replace the socket",
            m.gid()
        )
    } else {
        return Ok(());
    };
    Err(BindError::insecure_parent(path, d, why.trim_start()))
}
