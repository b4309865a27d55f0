//! A stale socket we may not remove fails at once with
//! `PermissionDenied`, never with a later "Address already in use", and the
//! message names the path, the operation, the owner, our uid, EACCES or
//! EPERM, and a fix.
//!
//! These reproduce the Ergo case for real: the socket is left by root, and
//! the restart runs in a child process as uid 65534.

use std::fs;
use std::path::Path;

use crate::support::{
    NOBODY, Outcome, helper, ino, make_stale, make_stale_with_mode, run_helper, tempdir_with_mode,
};

/// Binds `path` in a child process running as uid 65534.
fn bind_as_nobody(path: &Path) -> Outcome {
    let (outcome, status, _) =
        run_helper(helper("helper_bind", Some(NOBODY)).env("SUL_ADDR", path));
    assert!(
        status.success(),
        "the helper itself must not fail: {status}"
    );
    outcome
}

fn assert_mentions(msg: &str, words: &[&str]) {
    for w in words {
        assert!(msg.contains(w), "{w:?} missing from: {msg}");
    }
    assert!(
        !msg.contains("in use"),
        "never the misleading \"in use\": {msg}"
    );
}

/// A root-owned stale socket that uid 65534 may connect to, so that the
/// probe proves it stale and only the removal is refused.
fn root_stale_socket(dir: &Path) -> (std::path::PathBuf, u64) {
    let path = dir.join("app.sock");
    let before = make_stale_with_mode(&path, 0o777);
    (path, before)
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the EACCES reproduction")]
fn eacces_in_a_directory_we_may_not_write() {
    let dir = tempdir_with_mode(0o755);
    let (path, before) = root_stale_socket(dir.path());

    let msg = bind_as_nobody(&path).expect_failed("PermissionDenied");
    assert_mentions(
        &msg,
        &[
            &format!("cannot remove stale socket {}", path.display()),
            "owned by uid 0",
            "we run as uid 65534",
            "mode 0755",
            "(EACCES)",
            "remove it as uid 0",
            "$XDG_RUNTIME_DIR",
        ],
    );
    assert_eq!(ino(&path), before, "the socket is still there");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the EPERM reproduction")]
fn eperm_in_a_sticky_directory() {
    let dir = tempdir_with_mode(0o1777);
    let (path, before) = root_stale_socket(dir.path());

    let msg = bind_as_nobody(&path).expect_failed("PermissionDenied");
    assert_mentions(
        &msg,
        &[
            &format!("cannot remove stale socket {}", path.display()),
            "owned by uid 0",
            "we run as uid 65534",
            &format!(
                "{} is sticky, so only the owner may remove it (EPERM)",
                dir.path().display()
            ),
            "remove it as uid 0",
            "RuntimeDirectory=",
        ],
    );
    assert_eq!(ino(&path), before);
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the Ergo reproduction")]
fn the_ergo_case_a_root_socket_in_a_sticky_directory() {
    // Exactly what a root run leaves: mode 0755 from the usual umask, which
    // uid 65534 may not even connect to.
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("ergo_websocket");
    let before = make_stale_with_mode(&path, 0o755);

    let msg = bind_as_nobody(&path).expect_failed("PermissionDenied");
    assert_mentions(
        &msg,
        &[
            &format!("cannot probe socket {}", path.display()),
            "owned by uid 0 with mode 0755",
            "we run as uid 65534",
            "(EACCES)",
            "not provably stale",
            "remove it as uid 0",
        ],
    );
    assert_eq!(ino(&path), before);
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn eacces_binding_in_a_directory_we_may_not_write() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("app.sock");

    let msg = bind_as_nobody(&path).expect_failed("PermissionDenied");
    assert_mentions(
        &msg,
        &[
            &format!("cannot bind {}", path.display()),
            "owner uid 0, mode 0755",
            "does not let uid 65534 create",
            "(EACCES)",
        ],
    );
    assert!(
        !path.exists() && !crate::support::lock_file(&path).exists(),
        "nothing was created"
    );
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn nobody_binds_and_cleans_up_in_its_own_directory() {
    let dir = tempdir_with_mode(0o755);
    let own = dir.path().join("own");
    fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(NOBODY), Some(NOBODY)).unwrap();
    let path = own.join("app.sock");
    make_stale(&path);
    std::os::unix::fs::lchown(&path, Some(NOBODY), Some(NOBODY)).unwrap();

    let outcome = bind_as_nobody(&path);
    assert!(matches!(outcome, Outcome::Bound { .. }), "{outcome:?}");
    assert!(!path.exists(), "the helper's drop removed its socket");
}
