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
