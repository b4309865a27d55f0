//! Readiness notification: the datagrams a service manager receives on
//! `$NOTIFY_SOCKET`, as a path and as an abstract name, byte for byte.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{Running, example_bin, finish, helper, signal, tempdir};

/// The next datagram, as text; fails the test after 20 s.
fn next(socket: &UnixDatagram) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0; 4096];
    let n = socket.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Runs `example` on `addr` with `NOTIFY_SOCKET=notify`; checks READY=1
/// comes only once the socket accepts, and STOPPING=1 at SIGTERM.
fn ready_then_stopping(
    example: &str,
    addr: &str,
    notify: &str,
    socket: &UnixDatagram,
    connect: impl Fn() -> bool,
) {
    let server: Running = Command::new(example_bin(example))
        .arg(addr)
        .env("NOTIFY_SOCKET", notify)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    assert_eq!(next(socket), "READY=1");
    assert!(
        connect(),
        "READY=1 came before the socket accepted connections"
    );
    signal(&server, Signal::SIGTERM);
    assert_eq!(next(socket), "STOPPING=1");
    let out = finish(server);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_example_reports_ready_and_stopping_on_a_path() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    let app = dir.path().join("app.sock");
    ready_then_stopping(
        "echo",
        &app.display().to_string(),
        &notify.display().to_string(),
        &socket,
        || UnixStream::connect(&app).is_ok(),
    );
}

#[test]
fn an_example_reports_ready_and_stopping_on_an_abstract_name() {
    let name = format!("sul-notify-test-{}", std::process::id());
    let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    let app = format!("sul-notify-app-{}", std::process::id());
    ready_then_stopping(
        "echo",
        &format!("@{app}"),
        &format!("@{name}"),
        &socket,
        || UnixStream::connect_addr(&SocketAddr::from_abstract_name(&app).unwrap()).is_ok(),
    );
}

/// `HyperServer` reports stopping itself, once.
#[cfg(feature = "hyper")]
#[test]
fn hyper_server_reports_stopping() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    let app = dir.path().join("app.sock");
    ready_then_stopping(
        "hyper_hello",
        &app.display().to_string(),
        &notify.display().to_string(),
        &socket,
        || UnixStream::connect(&app).is_ok(),
    );
    socket.set_nonblocking(true).unwrap();
    assert!(socket.recv(&mut [0; 64]).is_err(), "no second message");
}

/// Sends a status with a line break to `$NOTIFY_SOCKET` and prints what
/// came of it.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_notify_status() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    match safe_unix_listener::notify_status("two\nlines") {
        Ok(sent) => println!("\nSENT {sent}"),
        Err(e) => println!("\nERROR {:?} {e}", e.kind()),
    }
}

#[test]
fn a_status_is_one_field_and_a_bad_socket_is_named() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    let run = |value: &std::ffi::OsStr| {
        let out = helper("notify::helper_notify_status", None)
            .env("NOTIFY_SOCKET", value)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(notify.as_os_str()).contains("SENT true"));
    assert_eq!(next(&socket), "STATUS=two lines");

    let out = run("relative/notify.sock".as_ref());
    assert!(
        out.contains("ERROR InvalidInput cannot notify the service manager at NOTIFY_SOCKET=relative/notify.sock: it is neither an absolute path nor an abstract name"),
        "{out}"
    );
    let gone = dir.path().join("gone.sock");
    let out = run(gone.as_os_str());
    assert!(
        out.contains(&format!(
            "ERROR NotFound cannot notify the service manager at NOTIFY_SOCKET={}",
            gone.display()
        )),
        "{out}"
    );
}
