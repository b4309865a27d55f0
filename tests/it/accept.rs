//! Accepted connections are plain Tokio
//! `UnixStream`s with the peer's credentials; resource errors are yielded
//! once and followed by a back-off, never a busy loop.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Fixture, NOBODY, helper, tempdir, tempdir_with_mode};
use futures_util::StreamExt;
use safe_unix_listener::SafeUnixListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn accept_returns_a_tokio_stream_with_peer_credentials() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let listener = SafeUnixListener::bind(&path).unwrap();

    let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (mut server, _peer): (tokio::net::UnixStream, tokio::net::unix::SocketAddr) =
        listener.accept().await.unwrap();
    let cred = server.peer_cred().unwrap();
    assert_eq!(cred.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(cred.gid(), nix::unistd::getegid().as_raw());
    assert_eq!(cred.pid(), Some(std::process::id() as i32));

    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await.unwrap();
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test]
async fn the_stream_yields_every_connection() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let mut listener = SafeUnixListener::bind(&path).unwrap();

    let mut clients = Vec::new();
    for i in 0..5u8 {
        let mut c = StdStream::connect(&path).unwrap();
        c.write_all(&[i]).unwrap();
        clients.push(c);
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        let mut stream = listener.next().await.unwrap().unwrap();
        let mut b = [0];
        stream.read_exact(&mut b).await.unwrap();
        seen.push(b[0]);
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_connect_and_say_hello() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let mut c = StdStream::connect(std::env::var("SUL_ADDR").unwrap()).unwrap();
    c.write_all(b"hello").unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    println!("\nREPLY {reply}");
}

#[tokio::test]
#[cfg_attr(sul_not_root, ignore = "needs root: a client running as uid 65534")]
async fn peer_credentials_name_an_unprivileged_client() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("app.sock");
    let listener = SafeUnixListener::builder(&path).mode(0o666).bind().unwrap();

    let child = helper("accept::helper_connect_and_say_hello", Some(NOBODY))
        .env("SUL_ADDR", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let cred = stream.peer_cred().unwrap();
    assert_eq!((cred.uid(), cred.gid()), (NOBODY, NOBODY));
    assert_eq!(cred.pid(), Some(child.id() as i32));
    let mut hello = [0; 5];
    stream.read_exact(&mut hello).await.unwrap();
    stream
        .write_all(format!("uid {}", cred.uid()).as_bytes())
        .await
        .unwrap();
    drop(stream);
    let out = tokio::task::spawn_blocking(|| child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("REPLY uid 65534"));
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_accept_under_emfile() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let rt = crate::support::runtime();
    rt.block_on(async {
        let path = std::env::var("SUL_ADDR").unwrap();
        let mut listener = SafeUnixListener::bind(&path).unwrap();
        let _client = StdStream::connect(&path).unwrap();

        // Use up every descriptor below a low limit.
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 64, hard).unwrap();
        let mut hog = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hog.push(f);
        }

        let mut errors = 0u32;
        let window = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match listener.next().await {
                    Some(Err(e)) if e.raw_os_error() == Some(nix::libc::EMFILE) => errors += 1,
                    other => panic!("expected EMFILE, got {other:?}"),
                }
            }
        });
        let _ = window.await;
        println!("\nERRORS {errors}");

        drop(hog);
        let recovered = tokio::time::timeout(Duration::from_secs(10), listener.next()).await;
        println!("\nRECOVERED {}", matches!(recovered, Ok(Some(Ok(_)))));
    });
}

#[test]
fn fd_exhaustion_is_yielded_then_backed_off_then_recovered() {
    let dir = tempdir();
    let out = helper("accept::helper_accept_under_emfile", None)
        .env("SUL_ADDR", dir.path().join("app.sock"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ERRORS "))
        .expect("the helper counted errors")
        .parse()
        .unwrap();
    // With the back-off (5, 10, 20, … ms) about seven errors fit in the
    // window; a stream that retried at once would yield many thousands.
    assert!(errors >= 1, "EMFILE must reach the caller");
    assert!(
        errors <= 50,
        "{errors} errors in 500 ms: the stream is spinning"
    );
    assert!(stdout.contains("RECOVERED true"), "{stdout}");
}

/// Several tasks share one listener through `accept(&self)`; the last one
/// spawned takes a single connection and leaves, as a short-lived worker
/// would.
/// Every client must be accepted exactly once. (With `accept` built on
/// `poll_accept`, only the last task to poll was woken: the leaving task
/// took the others' wake-ups with it, and clients were never accepted.)
#[test]
fn accept_from_many_tasks_serves_every_client_exactly_once() {
    const CLIENTS: u32 = 1000;
    for flavour in ["current_thread", "multi_thread"] {
        for tasks in [2, 4, 8] {
            let rt = match flavour {
                "current_thread" => tokio::runtime::Builder::new_current_thread(),
                _ => {
                    let mut b = tokio::runtime::Builder::new_multi_thread();
                    b.worker_threads(4);
                    b
                }
            }
            .enable_all()
            .build()
            .unwrap();
            let dir = tempdir();
            let path = dir.path().join("app.sock");
            let listener = Arc::new(rt.block_on(async { SafeUnixListener::bind(&path).unwrap() }));
            let seen = Arc::new(Mutex::new(Vec::new()));
            for task in 0..tasks {
                let (listener, seen) = (listener.clone(), seen.clone());
                rt.spawn(async move {
                    loop {
                        let (mut s, _) = listener.accept().await.unwrap();
                        let id = s.read_u32().await.unwrap();
                        seen.lock().unwrap().push(id);
                        s.write_all(b"k").await.unwrap();
                        if task == tasks - 1 {
                            return; // the short-lived worker, which polled last
                        }
                    }
                });
            }
            // Blocking clients on threads of their own, while `block_on`
            // drives the accepting tasks. A client stops at its first
            // unanswered connection, so a failure is reported in seconds.
            let unanswered: u32 = rt.block_on(async {
                let clients: Vec<_> = (0..8)
                    .map(|t| {
                        let path = path.clone();
                        tokio::task::spawn_blocking(move || {
                            for id in (t..CLIENTS).step_by(8) {
                                let mut c = StdStream::connect(&path).unwrap();
                                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                                c.write_all(&id.to_be_bytes()).unwrap();
                                if c.read_exact(&mut [0]).is_err() {
                                    return 1;
                                }
                            }
                            0
                        })
                    })
                    .collect();
                let mut unanswered = 0;
                for c in clients {
                    unanswered += c.await.unwrap();
                }
                unanswered
            });
            let mut seen = seen.lock().unwrap().clone();
            seen.sort_unstable();
            let all: Vec<u32> = (0..CLIENTS).collect();
            assert_eq!(
                unanswered, 0,
                "{flavour}, {tasks} tasks: clients never accepted"
            );
            assert_eq!(
                seen, all,
                "{flavour}, {tasks} tasks: each client exactly once"
            );
            rt.shutdown_background();
        }
    }
}

/// Binds `SUL_ADDR` and waits 300 ms for a connection that never comes.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_idle_accept() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    // Worker threads wait in epoll while the main thread binds.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = SafeUnixListener::bind(std::env::var("SUL_ADDR").unwrap()).unwrap();
        let idle = tokio::time::timeout(Duration::from_millis(300), l.accept()).await;
        assert!(idle.is_err(), "nobody connected");
    });
}

/// An idle listener makes no system calls: it is registered with Tokio
/// only once it listens. (Registered before `listen`, a worker thread
/// waiting in epoll could see the socket as hung up; Tokio keeps that for
/// good, and `accept4` ran in a busy loop. `listen` is delayed here by
/// 100 ms, so that the workers always look in that window.)
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn an_idle_listener_does_not_spin() {
    let dir = tempdir();
    let trace = dir.path().join("trace");
    let trace_arg = trace.display().to_string();
    // `timeout`: a spinning helper fails the test instead of hanging it.
    let strace = [
        "timeout",
        "20",
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=accept4,accept,listen",
        "-e",
        "inject=listen:delay_enter=100000",
        "-o",
        &trace_arg,
    ];
    let out = crate::support::helper_via(&strace, "accept::helper_idle_accept")
        .env("SUL_ADDR", dir.path().join("idle.sock"))
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert!(
        out.status.success(),
        "the helper did not finish its 300 ms wait ({}): {} trace lines",
        out.status,
        calls.lines().count()
    );
    let accepts = calls.lines().filter(|l| l.contains("accept")).count();
    assert!(
        accepts < 5,
        "{accepts} accept calls while idle:\n{}",
        &calls[..calls.len().min(2000)]
    );
}

/// Connections the queue holds before a nonblocking connect is refused
/// with EAGAIN, nothing accepted (at most `limit` tried).
fn queued_before_full(path: &std::path::Path, limit: usize) -> usize {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    use std::os::fd::AsRawFd;
    let addr = UnixAddr::new(path).unwrap();
    let mut held = Vec::new();
    for _ in 0..limit {
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => held.push(fd),
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => panic!("connect: {e}"),
        }
    }
    held.len()
}

/// `Builder::backlog` is the listen queue's length: the kernel holds that
/// many connections not yet accepted (Linux: one more), and refuses the
/// next; by default the queue is the platform's largest.
#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn backlog_sets_the_listen_queue() {
    Fixture::new().run(|Fixture { path, .. }| {
        let short = SafeUnixListener::builder(path).backlog(2).bind().unwrap();
        assert_eq!(queued_before_full(path, 64), 3);
        drop(short);
        let default = SafeUnixListener::bind(path).unwrap();
        assert_eq!(queued_before_full(path, 64), 64, "the default holds more");
        drop(default);
    });
}
