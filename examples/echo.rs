//! A line echo server on a Unix socket.
//!
//! ```text
//! cargo run --example echo -- [--takeover | --systemd-units] [ADDR]
//! ```
//!
//! Under systemd socket activation (or `systemd-socket-activate -l PATH`)
//! it serves the passed socket. Otherwise it binds ADDR, a path,
//! `unix:/path` or `@abstract`; with `--takeover`, it replaces a running
//! instance's socket without a gap (then stop the old one). By default
//! `$XDG_RUNTIME_DIR/safe-unix-listener-echo.sock`, or the same name in the
//! temporary directory. SIGINT or SIGTERM stops it with exit code 0, after
//! its socket file is removed. A bind error is printed and exits with 1.

mod common;

use std::process::ExitCode;

use futures_util::StreamExt;
use safe_unix_listener::{AddrView, shutdown_signal};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match common::flags("echo", "safe-unix-listener-echo.sock") {
        Ok(flags) => flags,
        Err(code) => return code,
    };
    // SIGINT or SIGTERM, caught from here on.
    let stop = match shutdown_signal() {
        Ok(stop) => stop,
        Err(e) => return common::fail("echo", e),
    };
    // The socket systemd passed, if any; else a safe bind of ADDR. READY=1
    // once listening, under systemd's Type=notify.
    let bound = flags.builder().notify_ready(true).activation_or_bind();
    let mut listener = match bound {
        Ok(listener) => listener,
        Err(e) => return common::fail("echo", e),
    };
    common::say_who_can_connect(&listener);

    let addr = listener.addr();
    println!("echo server listening on {addr}");
    match addr.view() {
        AddrView::Path(path) => println!("try: socat - UNIX-CONNECT:{}", path.display()),
        AddrView::Abstract(name) => println!(
            "try: socat - ABSTRACT-CONNECT:{}",
            String::from_utf8_lossy(name)
        ),
    }

    let stop = common::stopping(stop);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(conn) = listener.next() => match conn {
                Ok(stream) => {
                    tokio::spawn(echo(stream));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
        }
    }
    ExitCode::SUCCESS
}

async fn echo(stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
}
