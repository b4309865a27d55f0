//! The `echo` example as a user runs it: it serves, refuses a second
//! instance on the same path, stops cleanly on SIGTERM and SIGINT, and
//! reports bind errors with exit code 1.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{exists, tempdir};

/// `target/<profile>/examples/echo`, which `cargo test` builds.
fn echo_bin() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    deps.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("echo")
}

fn start(addr: &str) -> Child {
    Command::new(echo_bin())
        .arg(addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the server prints its address (it listens by then).
fn wait_listening(child: &mut Child) -> String {
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("echo server listening on "), "{first:?}");
    first
}

/// Waits for the child to exit; kills it if it hangs, so the test fails
/// instead of blocking.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn echo_once(path: &Path) -> String {
    let mut c = UnixStream::connect(path).unwrap();
    c.write_all(b"hello there\n").unwrap();
    let mut line = String::new();
    BufReader::new(c).read_line(&mut line).unwrap();
    line
}

#[test]
fn serves_refuses_a_second_instance_and_stops_on_sigterm() {
    let dir = tempdir();
    let path = dir.path().join("echo.sock");
    let shown = path.display().to_string();
    let mut first = start(&shown);
    wait_listening(&mut first);
    assert_eq!(echo_once(&path), "hello there\n");

    let second = Command::new(echo_bin()).arg(&shown).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "cannot bind {shown}: a server (pid {}) is listening on it",
            first.id()
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(echo_once(&path), "hello there\n", "the first keeps serving");

    kill(Pid::from_raw(first.id() as i32), Signal::SIGTERM).unwrap();
    let out = finish(first);
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
    let first = wait_listening(&mut child);
    assert!(first.contains(&name), "{first}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(finish(child).status.code(), Some(0));
}

#[test]
fn a_stale_socket_is_replaced_and_a_regular_file_is_kept() {
    let dir = tempdir();
    let stale = dir.path().join("stale.sock");
    support::make_stale(&stale);
    let mut child = start(&stale.display().to_string());
    wait_listening(&mut child);
    assert_eq!(echo_once(&stale), "hello there\n");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed stale socket"));

    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let out = Command::new(echo_bin()).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a regular file is in the way"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn the_default_address_is_under_xdg_runtime_dir() {
    let dir = tempdir();
    let mut child = Command::new(echo_bin())
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = wait_listening(&mut child);
    let path = dir.path().join("safe-unix-listener-echo.sock");
    assert!(first.contains(&path.display().to_string()), "{first}");
    assert_eq!(echo_once(&path), "hello there\n");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(finish(child).status.code(), Some(0));
    assert!(!exists(&path));
}
