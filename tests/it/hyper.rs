//! The `hyper` feature and the `hyper_hello` example: curl and a hyper
//! client, HTTP/1 and HTTP/2, and graceful shutdown.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;

use crate::support::{curl, exists, finish, signal, spawn_example, tempdir, wait_listening};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sys::signal::Signal;
use safe_unix_listener::http::HyperServer;
use safe_unix_listener::{PeerInfo, SafeUnixListener};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

#[test]
fn hyper_hello_answers_curl_over_http1_and_http2() {
    let dir = tempdir();
    let path = dir.path().join("demo.sock");
    let shown = path.display().to_string();
    let mut server = spawn_example("hyper_hello", &[&shown]);
    wait_listening(&mut server);

    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!(
        (code, body.as_str()),
        (
            200,
            "hello from hyper over a Unix socket (HTTP/1.1), uid 0\n"
        )
    );
    let (code, body) = curl(&["--http2-prior-knowledge", "--unix-socket", &shown], "/");
    assert_eq!(
        (code, body.as_str()),
        (
            200,
            "hello from hyper over a Unix socket (HTTP/2.0), uid 0\n"
        )
    );

    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
    assert!(!exists(&path), "the socket file is gone");
}

#[test]
fn hyper_hello_serves_an_abstract_name() {
    let name = format!("safe-unix-listener-hyper-test-{}", std::process::id());
    let mut server = spawn_example("hyper_hello", &[&format!("@{name}")]);
    wait_listening(&mut server);
    let (code, body) = curl(&["--abstract-unix-socket", &name], "/");
    assert_eq!(code, 200);
    assert!(body.ends_with("uid 0\n"), "{body}");
    signal(&server, Signal::SIGINT);
    assert_eq!(finish(server).status.code(), Some(0));
}

/// GET / over HTTP/1 or HTTP/2 with a hyper client on a tokio UnixStream.
async fn get(path: &Path, http2: bool) -> (u16, String) {
    let io = TokioIo::new(UnixStream::connect(path).await.unwrap());
    let req = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = if http2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    };
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn whoami(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let peer = req.extensions().get::<PeerInfo>().cloned().unwrap();
    let body = format!(
        "{:?} uid {} pid {}",
        req.version(),
        peer.uid().unwrap(),
        peer.pid().unwrap()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::test]
async fn a_hyper_client_gets_answers_over_http1_and_http2() {
    let dir = tempdir();
    let path = dir.path().join("h.sock");
    let listener = SafeUnixListener::bind(&path).unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(HyperServer::new(listener).serve(service_fn(whoami), async {
        let _ = stop_rx.await;
    }));

    let me = format!("uid {} pid {}", nix::unistd::geteuid(), std::process::id());
    assert_eq!(get(&path, false).await, (200, format!("HTTP/1.1 {me}")));
    assert_eq!(get(&path, true).await, (200, format!("HTTP/2.0 {me}")));

    stop_tx.send(()).unwrap();
    server.await.unwrap();
    assert!(!exists(&path));
}

#[tokio::test]
async fn shutdown_removes_the_socket_first_then_lets_requests_finish() {
    let dir = tempdir();
    let path = dir.path().join("g.sock");
    let listener = SafeUnixListener::bind(&path).unwrap();
    // The handler says when a request arrives, and answers when released.
    let (arrived_tx, mut arrived) = mpsc::channel::<oneshot::Sender<()>>(1);
    let service = service_fn(move |_req: Request<Incoming>| {
        let arrived_tx = arrived_tx.clone();
        async move {
            let (release_tx, release) = oneshot::channel();
            arrived_tx.send(release_tx).await.unwrap();
            let _ = release.await;
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("finished"))))
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(HyperServer::new(listener).serve(service, async {
        let _ = stop_rx.await;
    }));

    let in_flight = tokio::spawn({
        let path = path.clone();
        async move { get(&path, false).await }
    });
    let release = arrived.recv().await.unwrap();

    stop_tx.send(()).unwrap();
    while exists(&path) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        UnixStream::connect(&path).await.is_err(),
        "new clients are refused"
    );
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );

    release.send(()).unwrap();
    assert_eq!(in_flight.await.unwrap(), (200, "finished".to_owned()));
    server.await.unwrap();
}

#[tokio::test]
async fn the_grace_period_bounds_the_wait() {
    let dir = tempdir();
    let path = dir.path().join("slow.sock");
    let listener = SafeUnixListener::bind(&path).unwrap();
    let (arrived_tx, mut arrived) = mpsc::channel::<()>(1);
    let service = service_fn(move |_req: Request<Incoming>| {
        let arrived_tx = arrived_tx.clone();
        async move {
            arrived_tx.send(()).await.unwrap();
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(
        HyperServer::new(listener)
            .grace_period(Duration::from_millis(100))
            .serve(service, async {
                let _ = stop_rx.await;
            }),
    );
    let _stuck = tokio::spawn({
        let path = path.clone();
        async move { get(&path, false).await }
    });
    arrived.recv().await.unwrap();
    stop_tx.send(()).unwrap();
    // Returns although the request never finishes; the bound only keeps a
    // broken build from hanging the suite.
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("serve returned")
        .unwrap();
    assert!(!exists(&path));
}

/// Serves `whoami`, or with `slow` a handler that takes 800 ms, with
/// `configure` applied; returns the socket path and keeps the server until
/// the runtime ends.
fn limited(
    dir: &Path,
    slow: bool,
    configure: impl FnOnce(HyperServer) -> HyperServer,
) -> std::path::PathBuf {
    let path = dir.join("limits.sock");
    let listener = SafeUnixListener::bind(&path).unwrap();
    let server = configure(HyperServer::new(listener));
    let service = service_fn(move |req: Request<Incoming>| async move {
        if slow {
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        whoami(req).await
    });
    tokio::spawn(server.serve(service, std::future::pending()));
    path
}

/// Reads until the server closes the connection; how long that took, or
/// `None` if it was still open after 10 s.
async fn closed_after(stream: &mut UnixStream) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut sink = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await {
        Ok(_) => Some(start.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn half_a_request_is_cut_off_by_the_header_read_timeout() {
    let dir = tempdir();
    let path = limited(dir.path(), false, |s| {
        s.header_read_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_secs(60))
    });
    let mut client = UnixStream::connect(&path).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_after(&mut client).await.is_some(),
        "a client that never finishes its head is disconnected"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_by_the_idle_timeout() {
    let dir = tempdir();
    let path = limited(dir.path(), false, |s| {
        s.header_read_timeout(Duration::from_secs(60))
            .idle_timeout(Duration::from_millis(300))
    });
    let mut silent = UnixStream::connect(&path).await.unwrap();
    assert!(
        closed_after(&mut silent).await.is_some(),
        "closed while idle"
    );

    // A request in flight is not idle, however long the handler takes.
    drop(silent);
    let dir = tempdir();
    let path = limited(dir.path(), true, |s| {
        s.idle_timeout(Duration::from_millis(300))
    });
    let (code, _) = get(&path, false).await;
    assert_eq!(
        code, 200,
        "an 800 ms handler outlives a 300 ms idle timeout"
    );
}

#[tokio::test]
async fn past_max_connections_new_clients_wait_in_the_backlog() {
    let dir = tempdir();
    let path = limited(dir.path(), false, |s| s.max_connections(2));
    let first = UnixStream::connect(&path).await.unwrap();
    let _second = UnixStream::connect(&path).await.unwrap();
    // The third connects (the kernel queues it) but is not served.
    let third = tokio::spawn({
        let path = path.clone();
        async move { get(&path, false).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "served past the limit");
    drop(first);
    let (code, _) = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a slot was free")
        .unwrap();
    assert_eq!(code, 200);
}

#[test]
fn curl_is_answered_within_the_limits() {
    let dir = tempdir();
    let rt = crate::support::runtime();
    let path = rt.block_on(async {
        limited(dir.path(), false, |s| {
            s.header_read_timeout(Duration::from_secs(5))
                .idle_timeout(Duration::from_secs(5))
                .max_connections(1)
        })
    });
    let shown = path.display().to_string();
    for _ in 0..3 {
        let (code, body) = rt.block_on(async {
            let shown = shown.clone();
            tokio::task::spawn_blocking(move || curl(&["--unix-socket", &shown], "/"))
                .await
                .unwrap()
        });
        assert_eq!(code, 200, "{body}");
    }
}

/// hyper writes a response's head and body with one `writev` when the
/// stream forwards vectored writes, instead of copying both into one
/// buffer first.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn responses_go_out_in_one_vectored_write() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let trace = dir.path().join("trace");
    let trace_arg = trace.display().to_string();
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=write,writev",
        "-o",
        &trace_arg,
    ];
    let mut cmd = crate::support::helper_via(&strace, "hyper::helper_serve_one_request");
    let server = cmd.env("SUL_ADDR", &path).spawn().unwrap();
    let server = crate::support::Running::from(server);
    for _ in 0..1000 {
        if exists(&path) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let shown = path.display().to_string();
    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!((code, body.as_str()), (200, "sent with writev\n"));
    assert!(finish(server).status.success());
    let calls = std::fs::read_to_string(&trace).unwrap();
    let response = calls
        .lines()
        .find(|l| l.contains("HTTP/1.1 200 OK"))
        .unwrap_or_else(|| panic!("no response in:\n{calls}"));
    assert!(
        response.contains("writev(") && response.contains("sent with writev"),
        "head and body in one writev: {response}"
    );
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_serve_one_request() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let path = std::env::var("SUL_ADDR").unwrap();
    let rt = crate::support::runtime();
    rt.block_on(async {
        let listener = SafeUnixListener::bind(&path).unwrap();
        let (done, stop) = oneshot::channel::<()>();
        let done = std::sync::Arc::new(std::sync::Mutex::new(Some(done)));
        let service = service_fn(move |_: Request<Incoming>| {
            if let Some(done) = done.lock().unwrap().take() {
                let _ = done.send(());
            }
            async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("sent with writev\n"))))
            }
        });
        HyperServer::new(listener)
            .serve(service, async {
                let _ = stop.await;
            })
            .await;
    });
}
