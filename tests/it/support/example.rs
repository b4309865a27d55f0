//! The example programs, run as a user would, and killed if a test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::files::exists;

/// `target/<profile>/examples/<name>`, which `cargo test` builds.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// A child process that is killed if the test ends (or fails) first.
pub struct Running(Option<Child>);

impl From<Child> for Running {
    fn from(child: Child) -> Self {
        Self(Some(child))
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts an example with piped stdout and stderr.
pub fn spawn_example(name: &str, args: &[&str]) -> Running {
    Command::new(example_bin(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into()
}

/// Runs an example that must fail to bind: exit code 1, one line on
/// stderr, no panic or backtrace (even with `RUST_BACKTRACE=1`). Returns
/// that line.
pub fn expect_bind_failure(name: &str, args: &[&str]) -> String {
    let out = Command::new(example_bin(name))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    assert!(err.starts_with(&format!("{name}: cannot ")), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err
}

/// Sends one line to an echo server at `path` and returns its answer.
pub fn echo_line(path: &Path, line: &str) -> String {
    let mut c = std::os::unix::net::UnixStream::connect(path).unwrap();
    std::io::Write::write_all(&mut c, format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(c).read_line(&mut answer).unwrap();
    answer
}

/// Waits until the server prints its address (it listens by then), and
/// returns that line.
pub fn wait_listening(child: &mut Child) -> String {
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains(" listening on "), "{first:?}");
    first
}

/// Waits for the child to exit; kills it if it hangs, so the test fails
/// instead of blocking.
pub fn finish(child: impl Into<Running>) -> std::process::Output {
    let mut child = child.into().0.take().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Sends `signal` to a child.
pub fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// Waits for `path` to appear (a server creating its socket); fails the
/// test after 20 s rather than hanging.
/// A connection to the socket at `path`, once something listens there: a
/// passed socket's file appears at its `bind`, a moment before its
/// `listen`, and a connection in that moment is refused.
pub fn connect_when_listening(path: &Path) -> std::os::unix::net::UnixStream {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(stream) => return stream,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "nothing listens on {}: {e}",
                path.display()
            ),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn wait_for_file(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !exists(path) {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
