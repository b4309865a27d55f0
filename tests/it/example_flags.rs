//! The examples' shared command line: `--mode`, `--group`, `--owner`,
//! `--allow-uid`, `--allow-gid`, `--check-parent` and `--help`, with names
//! resolved through the user database, and the start-up line that says who
//! can connect.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::support::{
    NOBODY, curl, curl_as, example_bin, exists, expect_bind_failure, finish, signal, spawn_example,
    tempdir, tempdir_with_mode, wait_listening,
};

#[test]
fn help_lists_every_option() {
    let out = Command::new(example_bin("echo"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.starts_with("An example server of safe-unix-listener"),
        "{help}"
    );
    assert!(help.contains("Usage: echo [OPTIONS] [ADDR]"), "{help}");
    for option in [
        "--takeover",
        "--systemd-units",
        "--mode <OCTAL>",
        "--group <NAME|GID>",
        "--owner <NAME|UID>",
        "--allow-uid <NAME|UID>",
        "--allow-gid <NAME|GID>",
        "--check-parent",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
}

#[test]
fn an_unknown_user_or_group_name_is_one_clear_line_and_exit_1() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let shown = path.display().to_string();
    for (flag, expected) in [
        (
            "--group",
            "echo: unknown group \"no-such-group\": it is not in the group database\n",
        ),
        (
            "--owner",
            "echo: unknown user \"no-such-group\": it is not in the user database\n",
        ),
        (
            "--allow-uid",
            "echo: unknown user \"no-such-group\": it is not in the user database\n",
        ),
        (
            "--allow-gid",
            "echo: unknown group \"no-such-group\": it is not in the group database\n",
        ),
    ] {
        let out = Command::new(example_bin("echo"))
            .args([flag, "no-such-group", &shown])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
        assert!(!exists(&path), "nothing was bound");
    }
    let out = Command::new(example_bin("echo"))
        .args(["--mode", "0999", &shown])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed option is a usage error"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"0999\" is not an octal mode such as 0660"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: giving the socket to uid 65534")]
fn mode_owner_and_group_by_name_are_applied_and_said() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("app.sock");
    let shown = path.display().to_string();
    let group = nix::unistd::Group::from_gid(NOBODY.into())
        .unwrap()
        .map_or(NOBODY.to_string(), |g| g.name);
    let mut server = spawn_example(
        "echo",
        &[
            "--mode", "0640", "--owner", "nobody", "--group", &group, &shown,
        ],
    );
    wait_listening(&mut server);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o640, NOBODY, NOBODY)
    );
    signal(&server, Signal::SIGTERM);
    let out = finish(server);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!(
            "WARN echo: only root and nobody (uid 65534) can connect to {shown} (mode 0640)"
        )),
        "{log}"
    );
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: connecting as uid 65534")]
fn allow_uid_by_name_admits_that_user_only() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("app.sock");
    let shown = path.display().to_string();
    let mut server = spawn_example(
        "axum_hello",
        &["--mode", "0666", "--allow-uid", "nobody", &shown],
    );
    wait_listening(&mut server);
    let via = ["--unix-socket", shown.as_str()];
    assert_eq!(
        curl_as(Some(NOBODY), &via, "/"),
        (
            200,
            "hello from axum over a Unix socket, uid 65534\n".to_owned()
        )
    );
    let (code, _) = curl(&via, "/");
    assert_eq!(code, 0, "root is not on the list: the connection is closed");
    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
}

#[test]
fn check_parent_refuses_a_directory_others_may_write() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let line = expect_bind_failure("echo", &["--check-parent", &path.display().to_string()]);
    assert!(
        line.contains(&format!("directory {}", dir.path().display())),
        "{line}"
    );
    assert!(!exists(&path));
}
