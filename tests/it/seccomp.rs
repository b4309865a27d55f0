//! Real seccomp filters, as a container runtime's profile or systemd's
//! `SystemCallFilter=` installs them: a small loader
//! (`tests/it/seccomp_loader.c`, built here with `cc` and libseccomp)
//! refuses the named system calls with EPERM, then runs the echo example
//! or `sul`. Each case asserts the outcome and the words of the message.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::support::{
    Running, echo_line, example_bin, finish, signal, tempdir_with_mode, wait_listening,
};
use nix::sys::signal::Signal;

/// The loader, built once per test run.
fn loader() -> &'static Path {
    static LOADER: OnceLock<PathBuf> = OnceLock::new();
    LOADER.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seccomp_loader");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/seccomp_loader.c");
        let built = Command::new("cc")
            .arg(&source)
            .arg("-o")
            .arg(&out)
            .arg("-lseccomp")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        out
    })
}

/// `[setpriv --bounding-set=-CAPS --] loader CALLS PROGRAM`.
fn filtered(calls: &str, drop_caps: Option<&str>, program: &Path) -> Command {
    let mut cmd = match drop_caps {
        Some(caps) => {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--bounding-set=-{caps}"))
                .arg("--")
                .arg(loader());
            cmd
        }
        None => Command::new(loader()),
    };
    cmd.arg(calls).arg(program);
    cmd
}

/// The echo example on `path` with `--mode 0660 --group 33`, under the
/// filter and without the capabilities, its output piped.
fn echo_0660_group_33(calls: &str, drop_caps: Option<&str>, path: &Path) -> Command {
    let mut cmd = filtered(calls, drop_caps, &example_bin("echo"));
    cmd.args(["--mode", "0660", "--group", "33"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Docker's default profile refuses `unshare` (and `setns`, `mount`)
/// without `CAP_SYS_ADMIN`: a bind with a mode and group in directories
/// others may write (0777, and 0770 of root's group) sets them, and the
/// kernel names the socket by its path. It used to be
/// `/proc/self/fd/N/s`.
#[test]
#[cfg_attr(
    sul_no_libseccomp,
    ignore = "needs cc and libseccomp (apt-get install libseccomp-dev)"
)]
#[cfg_attr(sul_not_root, ignore = "needs root: gives the socket a group")]
fn in_dockers_default_profile_the_kernel_names_the_socket_by_its_path() {
    for mode in [0o777, 0o770] {
        let dir = tempdir_with_mode(mode);
        let path = dir.path().join("app.sock");
        let shown = path.to_str().unwrap();
        let mut server: Running = echo_0660_group_33("unshare,setns,mount", None, &path)
            .spawn()
            .unwrap()
            .into();
        wait_listening(&mut server);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, 33), "{mode:o}");
        assert_eq!(echo_line(&path, "hi"), "hi\n");
        assert!(
            crate::support::ss_line(shown).is_some(),
            "{mode:o}: ss -xlpn names the socket by its path"
        );
        signal(&server, Signal::SIGTERM);
        let out = finish(server);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!path.exists(), "removed at the stop");
    }
}

/// `SystemCallFilter=~@privileged` refuses the `@chown` calls to a root
/// that holds `CAP_CHOWN`: the group is then given by the route that still
/// works, the filesystem gid (`CAP_SETGID`). Without `CAP_SETGID`, or with
/// `~setfsgid` and no `CAP_CHOWN`, no route is left, and the message names
/// the filter, not a missing capability or the directory.
#[test]
#[cfg_attr(
    sul_no_libseccomp,
    ignore = "needs cc and libseccomp (apt-get install libseccomp-dev)"
)]
#[cfg_attr(sul_not_root, ignore = "needs root: gives the socket a group")]
fn a_refused_chown_takes_the_route_that_works_or_names_the_filter() {
    let chown = "chown,fchown,fchownat,lchown";
    let dir = tempdir_with_mode(0o770);
    let path = dir.path().join("app.sock");
    let mut server: Running = echo_0660_group_33(chown, None, &path)
        .spawn()
        .unwrap()
        .into();
    wait_listening(&mut server);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, 33));
    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
    for (calls, caps, words) in [
        (
            chown,
            Some("setgid"),
            "is allowed to uid 0, yet it was refused, so a system-call filter refused fchownat (systemd SystemCallFilter=~@privileged or ~@chown",
        ),
        (
            "setfsgid",
            Some("chown"),
            "CAP_SETGID allows it, yet setfsgid was refused, so a system-call filter refused it",
        ),
    ] {
        let dir = tempdir_with_mode(0o770);
        let path = dir.path().join("app.sock");
        // Killed after 20 s if it binds and serves instead.
        let out = finish(echo_0660_group_33(calls, caps, &path).spawn().unwrap());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{calls}: {stderr}");
        assert!(stderr.contains(words), "{calls}: {stderr}");
        assert!(!stderr.contains("does not let uid 0"), "{calls}: {stderr}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{calls}: nothing left"
        );
    }
}

/// Where `faccessat2` is refused (an older runtime's profile), `sul
/// inspect` predicts from the mode bits and the capabilities: a free path
/// and a stale socket both bind.
#[test]
#[cfg_attr(
    sul_no_libseccomp,
    ignore = "needs cc and libseccomp (apt-get install libseccomp-dev)"
)]
fn a_refused_faccessat2_never_makes_inspect_predict_a_failure() {
    let dir = crate::support::tempdir();
    let stale = dir.path().join("stale.sock");
    crate::support::make_stale(&stale);
    for (path, predicted) in [
        (&stale, "a bind now: removes the stale socket and succeeds"),
        (&dir.path().join("free.sock"), "a bind now: succeeds"),
    ] {
        let out = filtered("faccessat2", None, Path::new(env!("CARGO_BIN_EXE_sul")))
            .arg("inspect")
            .arg(path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(predicted), "{stdout}");
    }
}
