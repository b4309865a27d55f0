//! Least privilege: what the kernel grants, not what a uid suggests. A
//! bind where the process may not start one more thread (its task limit:
//! systemd's `LimitNPROC=` or `TasksMax=`, docker's `--pids-limit`) needs
//! no thread; one refused a capability or a system call is told which.

use std::os::unix::process::CommandExt;

use crate::support::{Outcome, helper_via, run_helper, tempdir_with_mode};

/// A uid no other test runs as, so that its task count is this test's.
const LIMITED_UID: u32 = 42_421;

/// With room for the test harness's two threads and no third, a bind
/// with a mode in a directory others may write needs no thread of its
/// own: it binds, and exits cleanly. It used to panic ("failed to spawn
/// thread"), then to fall back to the private directory.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: runs the helper as another uid")]
fn at_the_task_limit_a_bind_with_a_mode_in_a_shared_directory_binds() {
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

/// Docker's default seccomp profile refuses `unshare` (without
/// `CAP_SYS_ADMIN`), and a task limit refuses threads: a bind with a mode
/// and group in a directory others may write uses neither. It binds at
/// the path's own string, so the kernel names the socket by it (`ss
/// -xlpn`, `getsockname`); it used to be `/proc/self/fd/N/s`, from the
/// private directory it fell back to.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn without_unshare_or_threads_the_kernel_names_the_socket_by_its_path() {
    for mode in [0o777, 0o770] {
        let dir = tempdir_with_mode(mode);
        let path = dir.path().join("app.sock");
        let trace = tempfile::NamedTempFile::new().unwrap();
        let trace_arg = trace.path().display().to_string();
        let wrapper = [
            "strace",
            "-f",
            "-qq",
            "-o",
            &trace_arg,
            "-e",
            "trace=bind,clone,clone3,unshare,setfsgid",
            // The test harness's own thread is the first clone3.
            "-e",
            "inject=clone,clone3:error=EAGAIN:when=2+",
            "-e",
            "inject=unshare,setfsgid:error=EPERM",
        ];
        let (outcome, status, stdout) = run_helper(
            helper_via(&wrapper, "helper_bind")
                .env("SUL_ADDR", &path)
                .env("SUL_MODE", "660")
                .env("SUL_GROUP", "33"),
        );
        assert!(status.success(), "{mode:o}: no panic: {status} {stdout}");
        assert!(
            matches!(outcome, Outcome::Bound { .. }),
            "{mode:o}: {outcome:?}"
        );
        let calls = std::fs::read_to_string(trace.path()).unwrap();
        let binds: Vec<_> = calls.lines().filter(|l| l.contains("bind(")).collect();
        assert_eq!(binds.len(), 1, "{mode:o}: {calls}");
        assert!(
            binds[0].contains(&format!("sun_path=\"{}\"", path.display()))
                && binds[0].ends_with("= 0"),
            "{mode:o}: bound by the path's own string: {calls}"
        );
        for not_called in ["unshare(", "setfsgid("] {
            assert!(
                !calls.contains(not_called),
                "{mode:o}: {not_called}: {calls}"
            );
        }
        assert_eq!(
            calls.matches("clone3(").count(),
            1,
            "{mode:o}: no thread but the harness's: {calls}"
        );
    }
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

/// Root with only one of `CAP_CHOWN` and `CAP_SETGID`, binding with a
/// group in a directory only root's group may write: the group is given by
/// the one it holds (`fchown` through the pinned file, or the filesystem
/// gid for the bind). Without `CAP_SETGID` it used to fail, blaming the
/// directory.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: drops a capability")]
fn with_one_of_cap_chown_and_cap_setgid_a_group_is_given_by_the_route_that_works() {
    use std::os::unix::fs::MetadataExt;
    for dropped in ["setgid", "chown"] {
        let dir = crate::support::tempdir_with_mode(0o770);
        let path = dir.path().join("app.sock");
        let server: crate::support::Running =
            without_caps(dropped, &crate::support::example_bin("echo"))
                .args(["--mode", "0660", "--group", "33"])
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
                .into();
        drop(crate::support::connect_when_listening(&path));
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.gid()),
            (0o660, 33),
            "-{dropped}"
        );
        crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
        let out = crate::support::finish(server);
        assert_eq!(
            out.status.code(),
            Some(0),
            "-{dropped}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
