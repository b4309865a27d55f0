//! A live socket (something accepts, or its queue is full) is
//! never touched, and the error names the path and, when known, the pid.

use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};

use crate::support::{Fixture, in_runtime, ino, tempdir};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType};
use safe_unix_listener::{BindErrorKind, SafeUnixListener};

#[test]
fn a_live_safe_listener_keeps_its_socket() {
    Fixture::new().run(|Fixture { path, rt, .. }| {
        let first = SafeUnixListener::bind(path).unwrap();
        let first_ino = ino(path);

        let err = SafeUnixListener::bind(path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InUse);
        assert_eq!(err.path(), Some(path.as_path()));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);

        assert_eq!(ino(path), first_ino, "the live socket is the same inode");
        let _client = UnixStream::connect(path).unwrap();
        rt.block_on(first.accept())
            .expect("the first server still accepts");
    });
}

#[test]
fn a_live_foreign_listener_keeps_its_socket() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let foreign = UnixListener::bind(&path).unwrap();
    let before = ino(&path);
    in_runtime(|_| {
        let err = SafeUnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InUse);
        assert_eq!(ino(&path), before);
        // Our probe was a real connection; the foreign server sees it.
        foreign.set_nonblocking(true).unwrap();
        assert!(
            foreign.accept().is_ok(),
            "the probe reached the live server"
        );
    });
}

#[test]
fn a_server_with_a_full_queue_is_live() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let server = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    socket::bind(server.as_raw_fd(), &socket::UnixAddr::new(&path).unwrap()).unwrap();
    socket::listen(&server, Backlog::new(0).unwrap()).unwrap();
    // Fill the queue: non-blocking connects until the kernel says EAGAIN.
    let mut clients = Vec::new();
    loop {
        let c = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        match socket::connect(c.as_raw_fd(), &socket::UnixAddr::new(&path).unwrap()) {
            Ok(()) => clients.push(c),
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(clients.len() < 64, "the queue never filled");
    }
    let before = ino(&path);
    in_runtime(|_| {
        let err = SafeUnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InUse);
        assert!(err.to_string().contains("accept queue is full"), "{err}");
        assert_eq!(
            ino(&path),
            before,
            "a busy server's socket is never removed"
        );
    });
}
