//! What is on disk: stale sockets, inodes, lock files.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Leaves a stale socket at `path`: bound, listened, closed, not removed.
/// Returns its inode.
pub fn make_stale(path: &Path) -> u64 {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    ino(path)
}

/// [`make_stale`], then sets the socket's mode (a root-owned socket that
/// uid 65534 may connect to is 0777; one it may not, 0755).
pub fn make_stale_with_mode(path: &Path, mode: u32) -> u64 {
    let ino = make_stale(path);
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    ino
}

pub fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// `<path>.lock`, the bind lock file.
pub fn lock_file(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The entries of `dir`, sorted: name, file type and inode, to compare a
/// directory with what the test made.
pub fn listing(dir: &Path) -> Vec<(String, String, u64)> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            let kind = format!("{:?}", m.file_type());
            (e.file_name().to_string_lossy().into_owned(), kind, m.ino())
        })
        .collect();
    entries.sort();
    entries
}
