//! The `axum` feature and the `axum_hello` example, with curl as the client.
#![cfg(feature = "axum")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{
    NOBODY, curl, curl_as, exists, finish, signal, spawn_example, tempdir, wait_listening,
};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use nix::sys::signal::Signal;
use safe_unix_listener::{PeerInfo, SafeUnixListener};

#[test]
fn axum_hello_answers_curl_and_stops_gracefully_on_sigterm() {
    let dir = tempdir();
    let path = dir.path().join("demo.sock");
    let shown = path.display().to_string();
    let mut server = spawn_example("axum_hello", &[&shown]);
    let first = wait_listening(&mut server);
    assert!(first.contains(&shown), "{first}");

    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!(code, 200);
    assert_eq!(body, "hello from axum over a Unix socket, uid 0\n");

    // A /slow request in flight when SIGTERM arrives still completes.
    let slow = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            "--unix-socket",
            &shown,
            "http://localhost/slow",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    log.by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("slow request started"))
        .expect("the server logs the slow request");
    signal(&server, Signal::SIGTERM);

    let slow = slow.wait_with_output().unwrap();
    assert!(slow.status.success());
    assert_eq!(
        String::from_utf8_lossy(&slow.stdout),
        "slow response done\n"
    );
    let out = finish(server);
    assert_eq!(out.status.code(), Some(0));
    assert!(!exists(&path), "the socket file is gone");
    assert_eq!(
        curl(&["--unix-socket", &shown], "/").0,
        0,
        "new connections are refused"
    );
}

#[test]
fn a_second_axum_hello_exits_1_and_the_first_keeps_serving() {
    let dir = tempdir();
    let path = dir.path().join("demo.sock");
    let shown = path.display().to_string();
    let mut first = spawn_example("axum_hello", &[&shown]);
    wait_listening(&mut first);

    let err = crate::support::expect_bind_failure("axum_hello", &[&shown]);
    let live = format!(
        "cannot bind {shown}: a server (pid {}) is listening on it",
        first.id()
    );
    assert!(err.contains(&live), "{err}");

    assert_eq!(
        curl(&["--unix-socket", &shown], "/").0,
        200,
        "the first keeps serving"
    );
    signal(&first, Signal::SIGINT);
    assert_eq!(finish(first).status.code(), Some(0));
    assert!(!exists(&path));
}

#[test]
fn axum_hello_serves_an_abstract_name() {
    let name = format!("safe-unix-listener-axum-test-{}", std::process::id());
    let mut server = spawn_example("axum_hello", &[&format!("@{name}")]);
    let first = wait_listening(&mut server);
    assert!(first.contains(&format!("@{name}")), "{first}");
    let (code, body) = curl(&["--abstract-unix-socket", &name], "/");
    assert_eq!(
        (code, body.as_str()),
        (200, "hello from axum over a Unix socket, uid 0\n")
    );
    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
}

#[test]
fn a_bind_error_is_one_message_and_exit_code_1() {
    let dir = tempdir();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep").unwrap();
    let err = crate::support::expect_bind_failure("axum_hello", &[&file.display().to_string()]);
    assert!(err.contains("a regular file is in the way"), "{err}");
    assert!(err.contains("choose another path"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
}

#[tokio::test]
#[cfg_attr(sul_not_root, ignore = "needs root: a curl client as uid 65534")]
async fn connect_info_carries_the_clients_uid() {
    let dir = tempdir();
    let path = dir.path().join("ci.sock");
    let listener = SafeUnixListener::builder(&path)
        .mode(0o666) // so that uid 65534 may connect
        .bind()
        .unwrap();
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<PeerInfo>| async move {
            format!("{} {}", peer.uid().unwrap(), peer.pid().unwrap())
        }),
    );
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await
    });

    let shown = path.display().to_string();
    let as_root = tokio::task::spawn_blocking({
        let shown = shown.clone();
        move || curl(&["--unix-socket", &shown], "/")
    });
    let (code, body) = as_root.await.unwrap();
    assert_eq!(code, 200);
    assert!(
        body.starts_with(&format!("{} ", nix::unistd::geteuid())),
        "{body}"
    );

    let as_nobody =
        tokio::task::spawn_blocking(move || curl_as(Some(NOBODY), &["--unix-socket", &shown], "/"));
    let (code, body) = as_nobody.await.unwrap();
    assert_eq!(code, 200);
    assert!(body.starts_with("65534 "), "{body}");
    server.abort();
}

/// The README's "Testing your server", as written there.
#[cfg(feature = "hyper")]
mod testing_your_server {
    use axum::Router;
    use axum::routing::get;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use safe_unix_listener::SafeUnixListener;
    use safe_unix_listener::http::UnixConnector;

    fn app() -> Router {
        Router::new().route("/", get(|| async { "hello\n" }))
    }

    #[tokio::test]
    async fn hello_answers() -> Result<(), Box<dyn std::error::Error>> {
        let listener = SafeUnixListener::bind_temp()?;
        let connector = UnixConnector::new(listener.addr().clone());
        tokio::spawn(async move { axum::serve(listener, app()).await });

        let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
        let response = client.get("http://localhost/".parse()?).await?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.into_body().collect().await?.to_bytes(), "hello\n");
        Ok(())
    }
}
