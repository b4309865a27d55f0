//! Access is what the kernel enforces: a default ACL on the directory, or
//! a setgid directory, never lets another user connect to a socket whose
//! mode and group say it may not. Root binds; uid 65534 owns the
//! directory, sets its default ACL, and tries to connect, for real.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use safe_unix_listener::{OnExisting, SafeUnixListener, diagnosis};

use crate::support::{
    NOBODY, helper, helper_under_strace, in_runtime, listing, make_stale, run_helper, tempdir,
};

/// A group that is neither root's nor uid 65534's.
const GROUP: u32 = 4242;

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_connect() {
    let Some(addr) = std::env::var_os("SUL_ADDR") else {
        return;
    };
    match std::os::unix::net::UnixStream::connect(&addr) {
        Ok(_) => println!("\nCONNECT CONNECTED"),
        Err(e) => println!("\nCONNECT REFUSED {}", e.raw_os_error().unwrap_or(0)),
    }
}

/// Whether uid 65534 can connect to `path`: "CONNECTED", or "REFUSED" and
/// the errno.
fn nobody_connects(path: &Path) -> String {
    let out = helper("acl::helper_connect", Some(NOBODY))
        .env("SUL_ADDR", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("CONNECT "))
        .unwrap_or_else(|| panic!("no answer from the client: {stdout}"))
        .to_owned()
}

/// A directory `name` in `parent`, owned by `uid` and group `gid`, with
/// `mode`.
fn dir(parent: &Path, name: &str, uid: u32, gid: u32, mode: u32) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// `setfacl ARGS`, which must succeed.
fn setfacl(args: &[&str]) {
    let status = Command::new("setfacl").args(args).status().unwrap();
    assert!(status.success(), "setfacl {args:?}");
}

/// A default ACL on `dir` that grants uid 65534 `rwx` on every new file.
fn grant_nobody_by_default(dir: &Path) {
    setfacl(&[
        "-d",
        "-m",
        &format!("u:{NOBODY}:rwx"),
        dir.to_str().unwrap(),
    ]);
}

/// A directory uid 65534 owns, mode 0777, whose default ACL grants it
/// `rwx` on every new file, as its owner may set.
fn nobodys_dir_with_default_acl(parent: &Path) -> PathBuf {
    let dir = dir(parent, "shared", NOBODY, NOBODY, 0o777);
    grant_nobody_by_default(&dir);
    dir
}

/// Whether the file at `path` carries an access ACL: `getfacl` prints
/// more than the three entries of its mode.
fn has_access_acl(path: &Path) -> bool {
    let out = Command::new("getfacl")
        .args(["-c", "-p"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("default:"))
        .count()
        > 3
}

/// What uid 65534 met at a socket root bound.
#[derive(Debug, PartialEq, Eq)]
struct Met {
    /// "CONNECTED", or "REFUSED" and the errno.
    answer: String,
    mode: u32,
    gid: u32,
    access_acl: bool,
}

/// Binds `path` as root with mode 0660 and `group`, then asks uid 65534
/// to connect while it listens.
fn bind_then_nobody_connects(path: &Path, group: Option<u32>, on_existing: OnExisting) -> Met {
    in_runtime(|_| {
        let listener = SafeUnixListener::builder(path)
            .mode(0o660)
            .group(group)
            .on_existing(on_existing)
            .bind()
            .unwrap();
        let answer = nobody_connects(path);
        let meta = fs::symlink_metadata(path).unwrap();
        let access_acl = has_access_acl(path);
        drop(listener);
        Met {
            answer,
            mode: meta.mode() & 0o7777,
            gid: meta.gid(),
            access_acl,
        }
    })
}

/// What a socket bound with mode 0660 in `gid` must show uid 65534: EACCES,
/// and no ACL.
fn refused(gid: u32) -> Met {
    Met {
        answer: "REFUSED 13".to_owned(),
        mode: 0o660,
        gid,
        access_acl: false,
    }
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
#[cfg_attr(sul_no_setfacl, ignore = "needs setfacl (package acl)")]
fn a_default_acl_of_the_directory_never_admits_past_the_mode_at_the_path() {
    let top = tempdir();
    let dir = nobodys_dir_with_default_acl(top.path());
    let path = dir.join("app.sock");
    let met = bind_then_nobody_connects(&path, Some(GROUP), OnExisting::default());
    assert_eq!(met, refused(GROUP), "uid 65534 must get EACCES");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
#[cfg_attr(sul_no_setfacl, ignore = "needs setfacl (package acl)")]
fn a_default_acl_of_the_directory_never_admits_past_the_mode_on_a_takeover() {
    let top = tempdir();
    let dir = nobodys_dir_with_default_acl(top.path());
    let path = dir.join("app.sock");
    make_stale(&path);
    let met = bind_then_nobody_connects(&path, Some(GROUP), OnExisting::TakeOver);
    assert_eq!(met, refused(GROUP), "uid 65534 must get EACCES");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
#[cfg_attr(sul_no_setfacl, ignore = "needs setfacl (package acl)")]
fn a_default_acl_of_a_directory_only_we_write_never_admits_past_the_mode() {
    let top = tempdir();
    let dir = dir(top.path(), "ours", 0, 0, 0o755);
    grant_nobody_by_default(&dir);
    let path = dir.join("app.sock");
    let met = bind_then_nobody_connects(&path, Some(GROUP), OnExisting::default());
    assert_eq!(met, refused(GROUP), "uid 65534 must get EACCES");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
fn a_setgid_directory_of_another_user_never_gives_the_socket_its_group() {
    let top = tempdir();
    let dir = dir(top.path(), "setgid", NOBODY, NOBODY, 0o2777);
    let path = dir.join("app.sock");
    let met = bind_then_nobody_connects(&path, None, OnExisting::default());
    assert_eq!(
        met,
        refused(0),
        "the socket must be in root's group, not the directory's"
    );
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client as uid 65534")]
fn a_setgid_directory_only_we_write_never_gives_the_socket_its_group() {
    let top = tempdir();
    let dir = dir(top.path(), "setgid", 0, NOBODY, 0o2755);
    let path = dir.join("app.sock");
    let met = bind_then_nobody_connects(&path, None, OnExisting::default());
    assert_eq!(met, refused(0), "the socket must be in root's group");
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: files of other users")]
#[cfg_attr(sul_no_setfacl, ignore = "needs setfacl (package acl)")]
fn inspect_shows_an_acl_on_the_socket_and_on_its_directory() {
    let top = tempdir();
    let dir = nobodys_dir_with_default_acl(top.path());
    let path = dir.join("app.sock");
    make_stale(&path);
    setfacl(&["-m", &format!("u:{NOBODY}:rw"), path.to_str().unwrap()]);
    let report = diagnosis::inspect(&path.clone().try_into().unwrap()).to_string();
    assert!(
        report.contains("acl: the socket file carries an access ACL"),
        "{report}"
    );
    assert!(
        report.contains("acl: its directory carries a default ACL"),
        "{report}"
    );
}

/// Binds `path` with mode 0660 in a helper under strace, with `inject`;
/// the bind must fail with `kind` and leave only the directory's own
/// entries; returns the message.
fn bind_fails_under(path: &Path, inject: &str, kind: &str) -> String {
    let dir = path.parent().unwrap();
    let before = listing(dir);
    let (outcome, _, _) = run_helper(
        helper_under_strace("helper_bind", &[inject])
            .env("SUL_ADDR", path)
            .env("SUL_MODE", "660"),
    );
    let message = outcome.expect_failed(kind);
    assert_eq!(listing(dir), before, "the failed bind left something");
    message
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a directory of another user")]
#[cfg_attr(sul_no_setfacl, ignore = "needs setfacl (package acl)")]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn an_acl_that_cannot_be_removed_refuses_the_bind_and_says_why() {
    let top = tempdir();
    let dir = dir(top.path(), "ours", 0, 0, 0o755);
    grant_nobody_by_default(&dir);
    let message = bind_fails_under(
        &dir.join("app.sock"),
        "inject=lremovexattr:error=EPERM",
        "PermissionDenied",
    );
    for words in [
        "could not remove the access ACL the default ACL on directory",
        "(EPERM",
        &format!("setfacl -k {}", dir.display()),
    ] {
        assert!(message.contains(words), "{words:?} missing from: {message}");
    }
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: a directory of another group")]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_group_that_cannot_be_changed_back_refuses_the_bind_and_says_why() {
    let top = tempdir();
    let dir = dir(top.path(), "setgid", 0, NOBODY, 0o2755);
    let message = bind_fails_under(
        &dir.join("app.sock"),
        "inject=fchownat:error=EPERM",
        "PermissionDenied",
    );
    for words in [
        "the socket inherited the group of directory",
        "which is setgid",
        "(EPERM",
        &format!("chmod g-s {}", dir.display()),
    ] {
        assert!(message.contains(words), "{words:?} missing from: {message}");
    }
}
