//! Accept rate and bind latency, side by side.
//!
//! ```text
//! cargo bench --bench listener        # BENCH_ROUNDS=N to change the rounds
//! ```
//!
//! Accept rate: 8 concurrent clients each connect, read one byte and close;
//! the server accepts, writes the byte and closes. Bind latency: a stale
//! socket is at the path each time. Throwaway sockets: a new directory,
//! a socket in it, both removed, as a test harness does.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Variant, interleave, per_second, rounds, table};
use futures_util::StreamExt;
use safe_unix_listener::SafeUnixListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 8;
const CONNECTIONS: usize = 16_000;
const BINDS: usize = 300;

/// Times CONNECTIONS client round trips against a server already running.
fn clients(rt: &tokio::runtime::Runtime, path: &Path) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let path = path.to_owned();
                tokio::spawn(async move {
                    let mut b = [0u8; 1];
                    for _ in 0..CONNECTIONS / CLIENTS {
                        let mut c = tokio::net::UnixStream::connect(&path).await.unwrap();
                        c.read_exact(&mut b).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    })
}

/// Starts `serve` on the runtime, times the clients, stops the server.
fn accept_rate<F>(rt: &tokio::runtime::Runtime, path: &Path, serve: F) -> f64
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let server = rt.spawn(serve);
    let elapsed = clients(rt, path);
    server.abort();
    let _ = rt.block_on(server);
    let _ = std::fs::remove_file(path);
    per_second(CONNECTIONS, elapsed)
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn main() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let rounds = rounds(15);

    let mut variants = vec![
        Variant {
            name: "raw tokio UnixListener::accept",
            run: Box::new(|| {
                let path = fresh(dir, "raw.sock");
                let l = rt.block_on(async { tokio::net::UnixListener::bind(&path).unwrap() });
                accept_rate(&rt, &path, async move {
                    loop {
                        let (mut s, _) = l.accept().await.unwrap();
                        s.write_all(b"x").await.unwrap();
                    }
                })
            }),
        },
        Variant {
            name: "SafeUnixListener::accept",
            run: Box::new(|| {
                let path = fresh(dir, "safe.sock");
                let l = rt.block_on(async { SafeUnixListener::bind(&path).unwrap() });
                accept_rate(&rt, &path, async move {
                    loop {
                        let (mut s, _) = l.accept().await.unwrap();
                        s.write_all(b"x").await.unwrap();
                    }
                })
            }),
        },
        Variant {
            name: "SafeUnixListener as Stream",
            run: Box::new(|| {
                let path = fresh(dir, "stream.sock");
                let mut l = rt.block_on(async { SafeUnixListener::bind(&path).unwrap() });
                accept_rate(&rt, &path, async move {
                    while let Some(s) = l.next().await {
                        s.unwrap().write_all(b"x").await.unwrap();
                    }
                })
            }),
        },
        Variant {
            name: "tokio-listener 0.5",
            run: Box::new(|| {
                let path = fresh(dir, "tl.sock");
                let addr = tokio_listener::ListenerAddress::Path(path.clone());
                let mut l = rt.block_on(async {
                    let (sys, usr) = (Default::default(), Default::default());
                    tokio_listener::Listener::bind(&addr, &sys, &usr)
                        .await
                        .unwrap()
                });
                accept_rate(&rt, &path, async move {
                    loop {
                        let (mut s, _) = l.accept().await.unwrap();
                        s.write_all(b"x").await.unwrap();
                    }
                })
            }),
        },
        Variant {
            name: "std blocking accept, threads (no runtime)",
            run: Box::new(|| {
                let path = fresh(dir, "std.sock");
                let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
                let server = std::thread::spawn(move || {
                    for s in l.incoming().take(CONNECTIONS) {
                        s.unwrap().write_all(b"x").unwrap();
                    }
                });
                let start = Instant::now();
                let threads: Vec<_> = (0..CLIENTS)
                    .map(|_| {
                        let path = path.clone();
                        std::thread::spawn(move || {
                            let mut b = [0u8; 1];
                            for _ in 0..CONNECTIONS / CLIENTS {
                                let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
                                c.read_exact(&mut b).unwrap();
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                let elapsed = start.elapsed();
                server.join().unwrap();
                per_second(CONNECTIONS, elapsed)
            }),
        },
    ];
    let names: Vec<&str> = variants.iter().map(|v| v.name).collect();
    let samples = interleave(rounds, &mut variants);
    drop(variants);
    table(
        &format!(
            "Accept rate: {CLIENTS} clients, {CONNECTIONS} connections a sample, {rounds} rounds"
        ),
        "conn/s",
        &names,
        &samples,
        0,
    );

    // ---- accept rate with the listener shared by 1, 2 and 4 tasks -------
    type Accept = std::sync::Arc<
        dyn Fn() -> futures_util::future::BoxFuture<'static, tokio::net::UnixStream> + Send + Sync,
    >;
    let rt = &rt;
    let shared = |tasks: usize, safe: bool| -> Box<dyn FnMut() -> f64 + '_> {
        Box::new(move || {
            let path = fresh(dir, "shared.sock");
            // `tasks` tasks loop on `accept`, each answering its client.
            let serve = |accept: Accept| async move {
                let workers: Vec<_> = (0..tasks)
                    .map(|_| {
                        let accept = accept.clone();
                        tokio::spawn(async move {
                            loop {
                                accept().await.write_all(b"x").await.unwrap();
                            }
                        })
                    })
                    .collect();
                for w in workers {
                    let _ = w.await;
                }
            };
            if safe {
                let l = std::sync::Arc::new(
                    rt.block_on(async { SafeUnixListener::bind(&path).unwrap() }),
                );
                let accept = std::sync::Arc::new(move || {
                    let l = l.clone();
                    Box::pin(async move { l.accept().await.unwrap().0 })
                        as futures_util::future::BoxFuture<'static, _>
                });
                accept_rate(rt, &path, serve(accept))
            } else {
                let l = std::sync::Arc::new(
                    rt.block_on(async { tokio::net::UnixListener::bind(&path).unwrap() }),
                );
                let accept = std::sync::Arc::new(move || {
                    let l = l.clone();
                    Box::pin(async move { l.accept().await.unwrap().0 })
                        as futures_util::future::BoxFuture<'static, _>
                });
                accept_rate(rt, &path, serve(accept))
            }
        })
    };
    let mut variants = vec![
        Variant {
            name: "tokio, 1 task",
            run: shared(1, false),
        },
        Variant {
            name: "SafeUnixListener, 1 task",
            run: shared(1, true),
        },
        Variant {
            name: "tokio, 2 tasks",
            run: shared(2, false),
        },
        Variant {
            name: "SafeUnixListener, 2 tasks",
            run: shared(2, true),
        },
        Variant {
            name: "tokio, 4 tasks",
            run: shared(4, false),
        },
        Variant {
            name: "SafeUnixListener, 4 tasks",
            run: shared(4, true),
        },
    ];
    let names: Vec<&str> = variants.iter().map(|v| v.name).collect();
    let samples = interleave(rounds, &mut variants);
    drop(variants);
    for (i, tasks) in [1, 2, 4].into_iter().enumerate() {
        table(
            &format!(
                "Accept rate, one listener shared by {tasks} accepting task(s) (`Arc`, `accept(&self)`): {CONNECTIONS} connections a sample, {rounds} rounds"
            ),
            "conn/s",
            &names[2 * i..2 * i + 2],
            &samples[2 * i..2 * i + 2],
            0,
        );
    }

    // ---- bind latency: nothing at the path, and a stale socket ---------
    let _enter = rt.enter();
    let path = dir.join("bind.sock");
    let clear = || {
        let _ = std::fs::remove_file(&path);
    };
    let make_stale = || {
        clear();
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    };
    let time_binds = |before: &dyn Fn(), bind: &dyn Fn()| {
        let mut total = Duration::ZERO;
        for _ in 0..BINDS {
            before();
            let start = Instant::now();
            bind();
            total += start.elapsed();
        }
        total.as_secs_f64() * 1e6 / BINDS as f64
    };
    // What servers usually do: remove whatever is there, then bind.
    let plain = || {
        clear();
        drop(tokio::net::UnixListener::bind(&path).unwrap());
    };
    let safe = || {
        let l = SafeUnixListener::builder(path.clone().try_into().unwrap())
            .mode(0o660)
            .bind()
            .unwrap();
        // Leave the file as the plain variant does; the next bind starts
        // from the state `before` makes anyway.
        drop(l.into_inner());
    };
    type Step<'a> = &'a dyn Fn();
    let cases: [(Step<'_>, Step<'_>); 4] = [
        (&clear, &plain),
        (&clear, &safe),
        (&make_stale, &plain),
        (&make_stale, &safe),
    ];
    let mut bind_samples = vec![Vec::new(); cases.len()];
    for round in 0..=rounds {
        for (samples, (before, bind)) in bind_samples.iter_mut().zip(cases) {
            let t = time_binds(before, bind);
            if round > 0 {
                samples.push(t);
            }
        }
    }
    let safe_steps = "lock, probe, private dir, bind, chmod, listen, move";
    table(
        &format!("Bind latency, nothing at the path: {BINDS} binds a sample, {rounds} rounds"),
        "µs/bind",
        &[
            "plain remove_file + tokio bind",
            &format!("SafeUnixListener: {safe_steps}"),
        ],
        &bind_samples[..2],
        0,
    );
    table(
        &format!(
            "Bind latency, a stale socket at the path: {BINDS} binds a sample, {rounds} rounds"
        ),
        "µs/bind",
        &[
            "plain remove_file + tokio bind",
            &format!("SafeUnixListener: {safe_steps}"),
        ],
        &bind_samples[2..],
        0,
    );

    // ---- throwaway sockets, as tests make them ----------------------------
    let per_sample = |make: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..BINDS {
            make();
        }
        start.elapsed().as_secs_f64() * 1e6 / BINDS as f64
    };
    let mut variants = vec![
        Variant {
            name: "tempfile::tempdir + tokio bind + remove",
            run: Box::new(|| {
                per_sample(&|| {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("s");
                    drop(tokio::net::UnixListener::bind(&path).unwrap());
                    std::fs::remove_file(&path).unwrap();
                    dir.close().unwrap();
                })
            }),
        },
        Variant {
            name: "SafeUnixListener::bind_temp + drop",
            run: Box::new(|| per_sample(&|| drop(SafeUnixListener::bind_temp().unwrap()))),
        },
    ];
    let names: Vec<&str> = variants.iter().map(|v| v.name).collect();
    let samples = interleave(rounds, &mut variants);
    table(
        &format!(
            "A throwaway socket, made and removed with its directory: {BINDS} a sample, {rounds} rounds"
        ),
        "µs/socket",
        &names,
        &samples,
        0,
    );
}
