//! A regular file, directory, FIFO or symbolic link at the
//! path is never removed and never followed; the error names its type.

use std::fs;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::Path;

use crate::support::{in_runtime, ino, make_stale, tempdir};
use nix::sys::stat::Mode;
use safe_unix_listener::{BindErrorKind, SafeUnixListener};

fn refuse(path: &Path, words: &str) {
    in_runtime(|_| {
        let before = ino(path);
        let err = SafeUnixListener::bind(path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::NotASocket, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(words), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert_eq!(ino(path), before, "{words} is still the same inode");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::AlreadyExists);
    });
}

#[test]
fn a_regular_file_keeps_its_content_byte_for_byte() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    fs::write(&path, &content).unwrap();
    refuse(&path, "a regular file is in the way");
    assert_eq!(fs::read(&path).unwrap(), content);
}

#[test]
fn an_empty_regular_file_is_kept_too() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    fs::write(&path, b"").unwrap();
    refuse(&path, "a regular file");
    assert!(fs::metadata(&path).unwrap().is_file());
}

#[test]
fn a_directory_and_its_content_are_kept() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"data").unwrap();
    refuse(&path, "a directory");
    assert_eq!(fs::read(path.join("inside")).unwrap(), b"data");
}

#[test]
fn a_fifo_is_kept_and_not_opened() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o644)).unwrap();
    refuse(&path, "a FIFO");
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
}

#[test]
fn a_symlink_to_a_file_is_not_followed() {
    let dir = tempdir();
    let target = dir.path().join("target.txt");
    fs::write(&target, b"precious").unwrap();
    let path = dir.path().join("app.sock");
    symlink(&target, &path).unwrap();
    refuse(&path, "a symbolic link");
    assert_eq!(fs::read_link(&path).unwrap(), target);
    assert_eq!(fs::read(&target).unwrap(), b"precious");
}

#[test]
fn a_symlink_to_a_stale_socket_is_not_followed() {
    let dir = tempdir();
    let target = dir.path().join("elsewhere.sock");
    let target_ino = make_stale(&target);
    let path = dir.path().join("app.sock");
    symlink(&target, &path).unwrap();
    refuse(&path, "a symbolic link");
    assert_eq!(ino(&target), target_ino, "the link's target is untouched");
}

#[test]
fn a_dangling_symlink_is_kept() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    symlink(dir.path().join("nowhere"), &path).unwrap();
    refuse(&path, "a symbolic link");
    assert!(
        !dir.path().join("nowhere").exists(),
        "nothing was created through the link"
    );
}

#[test]
fn a_symlinked_lock_file_is_not_followed() {
    // Lock files are used where others may write the directory.
    let dir = crate::support::tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    let victim = dir.path().join("victim");
    fs::write(&victim, b"keep").unwrap();
    symlink(&victim, crate::support::lock_file(&path)).unwrap();
    in_runtime(|_| {
        let err = SafeUnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::LockFile);
        assert!(
            err.to_string().contains("a symbolic link owned by uid 0"),
            "{err}"
        );
        assert!(err.to_string().contains("never followed"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(
            fs::symlink_metadata(crate::support::lock_file(&path))
                .unwrap()
                .is_symlink()
        );
    });
}
