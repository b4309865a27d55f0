//! Readiness notification: the datagrams a service manager receives on
//! `$NOTIFY_SOCKET`, as a path and as an abstract name, byte for byte.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{
    Running, connect_when_listening, example_bin, finish, helper, signal, tempdir,
};

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
    match safe_unix_listener::systemd::notify_status("two\nlines") {
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

/// Binds a datagram receiver at `$SUL_RX` with `notify_ready(true)`, then
/// waits for one datagram and prints it.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_datagram_notify_ready() {
    let Some(path) = std::env::var_os("SUL_RX") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let rx = safe_unix_listener::SafeUnixDatagram::builder(path)
            .notify_ready(true)
            .bind()
            .unwrap();
        let mut buf = [0; 64];
        let n = rx.as_ref().recv(&mut buf).await.unwrap();
        println!("\nGOT {}", String::from_utf8_lossy(&buf[..n]));
    });
}

/// `notify_ready(true)` tells the service manager for a datagram receiver
/// too, once the socket receives: it used to send nothing.
#[test]
fn a_datagram_receiver_reports_ready_once_it_receives() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    let rx_path = dir.path().join("metrics.sock");
    let child = helper("notify::helper_datagram_notify_ready", None)
        .env("NOTIFY_SOCKET", &notify)
        .env("SUL_RX", &rx_path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(next(&socket), "READY=1");
    let tx = UnixDatagram::unbound().unwrap();
    tx.send_to(b"requests:1|c", &rx_path)
        .expect("READY=1 came before the socket received datagrams");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("GOT requests:1|c"), "{stdout}");
    assert!(!rx_path.exists(), "the receiver removed its socket file");
}

/// Fills the receive queue of `socket` (`net.unix.max_dgram_qlen`
/// datagrams), so that the next send to it would block.
fn fill_queue(socket: &UnixDatagram, at: &std::path::Path) {
    let sender = UnixDatagram::unbound().unwrap();
    sender.set_nonblocking(true).unwrap();
    let mut sent = 0;
    while sender.send_to(b"FILLER", at).is_ok() {
        sent += 1;
        assert!(sent < 100_000, "the queue never filled");
    }
    assert!(sent > 0);
    let _ = socket;
}

/// A receiver that never reads: a notification is an error at once
/// (`WouldBlock`), never a wait. It used to block in `sendto` for as long
/// as the receiver did not read.
#[test]
fn a_receiver_that_never_reads_is_an_error_not_a_hang() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    fill_queue(&socket, &notify);
    let child: Running = helper("notify::helper_notify_status", None)
        .env("NOTIFY_SOCKET", &notify)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let out = finish(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "ERROR WouldBlock cannot notify the service manager at NOTIFY_SOCKET={}: its receive queue is full (the receiver is not reading); the message was not sent",
            notify.display()
        )),
        "{stdout}"
    );
}

/// `notify_ready(true)` on a Tokio worker, and `STOPPING=1` at shutdown,
/// with a receiver that never reads: the server listens, serves, warns and
/// stops, instead of hanging in its bind.
#[test]
fn a_server_whose_notify_receiver_never_reads_still_serves_and_stops() {
    let dir = tempdir();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    fill_queue(&socket, &notify);
    let app = dir.path().join("app.sock");
    let server: Running = Command::new(example_bin("echo"))
        .arg(&app)
        .env("NOTIFY_SOCKET", &notify)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    // It answers: its runtime is not stuck in the notification.
    let mut client = connect_when_listening(&app);
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::io::Write::write_all(&mut client, b"still here\n").unwrap();
    let mut answer = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(client), &mut answer)
        .expect("an answer within 20 s");
    assert_eq!(answer, "still here\n");
    signal(&server, Signal::SIGTERM);
    let out = finish(server);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("its receive queue is full").count(),
        2,
        "READY=1 and STOPPING=1 each warned: {stderr}"
    );
}

/// A `NOTIFY_SOCKET` longer than a socket address holds is a length error,
/// not "abstract names exist only on Linux".
#[test]
fn a_too_long_notify_socket_is_a_length_error() {
    let long = format!("@{}", "n".repeat(120));
    let path = format!("/tmp/{}", "p".repeat(120));
    for (value, words) in [
        (&long, "the name is 120 bytes, but at most 107 fit"),
        (
            &path,
            "the path is 125 bytes, but this platform allows at most 107",
        ),
    ] {
        let out = helper("notify::helper_notify_status", None)
            .env("NOTIFY_SOCKET", value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .contains("ERROR InvalidInput cannot notify the service manager at NOTIFY_SOCKET="),
            "{stdout}"
        );
        assert!(stdout.contains(words), "{stdout}");
        assert!(!stdout.contains("only on Linux"), "{stdout}");
    }
}
