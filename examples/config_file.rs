//! A server whose socket address comes from a configuration file, or from
//! the command line. `UnixAddr` reads as the string it parses from, with
//! the `serde` feature, and is a clap argument through `FromStr`.
//!
//! ```text
//! echo '{ "listen": "unix:/tmp/app.sock" }' > app.json
//! cargo run --example config_file --features serde -- --config app.json [--listen ADDR]
//! ```
//!
//! It prints the address and the configuration in effect, then answers
//! each connection with one line, until SIGINT or SIGTERM. A bad file or
//! address is printed and exits with 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use safe_unix_listener::{SafeUnixListener, UnixAddr, shutdown_signal};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

#[derive(Parser)]
#[command(about = "A server that reads its socket address from a JSON file")]
struct Args {
    /// The configuration file: { "listen": ADDR }.
    #[arg(long)]
    config: PathBuf,
    /// Overrides the file's address: a path, unix:/path or @name.
    #[arg(long)]
    listen: Option<UnixAddr>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    listen: UnixAddr,
}

fn load(args: Args) -> Result<Config, String> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let mut config: Config = serde_json::from_str(&text)
        .map_err(|e| format!("cannot use {}: {e}", args.config.display()))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match load(Args::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("config_file: {e}");
            return ExitCode::from(1);
        }
    };
    let started = shutdown_signal()
        .map_err(|e| e.to_string())
        .and_then(|stop| {
            let listener = SafeUnixListener::builder(config.listen.clone()).bind();
            Ok((listener.map_err(|e| e.to_string())?, stop))
        });
    let (listener, mut stop) = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("config_file: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "config_file listening on {} (in effect: {})",
        listener.addr(),
        serde_json::to_string(&config).unwrap()
    );
    loop {
        tokio::select! {
            _ = &mut stop => return ExitCode::SUCCESS,
            conn = listener.accept() => match conn {
                Ok((mut stream, _)) => {
                    let _ = stream.write_all(b"hello from config_file\n").await;
                }
                Err(e) => eprintln!("config_file: accept failed: {e}"),
            }
        }
    }
}
