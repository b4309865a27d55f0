//! Least privilege: what the kernel grants, not what a uid suggests. A
//! bind where the process may not start one more thread (its task limit:
//! systemd's `LimitNPROC=` or `TasksMax=`, docker's `--pids-limit`) takes
//! another route, or fails with a typed error that names the limit; it
//! never panics.

use std::os::unix::process::CommandExt;

use crate::support::{Outcome, helper_under_strace, helper_via, run_helper, tempdir_with_mode};

/// A uid no other test runs as, so that its task count is this test's.
const LIMITED_UID: u32 = 42_421;

/// With room for the test harness's two threads and no third, the first
/// bind with a mode in a directory others may write cannot start the
/// thread that asks whether a thread may take its own umask: it binds
/// through the private directory instead, and exits cleanly.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: runs the helper as another uid")]
fn at_the_task_limit_a_bind_takes_the_private_directory() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let (outcome, status, stdout) = run_helper(
        helper_via(&["prlimit", "--nproc=2:2", "--"], "helper_bind")
            .uid(LIMITED_UID)
            .gid(LIMITED_UID)
            .env("SUL_ADDR", &path)
            .env("SUL_MODE", "660"),
    );
    assert!(status.success(), "no panic: {status} {stdout}");
    assert!(matches!(outcome, Outcome::Bound { .. }), "{outcome:?}");
    assert!(!path.exists(), "removed again at its drop");
}

/// When the thread that gives the file its mode and group cannot start
/// (EAGAIN from `clone3`, as at the task limit), the bind fails with
/// `ResourceExhausted` and a message that names the limit and the fix, and
/// leaves nothing behind.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_thread_refused_at_the_bind_is_a_typed_error_that_names_the_limit() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    // The test thread's first clone3 asks whether a thread may unshare;
    // its second starts the bind's own thread.
    let (outcome, status, stdout) = run_helper(
        helper_under_strace(
            "helper_bind",
            &["trace=clone3", "inject=clone3:error=EAGAIN:when=2"],
        )
        .env("SUL_ADDR", &path)
        .env("SUL_MODE", "660"),
    );
    assert!(status.success(), "no panic: {status} {stdout}");
    let message = outcome.expect_failed("ResourceExhausted");
    assert!(
        message.contains("could not be started: the process is at its task limit (EAGAIN)"),
        "{message}"
    );
    assert!(message.contains("LimitNPROC= or TasksMax="), "{message}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left"
    );
}

/// `setpriv --bounding-set=-CAPS -- PROGRAM`: root, without those
/// capabilities (as under systemd's `CapabilityBoundingSet=` or docker's
/// `--cap-drop`).
fn without_caps(caps: &str, program: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.arg(format!("--bounding-set=-{caps}"))
        .arg("--")
        .arg(program);
    cmd
}

/// Where `faccessat2` is refused (an older container runtime's seccomp
/// profile answers EPERM), `sul inspect` predicts from the mode bits and
/// the capabilities: a free path and a stale socket both bind. It used to
/// predict "fails: … does not let uid 0 create or look up files in it".
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_refused_faccessat2_never_makes_inspect_predict_a_failure() {
    let dir = crate::support::tempdir();
    let stale = dir.path().join("stale.sock");
    crate::support::make_stale(&stale);
    for (path, predicted) in [
        (&stale, "a bind now: removes the stale socket and succeeds"),
        (&dir.path().join("free.sock"), "a bind now: succeeds"),
    ] {
        let out = std::process::Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                "inject=faccessat2:error=EPERM",
            ])
            .arg(env!("CARGO_BIN_EXE_sul"))
            .arg("inspect")
            .arg(path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(predicted), "{stdout}");
    }
}

/// Root without `CAP_FOWNER` may not remove another user's socket from a
/// sticky directory of a third: `inspect` says so (it used to say
/// "removable: by a bind, yes"), and the bind fails and leaves it.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: drops a capability")]
fn without_cap_fowner_a_sticky_directory_keeps_another_users_socket() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::support::tempdir_with_mode(0o1777);
    nix::unistd::chown(dir.path(), Some(2000.into()), None).unwrap();
    let path = dir.path().join("app.sock");
    crate::support::make_stale(&path);
    nix::unistd::chown(&path, Some(1000.into()), None).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = crate::support::ino(&path);

    let out = without_caps("fowner", std::path::Path::new(env!("CARGO_BIN_EXE_sul")))
        .arg("inspect")
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("removable: no"), "{report}");
    assert!(report.contains("a bind now: fails"), "{report}");

    let (outcome, _, _) = run_helper(
        helper_via(&["setpriv", "--bounding-set=-fowner", "--"], "helper_bind")
            .env("SUL_ADDR", &path),
    );
    let message = outcome.expect_failed("PermissionDenied");
    assert!(message.contains("cannot remove stale socket"), "{message}");
    assert_eq!(crate::support::ino(&path), before, "left in place");
}

/// Root without `CAP_SETGID` but with `CAP_CHOWN`, binding with a group
/// in a directory only root's group may write: the filesystem gid cannot
/// be switched, so the bind takes the private directory, where `fchown`
/// gives the group. It used to fail, blaming the directory.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: drops a capability")]
fn without_cap_setgid_a_group_is_given_by_the_route_that_works() {
    use std::os::unix::fs::MetadataExt;
    let dir = crate::support::tempdir_with_mode(0o770);
    let path = dir.path().join("app.sock");
    let server: crate::support::Running =
        without_caps("setgid", &crate::support::example_bin("echo"))
            .args(["--mode", "0660", "--group", "33"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
            .into();
    drop(crate::support::connect_when_listening(&path));
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, 33));
    crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
    let out = crate::support::finish(server);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Root without `CAP_SETGID` or `CAP_CHOWN`: the group cannot be given by
/// any route, and the message says what is missing, not that the
/// directory refuses uid 0.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: drops a capability")]
fn without_cap_chown_a_group_we_are_not_in_is_explained() {
    let dir = crate::support::tempdir_with_mode(0o770);
    let path = dir.path().join("app.sock");
    let (outcome, _, _) = run_helper(
        helper_via(
            &["setpriv", "--bounding-set=-setgid,-chown", "--"],
            "helper_bind",
        )
        .env("SUL_ADDR", &path)
        .env("SUL_MODE", "660")
        .env("SUL_GROUP", "33"),
    );
    let message = outcome.expect_failed("PermissionDenied");
    assert!(
        message.contains(
            "needs membership of that group or CAP_CHOWN, and we run as uid 0, which is not a \
             member and holds no CAP_CHOWN (EPERM)"
        ),
        "{message}"
    );
    assert!(message.contains("docker --group-add 33"), "{message}");
    assert!(!message.contains("does not let uid 0"), "{message}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left"
    );
}
