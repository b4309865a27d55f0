//! Accept rate and bind latency, side by side.
//!
//! ```text
//! cargo bench --bench listener        # BENCH_ROUNDS=N: rounds; BENCH_ONLY=accept,shared,bind,datagram,longpath,dirsize,access,temp
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
    // BENCH_ONLY=accept,shared,bind,datagram,longpath,dirsize,access,temp runs only those sections.
    let only = std::env::var("BENCH_ONLY").ok();
    let run = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };

    if run("accept") {
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
                                    let mut c =
                                        std::os::unix::net::UnixStream::connect(&path).unwrap();
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
    }

    // ---- accept rate with the listener shared by 1, 2 and 4 tasks -------
    if run("shared") {
        type Accept = std::sync::Arc<
            dyn Fn() -> futures_util::future::BoxFuture<'static, tokio::net::UnixStream>
                + Send
                + Sync,
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
    }

    // ---- bind latency: nothing at the path, and a stale socket ---------
    let _enter = rt.enter();
    if run("bind") {
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
            let l = SafeUnixListener::builder(&path).mode(0o660).bind().unwrap();
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
        // A temp directory only we may write: bound at the path itself.
        let safe_steps = "directory lock, look, probe, bind, chmod, listen";
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
    }

    if run("datagram") {
        // One sender thread sends DATAGRAMS small datagrams as fast as the
        // receiver's queue takes them; the receiver counts them.
        const DATAGRAMS: usize = 50_000;
        let receive = |path: &Path, recv: &dyn Fn(&mut [u8]) -> usize| {
            let sender = std::os::unix::net::UnixDatagram::unbound().unwrap();
            let path = path.to_owned();
            let start = Instant::now();
            let send = std::thread::spawn(move || {
                for _ in 0..DATAGRAMS {
                    while sender.send_to(b"requests:1|c", &path).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
            let mut buf = [0u8; 64];
            for _ in 0..DATAGRAMS {
                assert_eq!(recv(&mut buf), 12);
            }
            send.join().unwrap();
            per_second(DATAGRAMS, start.elapsed())
        };
        let plain_path = fresh(dir, "dgram-plain.sock");
        let safe_path = fresh(dir, "dgram-safe.sock");
        let plain = rt.block_on(async { tokio::net::UnixDatagram::bind(&plain_path).unwrap() });
        let safe =
            rt.block_on(async { safe_unix_listener::SafeUnixDatagram::bind(&safe_path).unwrap() });
        let mut variants = vec![
            Variant {
                name: "tokio UnixDatagram::recv",
                run: Box::new(|| {
                    receive(&plain_path, &|buf| rt.block_on(plain.recv(buf)).unwrap())
                }),
            },
            Variant {
                name: "SafeUnixDatagram: as_ref().recv",
                run: Box::new(|| {
                    receive(&safe_path, &|buf| {
                        rt.block_on(safe.as_ref().recv(buf)).unwrap()
                    })
                }),
            },
            Variant {
                name: "SafeUnixDatagram::recv_with_peer (credentials)",
                run: Box::new(|| {
                    receive(&safe_path, &|buf| {
                        rt.block_on(safe.recv_with_peer(buf)).unwrap().0
                    })
                }),
            },
        ];
        let samples = interleave(rounds, &mut variants);
        let names: Vec<&str> = variants.iter().map(|v| v.name).collect();
        table(
            &format!("Datagrams received: {DATAGRAMS} a sample, {rounds} rounds"),
            "datagrams/s",
            &names,
            &samples,
            0,
        );
    }

    if run("longpath") {
        // The same bind and connect at a 60-byte path and at a 300-byte one,
        // which goes through its directory's descriptor.
        let at = |len: usize| {
            let mut d = dir.to_path_buf();
            while d.as_os_str().len() + "/l.sock".len() < len {
                let left = len - d.as_os_str().len() - "/l.sock".len() - 1;
                d.push("d".repeat(left.clamp(1, 200)));
            }
            std::fs::create_dir_all(&d).unwrap();
            d.join("l.sock")
        };
        let (short, long) = (at(60), at(300));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let time = |path: &Path| {
            let addr: safe_unix_listener::UnixAddr = path.to_path_buf().try_into().unwrap();
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..BINDS {
                    let l = SafeUnixListener::bind(path).unwrap();
                    let _c = addr.connect().await.unwrap();
                    drop(l);
                }
                start.elapsed().as_secs_f64() * 1e6 / BINDS as f64
            })
        };
        let mut samples = vec![Vec::new(); 2];
        for round in 0..=rounds {
            for (s, path) in samples.iter_mut().zip([&short, &long]) {
                let t = time(path);
                if round > 0 {
                    s.push(t);
                }
            }
        }
        table(
            &format!("Bind, connect and drop by path length: {BINDS} a sample, {rounds} rounds"),
            "µs each",
            &[
                &format!("a {}-byte path", short.as_os_str().len()),
                &format!(
                    "a {}-byte path, through its directory's descriptor",
                    long.as_os_str().len()
                ),
            ],
            &samples,
            0,
        );
    }

    if run("dirsize") {
        bind_by_directory_size(rounds);
    }
    if run("access") {
        bind_with_access(rounds);
    }

    // ---- throwaway sockets, as tests make them ----------------------------
    if run("temp") {
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
}

/// Bind and drop in a directory holding 0 to 100,000 unrelated files: one
/// only we may write (bound at the path, directory lock), one sticky that
/// every user may write (bound at the path, lock file), and one every user
/// may write without the sticky bit (private directory, lock file), against
/// `remove_file` + tokio's bind + drop in the same directory.
fn bind_by_directory_size(rounds: usize) {
    // BENCH_DIR: where to make the directories (a tmpfs, say); else $TMPDIR.
    let root = match std::env::var_os("BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let fs = nix::sys::statfs::statfs(root.path()).map(|s| format!("{:?}", s.filesystem_type()));
    println!(
        "\n(in {}, filesystem {})",
        root.path().display(),
        fs.unwrap_or_default()
    );
    let mut made = 0;
    let own = root.path().join("own");
    let sticky = root.path().join("sticky");
    let shared = root.path().join("shared");
    for (dir, mode) in [(&own, 0o755), (&sticky, 0o1777), (&shared, 0o777)] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    println!("\n### Bind and drop by directory size: {BINDS} binds a sample, {rounds} rounds\n");
    println!(
        "| unrelated entries | plain µs/bind | ours, only we write (0755) | ratio | ours, sticky (1777) | ratio | ours, others write (0777) | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for entries in [0, 1_000, 10_000, 100_000] {
        for dir in [&own, &sticky, &shared] {
            for i in made..entries {
                std::fs::File::create(dir.join(format!("unrelated-{i}"))).unwrap();
            }
        }
        made = entries;
        // Written out first, so that the flush does not land in the samples.
        nix::unistd::sync();
        let plain_path = own.join("plain.sock");
        let time = |bind: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..BINDS {
                bind();
            }
            start.elapsed().as_secs_f64() * 1e6 / BINDS as f64
        };
        let mut variants = vec![
            Variant {
                name: "plain",
                run: Box::new(|| {
                    time(&|| {
                        let _ = std::fs::remove_file(&plain_path);
                        drop(tokio::net::UnixListener::bind(&plain_path).unwrap());
                    })
                }),
            },
            Variant {
                name: "own",
                run: Box::new(|| {
                    time(&|| drop(SafeUnixListener::bind(own.join("a.sock")).unwrap()))
                }),
            },
            Variant {
                name: "sticky",
                run: Box::new(|| {
                    time(&|| drop(SafeUnixListener::bind(sticky.join("a.sock")).unwrap()))
                }),
            },
            Variant {
                name: "shared",
                run: Box::new(|| {
                    time(&|| drop(SafeUnixListener::bind(shared.join("a.sock")).unwrap()))
                }),
            },
        ];
        let samples = interleave(rounds, &mut variants);
        let m: Vec<f64> = samples.iter().map(|s| common::median(s)).collect();
        println!(
            "| {entries} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} | {:.2} |",
            m[0],
            m[1],
            m[1] / m[0],
            m[2],
            m[2] / m[0],
            m[3],
            m[3] / m[0]
        );
    }
}

/// A bind with a mode and a group in a directory others may write (0777,
/// and 0770 of our group), where the socket is made closed and its access
/// set through its pinned descriptor, against what servers usually do
/// there: `remove_file`, tokio's bind, `chmod`, `chown`. Each variant runs
/// `BINDS` binds in a block, the blocks alternating.
fn bind_with_access(rounds: usize) {
    use std::os::unix::fs::PermissionsExt;
    // BENCH_DIR: where to make the directories (a tmpfs, say); else $TMPDIR.
    let root = match std::env::var_os("BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let gid = nix::unistd::getegid();
    let mut variants = Vec::new();
    let mut names = Vec::new();
    for (label, mode) in [("0777", 0o777), ("0770", 0o770)] {
        let dir = root.path().join(label);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let time = |bind: Box<dyn Fn()>| {
            Box::new(move || {
                let start = Instant::now();
                for _ in 0..BINDS {
                    bind();
                }
                start.elapsed().as_secs_f64() * 1e6 / BINDS as f64
            }) as Box<dyn FnMut() -> f64>
        };
        let plain_path = dir.join("plain.sock");
        let safe_path = dir.join("safe.sock");
        let bare_path = dir.join("bare.sock");
        variants.push(Variant {
            name: "plain",
            run: time(Box::new(move || {
                let _ = std::fs::remove_file(&plain_path);
                let l = tokio::net::UnixListener::bind(&plain_path).unwrap();
                std::fs::set_permissions(&plain_path, std::fs::Permissions::from_mode(0o660))
                    .unwrap();
                nix::unistd::chown(&plain_path, None, Some(gid)).unwrap();
                drop(l);
            })),
        });
        variants.push(Variant {
            name: "safe",
            run: time(Box::new(move || {
                let l = SafeUnixListener::builder(&safe_path)
                    .mode(0o660)
                    .group(gid.as_raw())
                    .bind()
                    .unwrap();
                drop(l);
            })),
        });
        variants.push(Variant {
            name: "bare",
            run: time(Box::new(move || {
                drop(SafeUnixListener::bind(&bare_path).unwrap())
            })),
        });
        names.push(format!("remove_file + tokio bind + chmod + chown, {label}"));
        names.push(format!(
            "SafeUnixListener, mode and group, {label}: made closed, set through its pin"
        ));
        names.push(format!("SafeUnixListener, nothing asked, {label}"));
    }
    let samples = interleave(rounds, &mut variants);
    for i in [0, 3] {
        table(
            &format!(
                "Bind with a mode and group in a directory others may write: {BINDS} binds a block, {rounds} rounds"
            ),
            "µs/bind",
            &[&names[i], &names[i + 1], &names[i + 2]],
            &samples[i..i + 3],
            0,
        );
    }
}
