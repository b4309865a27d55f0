//! hyper over a Unix socket, HTTP/1 and HTTP/2.
//!
//! ```text
//! cargo run --example hyper_hello --features hyper -- [--takeover | --systemd-units] [ADDR]
//! curl --unix-socket "$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock" http://localhost/
//! ```
//!
//! Under systemd socket activation (or `systemd-socket-activate -l PATH`)
//! it serves the passed socket. Otherwise it binds ADDR, a path,
//! `unix:/path` or `@abstract`; with `--takeover`, it replaces a running
//! instance's socket without a gap (then stop the old one). By default
//! `$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock`, or the same name in the
//! temporary directory. `GET /` names the caller's uid. SIGINT or SIGTERM
//! stops accepting, removes the socket file, lets requests in flight
//! finish, and exits 0. A bind error is printed and exits with 1.

mod common;

use std::convert::Infallible;
use std::process::ExitCode;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use safe_unix_listener::{HyperServer, PeerInfo, shutdown_signal};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.extensions().get::<PeerInfo>().and_then(PeerInfo::uid) {
        Some(uid) => format!(
            "hello from hyper over a Unix socket ({:?}), uid {uid}\n",
            req.version()
        ),
        None => "hello from hyper over a Unix socket, uid unknown\n".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match common::flags("hyper_hello", "safe-unix-listener-demo.sock") {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    // SIGINT or SIGTERM, caught from here on.
    let stop = match shutdown_signal() {
        Ok(stop) => stop,
        Err(e) => return common::fail("hyper_hello", e),
    };
    // The socket systemd passed, if any; else a safe bind of ADDR. READY=1
    // once listening, under systemd's Type=notify.
    let listener = match flags.builder().notify_ready(true).activation_or_bind() {
        Ok(listener) => listener,
        Err(e) => return common::fail("hyper_hello", e),
    };
    common::say_who_can_connect(&listener);
    println!("hyper_hello listening on {}", listener.addr());
    println!("try: {}", common::curl_command(listener.addr(), "/"));

    HyperServer::new(listener)
        .serve(service_fn(hello), stop)
        .await;
    ExitCode::SUCCESS
}
