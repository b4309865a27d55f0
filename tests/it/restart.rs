//! Restarts that hold end to end, with real processes: a socket held by
//! `systemfd --no-pid` across restarts of the server behind an
//! intermediate process (as cargo-watch would be), and a `Type=notify`
//! takeover. Clients hammer the socket throughout; none may be refused.

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Running, curl, example_bin, finish, ino, tempdir};

/// One HTTP/1.0 request over a new connection: whether it got a 200.
fn served(path: &Path) -> Result<(), String> {
    let mut c = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    c.read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    match answer.starts_with("HTTP/1.") && answer.get(8..13) == Some(" 200 ") {
        true => Ok(()),
        false => Err(format!("answer: {answer:?}")),
    }
}

/// Clients on two threads sending requests until stopped; counts of
/// answered requests, refused connections and other failures.
struct Hammer {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<Tally>>,
}

impl Hammer {
    fn start(path: &Path) -> Self {
        let (stop, ok) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let threads = (0..2)
            .map(|_| {
                let (path, stop, ok) = (path.to_owned(), stop.clone(), ok.clone());
                thread::spawn(move || {
                    let mut tally = Tally::default();
                    while !stop.load(Ordering::Relaxed) {
                        match served(&path) {
                            Ok(()) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) if e.starts_with("connect") => {
                                tally.refused += 1;
                                tally.first.get_or_insert(e);
                            }
                            Err(e) => {
                                tally.other += 1;
                                tally.first.get_or_insert(e);
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, ok, threads }
    }

    /// Waits for `n` more answered requests; fails the test after 30 s
    /// rather than hanging.
    fn wait_for(&self, n: u64) {
        let target = self.ok.load(Ordering::Relaxed) + n;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.ok.load(Ordering::Relaxed) < target {
            assert!(
                std::time::Instant::now() < deadline,
                "requests stopped being answered"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for t in self.threads {
            let t = t.join().unwrap();
            all.refused += t.refused;
            all.other += t.other;
            all.first = all.first.or(t.first);
        }
        all.ok = self.ok.load(Ordering::Relaxed);
        all
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    /// `connect` failed: the socket was missing or refused.
    refused: u64,
    /// Connected, but no answer (reset, or a non-200).
    other: u64,
    first: Option<String>,
}

/// The pid the intermediate process wrote for its current server.
fn server_pid(pidfile: &Path, not: Option<i32>) -> i32 {
    loop {
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&p| Some(p) != not)
        {
            return pid;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Recipe 2: the socket belongs to `systemfd --no-pid`, which passes it
/// through an intermediate process that restarts the server whenever it
/// exits (as cargo-watch does). A restart keeps the socket, and requests
/// made meanwhile wait in its backlog for the new server.
#[test]
#[cfg_attr(
    not(feature = "axum"),
    ignore = "needs the axum feature, for axum_hello"
)]
#[cfg_attr(
    sul_no_systemfd,
    ignore = "needs systemfd (cargo install systemfd --locked)"
)]
fn a_socket_held_by_systemfd_survives_restarts_with_no_refused_client() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let pidfile = dir.path().join("server.pid");
    let stopfile = dir.path().join("stop");
    let restarter = format!(
        "while [ ! -e '{}' ]; do \"$0\" \"$@\" & echo $! > '{}'; wait $!; done",
        stopfile.display(),
        pidfile.display()
    );
    let holder: Running = Command::new("systemfd")
        .args(["--no-pid", "-b", "128", "-s"])
        .arg(format!("unix::{}", path.display()))
        .args(["--", "sh", "-c", &restarter])
        .arg(example_bin("axum_hello"))
        .arg(dir.path().join("never-bound.sock"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    drop(crate::support::connect_when_listening(&path));
    let passed = ino(&path);
    let shown = path.display().to_string();
    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!(
        (code, body.as_str()),
        (200, "hello from axum over a Unix socket, uid 0\n")
    );

    let hammer = Hammer::start(&path);
    hammer.wait_for(100);
    let mut pid = server_pid(&pidfile, None);
    for _ in 0..3 {
        kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
        pid = server_pid(&pidfile, Some(pid));
        hammer.wait_for(100);
    }
    // Connections the old server accepted just before its graceful stop,
    // with no request read yet, are closed by hyper: they count as
    // `other`. What the socket promises is that none is refused.
    let tally = hammer.stop();
    eprintln!("systemfd restarts: {tally:?}");
    assert_eq!(tally.refused, 0, "{tally:?}");
    assert!(tally.ok >= 400, "{tally:?}");
    assert_eq!(
        ino(&path),
        passed,
        "the passed socket was kept and never unlinked"
    );
    assert!(
        !dir.path().join("never-bound.sock").exists(),
        "ADDR was never bound"
    );

    std::fs::write(&stopfile, "").unwrap();
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    finish(holder);
}

/// Recipe 1: a `Type=notify` service that binds its own socket. The new
/// instance takes over, reports `READY=1`, and only then does the old one
/// get SIGTERM (and report `STOPPING=1`).
#[test]
#[cfg_attr(
    not(feature = "axum"),
    ignore = "needs the axum feature, for axum_hello"
)]
fn a_notify_service_restarts_by_takeover_with_no_refused_client() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let notify = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&notify).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let next = || {
        let mut buf = [0; 256];
        let n = manager.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let start = |args: &[&Path]| -> Running {
        Command::new(example_bin("axum_hello"))
            .args(args)
            .env("NOTIFY_SOCKET", &notify)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
            .into()
    };
    let old = start(&[&path]);
    assert_eq!(next(), "READY=1");
    let hammer = Hammer::start(&path);
    hammer.wait_for(100);

    let new = start(&[Path::new("--takeover"), &path]);
    assert_eq!(next(), "READY=1", "the new instance is ready");
    hammer.wait_for(100);
    kill(Pid::from_raw(old.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(next(), "STOPPING=1", "the old instance is stopping");
    assert_eq!(finish(old).status.code(), Some(0));
    hammer.wait_for(100);
    let tally = hammer.stop();
    eprintln!("notify takeover: {tally:?}");
    assert_eq!((tally.refused, tally.other), (0, 0), "{tally:?}");

    kill(Pid::from_raw(new.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(next(), "STOPPING=1");
    assert_eq!(finish(new).status.code(), Some(0));
    assert!(!path.exists(), "the last instance removed its socket");
}
