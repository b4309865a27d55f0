//! The `echo` example as a user runs it: it serves, refuses a second
//! instance on the same path, stops cleanly on SIGTERM and SIGINT, and
//! reports bind errors with exit code 1.

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use crate::support::{exists, signal, tempdir};
use nix::sys::signal::Signal;

fn start(addr: &str) -> crate::support::Running {
    crate::support::spawn_example("echo", &[addr])
}

#[test]
fn serves_refuses_a_second_instance_and_stops_on_sigterm() {
    let dir = tempdir();
    let path = dir.path().join("echo.sock");
    let shown = path.display().to_string();
    let mut first = start(&shown);
    crate::support::wait_listening(&mut first);
    assert_eq!(
        crate::support::echo_line(&path, "hello there"),
        "hello there\n"
    );

    let err = crate::support::expect_bind_failure("echo", &[&shown]);
    let live = format!(
        "cannot bind {shown}: a server (pid {}) is listening on it",
        first.id()
    );
    assert!(err.contains(&live), "{err}");
    assert_eq!(
        crate::support::echo_line(&path, "hello there"),
        "hello there\n",
        "the first keeps serving"
    );

    signal(&first, Signal::SIGTERM);
    let out = crate::support::finish(first);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!exists(&path), "the socket file is gone after SIGTERM");
    assert!(UnixStream::connect(&path).is_err());
}

#[test]
fn sigint_on_an_abstract_name_exits_zero() {
    let name = format!("@safe-unix-listener-echo-test-{}", std::process::id());
    let mut child = start(&name);
    let first = crate::support::wait_listening(&mut child);
    assert!(first.contains(&name), "{first}");
    signal(&child, Signal::SIGINT);
    assert_eq!(crate::support::finish(child).status.code(), Some(0));
}

#[test]
fn a_stale_socket_is_replaced_and_a_regular_file_is_kept() {
    let dir = tempdir();
    let stale = dir.path().join("stale.sock");
    crate::support::make_stale(&stale);
    let mut child = start(&stale.display().to_string());
    crate::support::wait_listening(&mut child);
    assert_eq!(
        crate::support::echo_line(&stale, "hello there"),
        "hello there\n"
    );
    signal(&child, Signal::SIGTERM);
    let out = crate::support::finish(child);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed stale socket"));

    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let err = crate::support::expect_bind_failure("echo", &[&file.display().to_string()]);
    assert!(err.contains("a regular file is in the way"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn the_default_address_is_under_xdg_runtime_dir() {
    let dir = tempdir();
    let mut child: crate::support::Running = Command::new(crate::support::example_bin("echo"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let first = crate::support::wait_listening(&mut child);
    let path = dir.path().join("safe-unix-listener-echo.sock");
    assert!(first.contains(&path.display().to_string()), "{first}");
    assert_eq!(
        crate::support::echo_line(&path, "hello there"),
        "hello there\n"
    );
    signal(&child, Signal::SIGTERM);
    assert_eq!(crate::support::finish(child).status.code(), Some(0));
    assert!(!exists(&path));
}

#[test]
fn the_examples_print_the_systemd_units_that_run_them() {
    let out = std::process::Command::new(crate::support::example_bin("echo"))
        .args(["--systemd-units", "/run/echo/echo.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let units = String::from_utf8_lossy(&out.stdout);
    for line in [
        "# /etc/systemd/system/echo.socket",
        "ListenStream=/run/echo/echo.sock",
        "Type=notify",
        "NotifyAccess=all",
        "RuntimeDirectory=echo",
    ] {
        assert!(
            units.lines().any(|l| l == line),
            "{line:?} missing from:\n{units}"
        );
    }
}
