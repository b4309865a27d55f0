//! The opt-in parent-directory check (tmux's rule): refuse a directory in
//! which another user could replace the socket.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::{NOBODY, exists, runtime, skip_unless_root, tempdir, tempdir_with_mode};
use safe_unix_listener::{BindErrorKind, SafeUnixListener};

fn bind_checked(path: &std::path::Path) -> Result<SafeUnixListener, safe_unix_listener::BindError> {
    SafeUnixListener::builder(path.to_owned().try_into().unwrap())
        .check_parent(true)
        .bind()
}

#[test]
fn a_world_writable_directory_without_the_sticky_bit_is_refused() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let rt = runtime();
    let _enter = rt.enter();

    let err = bind_checked(&path).unwrap_err();
    assert_eq!(err.kind(), BindErrorKind::InsecureParent);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "directory {} is writable by every user and not sticky (mode 0777)",
            dir.path().display()
        )),
        "{msg}"
    );
    assert!(msg.contains("$XDG_RUNTIME_DIR"), "{msg}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::PermissionDenied
    );
    assert!(!exists(&path), "nothing was created");

    // Without the check, the same directory is accepted.
    drop(SafeUnixListener::bind(&path).unwrap());
}

#[test]
fn sticky_and_private_directories_pass() {
    let rt = runtime();
    let _enter = rt.enter();
    for mode in [0o1777, 0o755, 0o700] {
        let dir = tempdir_with_mode(mode);
        let l = bind_checked(&dir.path().join("app.sock"));
        assert!(l.is_ok(), "mode {mode:o}: {l:?}");
    }
}

#[test]
fn a_directory_owned_by_another_user_is_refused() {
    if skip_unless_root("a directory owned by uid 65534") {
        return;
    }
    let dir = tempdir();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let rt = runtime();
    let _enter = rt.enter();
    let err = bind_checked(&dir.path().join("app.sock")).unwrap_err();
    assert_eq!(err.kind(), BindErrorKind::InsecureParent);
    assert!(
        err.to_string()
            .contains("is owned by uid 65534, and we run as uid 0"),
        "{err}"
    );
}
