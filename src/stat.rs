//! What is at a name in a directory, looked at through the directory's
//! descriptor and never following a symbolic link.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mode_t};

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` for nothing there.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<Option<FileStat>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(errno) => Err(errno),
    }
}

/// The file type bits of `st`.
pub(crate) fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

pub(crate) fn is_socket(st: &FileStat) -> bool {
    file_type(st) == SFlag::S_IFSOCK
}

/// Whether `st` describes the same file (device and inode) as `other`.
pub(crate) fn same_inode(st: &FileStat, other: &FileStat) -> bool {
    st.st_dev == other.st_dev && st.st_ino == other.st_ino
}

/// Whether the open file `fd` is the file `st` describes.
pub(crate) fn same_file(fd: &impl AsFd, st: &FileStat) -> bool {
    fstat(fd.as_fd()).is_ok_and(|f| same_inode(&f, st))
}

/// "a regular file", "a FIFO", … for messages.
pub(crate) fn describe(st: &FileStat) -> &'static str {
    match file_type(st) {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        _ => "a file of unknown type",
    }
}

/// Permission bits as a `Mode` (`mode_t` is 16 bits on macOS and the BSDs).
pub(crate) fn mode(bits: u32) -> Mode {
    Mode::from_bits_truncate((bits & 0o7777) as mode_t)
}

/// The permission bits of `st` (`mode_t` is 16 bits on macOS and the BSDs).
#[allow(clippy::useless_conversion)]
pub(crate) fn permissions(st: &FileStat) -> u32 {
    u32::from(st.st_mode & 0o7777)
}

/// The directory a socket path lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &std::path::Path) -> &std::path::Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    }
}
