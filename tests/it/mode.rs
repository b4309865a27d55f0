//! Behaviour 9: with `.mode(m)` the socket file has exactly mode `m`
//! whatever the umask, the owner and group are set as asked, and both
//! happen between bind and listen, so no client can connect earlier.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::{
    Fixture, Holder, NOBODY, Outcome, have_strace, helper, helper_via, runtime, skip_unless_root,
    tempdir,
};
use safe_unix_listener::SafeUnixListener;

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Binds in a helper with umask 077, holds, and returns the file's mode.
fn mode_under_umask_077(path: &Path, mode: Option<&str>) -> u32 {
    let mut cmd = helper("helper_bind", None);
    cmd.env("SUL_ADDR", path).env("SUL_UMASK", "077");
    if let Some(mode) = mode {
        cmd.env("SUL_MODE", mode);
    }
    let holder = Holder::spawn(&mut cmd);
    assert!(
        matches!(holder.outcome, Outcome::Bound { .. }),
        "{:?}",
        holder.outcome
    );
    let mode = mode_of(path);
    assert!(holder.release());
    mode
}

#[test]
fn mode_is_exact_whatever_the_umask() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    assert_eq!(
        mode_under_umask_077(&path, None),
        0o700,
        "without .mode the umask applies"
    );
    assert_eq!(
        mode_under_umask_077(&path, Some("666")),
        0o666,
        "with .mode it does not"
    );
    assert_eq!(mode_under_umask_077(&path, Some("660")), 0o660);
}

#[test]
fn owner_and_group_are_set() {
    if skip_unless_root("changing a socket's owner") {
        return;
    }
    let Fixture {
        dir: _dir,
        path,
        rt,
    } = Fixture::new();
    let _enter = rt.enter();
    let l = SafeUnixListener::builder(path.clone().try_into().unwrap())
        .owner(NOBODY)
        .group(NOBODY)
        .mode(0o600)
        .bind()
        .unwrap();
    let m = fs::symlink_metadata(&path).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (NOBODY, NOBODY, 0o600)
    );
    drop(l);
    assert!(!path.exists(), "a chowned socket is still ours to remove");
}

#[test]
fn a_refused_chown_is_explained_and_leaves_nothing_behind() {
    if skip_unless_root("binding as uid 65534") {
        return;
    }
    // As uid 65534, giving the file to root is refused.
    let dir = crate::support::tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    let helper_out = helper("mode::helper_chown_to_root", Some(NOBODY))
        .env("SUL_ADDR", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&helper_out.stdout);
    let outcome = stdout.lines().find_map(Outcome::parse).expect("a report");
    let msg = outcome.expect_failed("PermissionDenied");
    assert!(
        msg.contains(&format!("cannot change owner of {}", path.display())),
        "{msg}"
    );
    assert!(
        msg.contains("needs privilege (CAP_CHOWN), and we run as uid 65534 (EPERM)"),
        "{msg}"
    );
    assert!(!path.exists(), "the half-made socket was removed");
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_chown_to_root() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let path = std::env::var("SUL_ADDR").unwrap();
    let rt = runtime();
    let _enter = rt.enter();
    match SafeUnixListener::builder(path.parse().unwrap())
        .owner(0)
        .bind()
    {
        Ok(_) => println!("\nOUTCOME BOUND"),
        Err(e) => crate::support::report_failure(e.kind(), &e.to_string()),
    }
}

/// The order that makes the mode and owner safe: bound in the private
/// directory, mode set through its descriptor, listening, and only then
/// moved into place, without replacing anything.
#[test]
fn mode_is_applied_in_the_private_directory_before_listen_and_the_move() {
    if !have_strace() {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let trace = dir.path().join("trace");
    let trace_arg = trace.display().to_string();
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "signal=none",
        "-e",
        "trace=bind,listen,chmod,fchmodat,renameat2,linkat",
        "-o",
        &trace_arg,
    ];
    let out = helper_via(&strace, "helper_bind")
        .env("SUL_ADDR", &path)
        .env("SUL_MODE", "600")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let calls = fs::read_to_string(&trace).unwrap();
    let find = |what: &dyn Fn(&str) -> bool, name: &str| {
        calls
            .lines()
            .position(what)
            .unwrap_or_else(|| panic!("no {name} in:\n{calls}"))
    };
    // Through /proc/self/fd/N: the private directory's descriptor.
    let bind = find(
        &|l| l.contains("bind(") && l.contains("/proc/self/fd/"),
        "bind in the private directory",
    );
    let chmod = find(
        &|l| l.contains("fchmodat(") && l.contains("\"s\"") && l.contains("0600"),
        "fchmodat",
    );
    let listen = find(&|l| l.contains("listen("), "listen");
    let rename = find(
        &|l| {
            l.contains("renameat2(") && l.contains("\"app.sock\"") && l.contains("RENAME_NOREPLACE")
        },
        "renameat2",
    );
    assert!(
        bind < chmod && chmod < listen && listen < rename,
        "order must be bind, chmod, listen, move:\n{calls}"
    );
    assert!(
        !calls.contains("chmod(\""),
        "never a chmod by path:\n{calls}"
    );
}
