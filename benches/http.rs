//! HTTP throughput of axum: over `SafeUnixListener`, over a raw
//! `tokio::net::UnixListener`, and over TCP loopback, side by side.
//!
//! ```text
//! cargo bench --bench http --features axum    # BENCH_ROUNDS=N to change
//! ```
//!
//! 8 keep-alive HTTP/1.1 connections from a hyper client in the same
//! process each send requests one after another.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use common::{Variant, interleave, per_second, rounds, table};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use safe_unix_listener::SafeUnixListener;

const CONNECTIONS: usize = 8;
const REQUESTS: usize = 1_500;

#[derive(Clone)]
enum Target {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// REQUESTS keep-alive requests over one connection.
async fn client<IO>(io: IO)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..REQUESTS {
        let req = hyper::Request::get("http://localhost/")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = send.send_request(req).await.unwrap();
        assert!(res.status().is_success());
        res.into_body().collect().await.unwrap();
    }
}

fn load(rt: &tokio::runtime::Runtime, target: &Target) -> f64 {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let target = target.clone();
                tokio::spawn(async move {
                    match target {
                        Target::Unix(p) => {
                            client(TokioIo::new(
                                tokio::net::UnixStream::connect(p).await.unwrap(),
                            ))
                            .await
                        }
                        Target::Tcp(a) => {
                            client(TokioIo::new(
                                tokio::net::TcpStream::connect(a).await.unwrap(),
                            ))
                            .await
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        per_second(CONNECTIONS * REQUESTS, start.elapsed())
    })
}

fn main() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let app = || Router::new().route("/", get(|| async { "hello" }));

    // Three servers, started once and measured in turn.
    let safe_path = dir.path().join("safe.sock");
    let raw_path = dir.path().join("raw.sock");
    let tcp = rt.block_on(async {
        let safe = SafeUnixListener::bind(&safe_path).unwrap();
        tokio::spawn(async move { axum::serve(safe, app()).await });
        let raw = tokio::net::UnixListener::bind(&raw_path).unwrap();
        tokio::spawn(async move { axum::serve(raw, app()).await });
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(tcp, app()).await });
        addr
    });
    let targets = [
        Target::Unix(raw_path),
        Target::Unix(safe_path),
        Target::Tcp(tcp),
    ];
    let names = [
        "axum over raw tokio UnixListener",
        "axum over SafeUnixListener",
        "axum over TCP loopback",
    ];
    let mut variants: Vec<Variant<'_>> = names
        .iter()
        .zip(&targets)
        .map(|(name, target)| Variant {
            name,
            run: Box::new(|| load(&rt, target)),
        })
        .collect();
    let rounds = rounds(15);
    let samples = interleave(rounds, &mut variants);
    drop(variants);
    table(
        &format!(
            "HTTP/1.1 keep-alive throughput: {CONNECTIONS} connections x {REQUESTS} requests a sample, {rounds} rounds"
        ),
        "req/s",
        &names,
        &samples,
        0,
    );
}
