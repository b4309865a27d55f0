//! axum over a Unix socket.
//!
//! ```text
//! cargo run --example axum_hello --features axum -- [--takeover | --systemd-units] [ADDR]
//! curl --unix-socket "$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock" http://localhost/
//! ```
//!
//! Under systemd socket activation (or `systemd-socket-activate -l PATH`)
//! it serves the passed socket. Otherwise it binds ADDR, a path,
//! `unix:/path` or `@abstract`; with `--takeover`, it replaces a running
//! instance's socket without a gap (then stop the old one). By default
//! `$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock`, or the same name in the
//! temporary directory. `GET /` names the caller's uid; `GET /slow` answers
//! after 2 s, to watch a graceful stop. SIGINT or SIGTERM stops accepting,
//! removes the socket file, lets requests in flight finish, and exits 0. A
//! bind error is printed and exits with 1.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use safe_unix_listener::{PeerInfo, shutdown_signal};

async fn hello(ConnectInfo(peer): ConnectInfo<PeerInfo>) -> String {
    match peer.uid() {
        Some(uid) => format!("hello from axum over a Unix socket, uid {uid}\n"),
        None => "hello from axum over a Unix socket, uid unknown\n".to_owned(),
    }
}

async fn slow() -> &'static str {
    tracing::info!("slow request started");
    tokio::time::sleep(Duration::from_secs(2)).await;
    "slow response done\n"
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match common::flags("axum_hello", "safe-unix-listener-demo.sock") {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    // SIGINT or SIGTERM, caught from here on.
    let stop = match shutdown_signal() {
        Ok(stop) => stop,
        Err(e) => return common::fail("axum_hello", e),
    };
    // The socket systemd passed, if any; else a safe bind of ADDR. READY=1
    // once listening, under systemd's Type=notify.
    let listener = match flags.builder().notify_ready(true).activation_or_bind() {
        Ok(listener) => listener,
        Err(e) => return common::fail("axum_hello", e),
    };
    common::say_who_can_connect(&listener);
    println!("axum_hello listening on {}", listener.addr());
    println!("try: {}", common::curl_command(listener.addr(), "/"));

    let app = Router::new()
        .route("/", get(hello))
        .route("/slow", get(slow));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<PeerInfo>(),
    )
    .with_graceful_shutdown(common::stopping(stop))
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => common::fail("axum_hello", e),
    }
}
