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

/// What kind of file is at a path, as [`inspect`](crate::diagnosis::inspect)
/// reports it ([`FileInfo`](crate::diagnosis::FileInfo)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileType {
    /// A socket.
    Socket,
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (never followed).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A type the platform has and this list does not.
    Unknown,
}

impl FileType {
    /// The type of the file `st` describes.
    pub(crate) fn of(st: &FileStat) -> Self {
        match file_type(st) {
            SFlag::S_IFSOCK => Self::Socket,
            SFlag::S_IFREG => Self::Regular,
            SFlag::S_IFDIR => Self::Directory,
            SFlag::S_IFLNK => Self::Symlink,
            SFlag::S_IFIFO => Self::Fifo,
            SFlag::S_IFCHR => Self::CharDevice,
            SFlag::S_IFBLK => Self::BlockDevice,
            _ => Self::Unknown,
        }
    }

    /// Its name in words: "socket", "regular file", "FIFO", …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::Regular => "regular file",
            Self::Directory => "directory",
            Self::Symlink => "symbolic link",
            Self::Fifo => "FIFO",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Unknown => "file of unknown type",
        }
    }

    /// With its article, for a sentence: "a regular file", "a FIFO", …
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            Self::Socket => "a socket",
            Self::Regular => "a regular file",
            Self::Directory => "a directory",
            Self::Symlink => "a symbolic link",
            Self::Fifo => "a FIFO",
            Self::CharDevice => "a character device",
            Self::BlockDevice => "a block device",
            Self::Unknown => "a file of unknown type",
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "a regular file", "a FIFO", … for messages.
pub(crate) fn describe(st: &FileStat) -> &'static str {
    FileType::of(st).with_article()
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
