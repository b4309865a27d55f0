//! The opt-in parent-directory check (OpenSSH's StrictModes rule): refuse
//! a path whose directories or links another user could change.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::{NOBODY, exists, in_runtime, tempdir, tempdir_with_mode};
use safe_unix_listener::{BindErrorKind, SafeUnixListener};

fn bind_checked(path: &std::path::Path) -> Result<SafeUnixListener, safe_unix_listener::BindError> {
    SafeUnixListener::builder(path).check_parent(true).bind()
}

#[test]
fn a_world_writable_directory_without_the_sticky_bit_is_refused() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    in_runtime(|_| {
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
    });
}

#[test]
fn sticky_and_private_directories_pass() {
    in_runtime(|_| {
        for mode in [0o1777, 0o755, 0o700] {
            let dir = tempdir_with_mode(mode);
            let l = bind_checked(&dir.path().join("app.sock"));
            assert!(l.is_ok(), "mode {mode:o}: {l:?}");
        }
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a directory owned by uid 65534")]
fn a_directory_owned_by_another_user_is_refused() {
    let dir = tempdir();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    in_runtime(|_| {
        let err = bind_checked(&dir.path().join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string()
                .contains("is owned by uid 65534, and we run as uid 0"),
            "{err}"
        );
    });
}

/// A link that uid 65534 owns, in a sticky directory it may write, to a
/// directory that passes: every directory passes, but the link's owner can
/// re-point it, and the kernel would not follow it for root
/// (`fs.protected_symlinks`), so the link is refused, by name. And a chain, root's link
/// to a link in a directory uid 65534 owns, is refused at that directory.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: links owned by uid 65534")]
fn a_link_another_user_owns_is_refused_and_so_is_a_chain_through_their_directory() {
    let root = tempdir();
    let safe = root.path().join("safe");
    fs::create_dir(&safe).unwrap();
    let sticky = root.path().join("sticky");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let link = sticky.join("link");
    std::os::unix::fs::symlink(&safe, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    in_runtime(|_| {
        let err = bind_checked(&link.join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string().contains(&format!(
                "the symbolic link {} is owned by uid 65534 and sits in a sticky directory every \
                 user may write",
                link.display()
            )),
            "{err}"
        );
        assert!(!exists(&safe.join("app.sock")), "nothing was bound");

        // root's link -> a link in uid 65534's directory -> the safe directory.
        let theirs = root.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
        std::os::unix::fs::symlink(&safe, theirs.join("link2")).unwrap();
        let link1 = root.path().join("link1");
        std::os::unix::fs::symlink(theirs.join("link2"), &link1).unwrap();
        let err = bind_checked(&link1.join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InsecureParent);
        assert!(
            err.to_string().contains(&format!(
                "directory {} (reached through the link at {}) is owned by uid 65534",
                theirs.display(),
                link1.display()
            )),
            "{err}"
        );
        // Without the check, both bind, and `inspect` names the same step.
        let report =
            safe_unix_listener::diagnosis::inspect(&link1.join("app.sock").try_into().unwrap());
        assert!(
            report
                .parent_error()
                .unwrap()
                .to_string()
                .contains("is owned by uid 65534"),
            "{report}"
        );
    });
}
