//! HTTP throughput of `HyperServer` against hyper-util's own
//! `auto::Builder` with `GracefulShutdown` on tokio's `UnixListener`, both
//! serving the same handler, measured by a real external client, oha,
//! over `--unix-socket`; the two are measured in turn, round after round.
//!
//! ```text
//! cargo install oha --locked
//! cargo bench --bench hyper_oha --features hyper   # BENCH_ROUNDS=N, BENCH_SECONDS=S
//! ```

mod common;

use std::convert::Infallible;
use std::path::Path;
use std::process::Command;

use common::{rounds, table};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use safe_unix_listener::SafeUnixListener;
use safe_unix_listener::http::HyperServer;

const CONNECTIONS: usize = 16;

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello\n"))))
}

/// hyper-util's builder on tokio's listener, as its own examples serve.
async fn hyper_util_server(listener: tokio::net::UnixListener) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service_fn(hello));
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// One oha run against `path`: its requests per second.
fn oha(path: &Path, seconds: u64) -> f64 {
    let out = Command::new("oha")
        .args(["--no-tui", "--output-format", "json", "-c"])
        .arg(CONNECTIONS.to_string())
        .arg("-z")
        .arg(format!("{seconds}s"))
        .arg("--unix-socket")
        .arg(path)
        .arg("http://localhost/")
        .output()
        .expect("oha runs (cargo install oha --locked)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok = report["statusCodeDistribution"]["200"]
        .as_u64()
        .unwrap_or(0);
    assert!(ok > 0, "no 200 answers: {report}");
    report["summary"]["requestsPerSec"].as_f64().unwrap()
}

fn main() {
    if Command::new("oha").arg("--version").output().is_err() {
        eprintln!("hyper_oha: oha is not installed (cargo install oha --locked); skipped");
        return;
    }
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("hyper-server.sock");
    let bare = dir.path().join("hyper-server-bare.sock");
    let theirs = dir.path().join("hyper-util.sock");
    rt.block_on(async {
        let listener = SafeUnixListener::bind(&ours).unwrap();
        tokio::spawn(HyperServer::new(listener).serve(service_fn(hello), std::future::pending()));
        let listener = SafeUnixListener::bind(&bare).unwrap();
        let server = HyperServer::new(listener).peer_info(false);
        tokio::spawn(server.serve(service_fn(hello), std::future::pending()));
        let listener = tokio::net::UnixListener::bind(&theirs).unwrap();
        tokio::spawn(hyper_util_server(listener));
    });
    let names = [
        "hyper-util auto::Builder + GracefulShutdown, tokio UnixListener",
        "HyperServer, SafeUnixListener (PeerInfo in each request)",
        "HyperServer, SafeUnixListener, peer_info(false)",
    ];
    let paths = [&theirs, &ours, &bare];
    let rounds = rounds(10);
    // One warm-up run each, then rounds in ABBA order, so that a drift in
    // the machine's load hits both alike; each round's two samples are
    // next to each other in time, and their ratio is kept too.
    for path in paths {
        oha(path, 1);
    }
    let mut samples = vec![Vec::new(); paths.len()];
    let mut ratios = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        let mut got = [0.0; 3];
        for i in order {
            got[i] = oha(paths[i], seconds);
            samples[i].push(got[i]);
        }
        ratios[0].push(got[1] / got[0]);
        ratios[1].push(got[2] / got[0]);
    }
    table(
        &format!(
            "HTTP/1.1 with oha, {CONNECTIONS} connections, {seconds} s a sample, {rounds} rounds"
        ),
        "req/s",
        &names,
        &samples,
        0,
    );
    println!(
        "\nmedian of the per-round ratios to hyper-util: {:.3} (PeerInfo in each request), {:.3} (peer_info(false))",
        common::median(&ratios[0]),
        common::median(&ratios[1])
    );
    let _ = std::fs::remove_file(&theirs);
}
