//! A line echo server on a Unix socket.
//!
//! ```text
//! cargo run --example echo -- [ADDR]
//! ```
//!
//! ADDR is a path, `unix:/path` or `@abstract`; by default
//! `$XDG_RUNTIME_DIR/safe-unix-listener-echo.sock`, or the same name in the
//! temporary directory. SIGINT or SIGTERM stops it with exit code 0, after
//! its socket file is removed. A bind error is printed and exits with 1.

use std::process::ExitCode;

use futures_util::StreamExt;
use safe_unix_listener::{SafeUnixListener, UnixAddr, shutdown_signal};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let arg = std::env::args().nth(1);
    let addr = match arg
        .as_deref()
        .map_or_else(|| Ok(default_addr()), str::parse::<UnixAddr>)
    {
        Ok(addr) => addr,
        Err(e) => return fail(e),
    };
    let stop = match shutdown_signal() {
        Ok(stop) => stop,
        Err(e) => return fail(e),
    };
    let mut listener = match SafeUnixListener::builder(addr).bind() {
        Ok(listener) => listener,
        Err(e) => return fail(e),
    };

    let addr = listener.local_addr();
    println!("echo server listening on {addr}");
    match (addr.as_path(), addr.as_abstract_name()) {
        (Some(path), _) => println!("try: socat - UNIX-CONNECT:{}", path.display()),
        (_, Some(name)) => println!(
            "try: socat - ABSTRACT-CONNECT:{}",
            String::from_utf8_lossy(name)
        ),
        _ => {}
    }

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

fn default_addr() -> UnixAddr {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    match UnixAddr::from_path(dir.join("safe-unix-listener-echo.sock")) {
        Ok(addr) => addr,
        // A runtime directory too deep for sun_path: fall back to /tmp.
        Err(_) => UnixAddr::from_path("/tmp/safe-unix-listener-echo.sock").expect("short path"),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("echo: {e}");
    ExitCode::from(1)
}
