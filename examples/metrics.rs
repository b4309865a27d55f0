//! A statsd-style metrics receiver on a Unix datagram socket: sums the
//! counters it receives (`name:value|c`, one per line or datagram) and
//! prints them every second, with the uids that sent them.
//!
//! ```text
//! cargo run --example metrics -- /tmp/metrics.sock [--mode 0620 --group GID]
//! echo 'requests:1|c' | socat - UNIX-SENDTO:/tmp/metrics.sock
//! ```
//!
//! Run under `systemd-socket-activate --datagram -l PATH`, it uses the
//! socket passed to it. SIGINT or SIGTERM stops it, and its socket file
//! goes with it.

use std::collections::BTreeMap;
use std::time::Duration;

use safe_unix_listener::{SafeUnixDatagram, UnixAddr};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = "/tmp/metrics.sock".to_owned();
    let (mut mode, mut group) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mode" => mode = Some(u32::from_str_radix(&args.next().unwrap_or_default(), 8)?),
            "--group" => group = Some(args.next().unwrap_or_default().parse::<u32>()?),
            _ => path = arg,
        }
    }

    // The socket: the one systemd passed, or a safe bind of our own.
    let rx = match SafeUnixDatagram::from_activation()? {
        Some(rx) => rx,
        None => {
            let addr: UnixAddr = path.parse()?;
            let mut builder = SafeUnixDatagram::builder(addr);
            if let Some(mode) = mode {
                builder = builder.mode(mode);
            }
            if let Some(gid) = group {
                builder = builder.group(gid); // the senders' group, with --mode 0620
            }
            match builder.bind_datagram() {
                Ok(rx) => rx,
                Err(e) => {
                    eprintln!("metrics: {e}");
                    std::process::exit(1);
                }
            }
        }
    };
    println!("metrics receiver on {}", rx.addr());

    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sums: BTreeMap<String, (i64, Vec<u32>)> = BTreeMap::new();
    let mut buf = vec![0; 65536];
    loop {
        tokio::select! {
            received = rx.recv_with_peer(&mut buf) => {
                let (n, peer) = received?; // a datagram never ends this loop: only the socket failing does
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    // name:value|c
                    let Some((name, rest)) = line.split_once(':') else { continue };
                    let Some(value) = rest.strip_suffix("|c").and_then(|v| v.parse::<i64>().ok()) else { continue };
                    let entry = sums.entry(name.to_owned()).or_default();
                    entry.0 += value;
                    if let Some(uid) = peer.uid().filter(|u| !entry.1.contains(u)) {
                        entry.1.push(uid);
                    }
                }
            }
            _ = tick.tick() => {
                for (name, (sum, uids)) in &sums {
                    println!("{name} {sum} (from uids {uids:?})");
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    // Dropping `rx` removes the socket file, if it is still ours.
    Ok(())
}
