//! `SafeUnixDatagram`: the listener's guarantees for a datagram receiver,
//! the sender's credentials per datagram, and real clients (`logger`,
//! `socat`) sending to it.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram as StdDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use safe_unix_listener::{BindErrorKind, Builder, SafeUnixDatagram, SafeUnixListener};

use crate::support::{
    Fixture, Holder, NOBODY, Outcome, exists, helper, in_runtime, ino, listing,
    make_stale_with_mode, run_helper, runtime, tempdir, tempdir_with_mode,
};

/// A stale datagram socket: bound by a receiver that is gone.
fn stale_datagram(path: &Path) -> u64 {
    drop(StdDatagram::bind(path).unwrap());
    ino(path)
}

/// The next datagram on `rx`, with a 20 s limit.
async fn next(rx: &SafeUnixDatagram) -> (Vec<u8>, safe_unix_listener::PeerInfo) {
    let mut buf = vec![0; 4096];
    let (n, peer) = tokio::time::timeout(Duration::from_secs(20), rx.recv_with_peer(&mut buf))
        .await
        .expect("a datagram within 20 s")
        .unwrap();
    buf.truncate(n);
    (buf, peer)
}

#[test]
fn a_stale_datagram_socket_is_replaced_and_drop_removes_only_ours() {
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let stale = stale_datagram(&path);
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        let _ = stale; // (tmpfs may reuse the inode number: the receive shows it was replaced)
        StdDatagram::unbound()
            .unwrap()
            .send_to(b"a:1|c", &path)
            .unwrap();
        let (data, _) = next(&rx).await;
        assert_eq!(data, b"a:1|c");
        // A successor's socket at the path is left alone by our drop.
        std::fs::remove_file(&path).unwrap();
        let successor = StdDatagram::bind(&path).unwrap();
        let theirs = ino(&path);
        drop(rx);
        assert_eq!(ino(&path), theirs, "our drop left the successor's socket");
        drop(successor);
        std::fs::remove_file(&path).unwrap();
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        drop(rx);
        assert!(!exists(&path), "our own socket is removed on drop");
    });
}

/// A live datagram receiver keeps its socket and keeps receiving; live
/// stream and seqpacket listeners are refused with their type named; a
/// regular file is kept byte for byte.
#[test]
fn live_sockets_of_any_type_and_files_are_left_alone() {
    let dir = tempdir();
    in_runtime(|_| {
        let path = dir.path().join("live.sock");
        let live = StdDatagram::bind(&path).unwrap();
        let before = ino(&path);
        for e in [
            SafeUnixDatagram::bind(&path).unwrap_err(),
            SafeUnixListener::bind(&path).unwrap_err(),
        ] {
            assert_eq!(e.kind(), BindErrorKind::InUse, "{e}");
            assert!(
                e.to_string()
                    .contains("a live datagram socket is bound there (a receiver"),
                "{e}"
            );
        }
        assert_eq!(ino(&path), before);
        StdDatagram::unbound()
            .unwrap()
            .send_to(b"still", &path)
            .unwrap();
        let mut buf = [0; 8];
        assert_eq!(live.recv(&mut buf).unwrap(), 5, "it still receives");

        let stream = dir.path().join("stream.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&stream).unwrap();
        let e = SafeUnixDatagram::bind(&stream).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::InUse);
        assert!(e.to_string().contains(") is listening on it"), "{e}");

        let seqpacket = dir.path().join("seq.sock");
        let fd = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            nix::sys::socket::SockFlag::empty(),
            None,
        )
        .unwrap();
        nix::sys::socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &nix::sys::socket::UnixAddr::new(&seqpacket).unwrap(),
        )
        .unwrap();
        nix::sys::socket::listen(&fd, nix::sys::socket::Backlog::new(128).unwrap()).unwrap();
        let e = SafeUnixDatagram::bind(&seqpacket).unwrap_err();
        assert!(
            e.to_string()
                .contains("is listening on it with a seqpacket socket"),
            "{e}"
        );

        let file = dir.path().join("file.sock");
        std::fs::write(&file, b"keep me").unwrap();
        let e = SafeUnixDatagram::bind(&file).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::NotASocket);
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    });
}

/// The Ergo case for a datagram receiver: a root-owned stale socket in a
/// sticky directory, and a restart as uid 65534.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the Ergo case as uid 65534")]
fn the_ergo_case_for_a_datagram_receiver_names_the_owner_and_eperm() {
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("syslog.sock");
    let before = make_stale_with_mode(&path, 0o777);
    let (outcome, _, _) = run_helper(
        helper("helper_bind", Some(NOBODY))
            .env("SUL_ADDR", &path)
            .env("SUL_DATAGRAM", "1"),
    );
    let msg = outcome.expect_failed("PermissionDenied");
    for words in [
        "owned by uid 0",
        "we run as uid 65534",
        "is sticky, so only the owner may remove it (EPERM)",
    ] {
        assert!(msg.contains(words), "{words:?} missing from: {msg}");
    }
    assert_eq!(ino(&path), before, "nothing was changed");
}

#[test]
fn six_racing_receivers_one_wins() {
    let dir = tempdir();
    let path = dir.path().join("race.sock");
    let holders = Holder::race_with(6, &path, &[("SUL_DATAGRAM", "1")]);
    let won = holders
        .iter()
        .filter(|h| matches!(h.outcome, Outcome::Bound { .. }))
        .count();
    assert_eq!(
        won,
        1,
        "{:?}",
        holders.iter().map(|h| &h.outcome).collect::<Vec<_>>()
    );
    for h in holders {
        h.release();
    }
    assert_eq!(listing(dir.path()), vec![], "nothing is left");
}

/// The sender's uid, gid and pid per datagram, from root and from uid
/// 65534; with `allow_uids([0])`, uid 65534's datagrams never arrive.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 65534")]
fn each_datagram_names_its_sender_and_allow_uids_drops_the_others() {
    let dir = tempdir_with_mode(0o755);
    let path = dir.path().join("creds.sock");
    let send_as = |uid: Option<u32>, text: &str| {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import socket, sys, os\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
             s.sendto(sys.argv[2].encode(), sys.argv[1])\n\
             print(os.getpid())",
        ])
        .arg(&path)
        .arg(text);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<i32>()
            .unwrap()
    };
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::builder(&path)
            .mode(0o622)
            .bind_datagram()
            .unwrap();
        let nobody = send_as(Some(NOBODY), "from nobody");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"from nobody");
        assert_eq!(
            (peer.uid(), peer.gid(), peer.pid()),
            (Some(NOBODY), Some(NOBODY), Some(nobody))
        );
        let root = send_as(None, "from root");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"from root");
        assert_eq!(
            (peer.uid(), peer.gid(), peer.pid()),
            (Some(0), Some(0), Some(root))
        );
        drop(rx);

        let rx = Builder::new(&path)
            .mode(0o622)
            .allow_uids([0])
            .bind_datagram()
            .unwrap();
        send_as(Some(NOBODY), "dropped");
        send_as(None, "kept");
        let (data, peer) = next(&rx).await;
        assert_eq!(data, b"kept", "uid 65534's datagram never reached us");
        assert_eq!(peer.uid(), Some(0));
    });
    let mode = std::fs::metadata(&path).map(|m| m.permissions().mode());
    assert!(mode.is_err(), "removed on drop");
}

/// Real clients nobody here wrote: util-linux `logger -u` (syslog) and
/// `socat UNIX-SENDTO`.
#[test]
fn logger_and_socat_reach_the_receiver() {
    let dir = tempdir();
    let path = dir.path().join("log.sock");
    let rt = runtime();
    rt.block_on(async {
        let rx = SafeUnixDatagram::bind(&path).unwrap();
        let out = Command::new("logger")
            .args(["-u"])
            .arg(&path)
            .args(["-t", "sul-test", "hello from logger"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (data, peer) = next(&rx).await;
        let line = String::from_utf8_lossy(&data);
        assert!(
            line.contains("sul-test") && line.ends_with("hello from logger"),
            "{line}"
        );
        assert_eq!(peer.uid(), Some(nix::unistd::geteuid().as_raw()));

        let mut socat = Command::new("socat")
            .args(["-", &format!("UNIX-SENDTO:{}", path.display())])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut socat.stdin.take().unwrap(), b"requests:1|c").unwrap();
        assert!(socat.wait().unwrap().success());
        let (data, _) = next(&rx).await;
        assert_eq!(data, b"requests:1|c");
    });
}

/// Run by `systemd-socket-activate`: adopts the passed datagram socket and
/// prints the first datagram, or what went wrong.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_datagram_activation() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        match SafeUnixDatagram::from_activation() {
            Ok(Some(rx)) => {
                let (data, peer) = next(&rx).await;
                println!("\nGOT {}", String::from_utf8_lossy(&data));
                println!("\nFROM uid={:?} pid={:?}", peer.uid(), peer.pid());
                println!("\nUNLINK {}", rx.unlink_on_drop());
            }
            Ok(None) => println!("\nNONE"),
            Err(e) => println!("\nFAILED {:?} {e}", e.kind()),
        }
    });
}

/// `systemd-socket-activate` with `--datagram` or without, running the
/// helper above; returns its output.
fn activated(datagram: bool, path: &Path) -> String {
    let cmd = helper("datagram::helper_datagram_activation", None);
    let mut activate = Command::new("systemd-socket-activate");
    if datagram {
        activate.arg("--datagram");
    }
    activate
        .arg("-l")
        .arg(path)
        .args(["-E", "SUL_HELPER=1"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = crate::support::Running::from(activate.spawn().unwrap());
    crate::support::wait_for_file(path);
    // The first datagram, or connection, starts the helper.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sent = match datagram {
            true => StdDatagram::unbound()
                .unwrap()
                .send_to(b"hello", path)
                .map(drop),
            false => std::os::unix::net::UnixStream::connect(path).map(drop),
        };
        if sent.is_ok() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = crate::support::finish(child);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn a_passed_datagram_socket_is_adopted_and_a_stream_one_refused() {
    let dir = tempdir();
    let path = dir.path().join("log.sock");
    let out = activated(true, &path);
    assert!(out.contains("GOT hello"), "{out}");
    assert!(
        out.contains("UNLINK false"),
        "a passed socket is never unlinked: {out}"
    );
    assert!(exists(&path));

    let path = dir.path().join("stream.sock");
    let out = activated(false, &path);
    assert!(
        out.contains(
            "FAILED InvalidActivation cannot use the socket passed by the service manager: 1 descriptor(s) were passed, but none is a Unix datagram socket"
        ),
        "{out}"
    );
}

/// The metrics example, as a user runs it: counters from socat summed and
/// printed, and its socket gone after SIGTERM.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: gives the socket to group 100")]
fn the_metrics_example_sums_what_socat_sends_and_cleans_up() {
    use std::io::BufRead;
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let mut server: crate::support::Running = Command::new(crate::support::example_bin("metrics"))
        .arg(&path)
        .args(["--mode", "0622", "--group", "100"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, format!("metrics receiver on {}\n", path.display()));
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o622);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 100);
    for _ in 0..3 {
        let mut socat = Command::new("socat")
            .args(["-", &format!("UNIX-SENDTO:{}", path.display())])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut socat.stdin.take().unwrap(), b"requests:2|c\n").unwrap();
        assert!(socat.wait().unwrap().success());
    }
    let uid = nix::unistd::geteuid().as_raw();
    let wanted = format!("requests 6 (from uids [{uid}])\n");
    // A report a second: 20 of them at most.
    for report in 0.. {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "it exited early");
        if line == wanted {
            break;
        }
        assert!(report < 20, "never summed to 6: {line}");
    }
    crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!exists(&path), "its socket went with it");
}

/// A sender run by python3 as `uid` (with its gid), which sends to `path`
/// what `script` says; `args` follow the path in `sys.argv`.
fn python_as(uid: u32, script: &str, path: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(path)
        .args(args)
        .uid(uid)
        .gid(uid)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// A hostile sender: one datagram with a descriptor attached (a pipe's
/// read end), one with 250 (more than any receiver's control buffer
/// holds: MSG_CTRUNC), `argv[2]` more with three each, one longer than a
/// 64 KiB buffer (MSG_TRUNC), then `requests:2|c`, plain. The queue holds
/// only a few datagrams, so it sends as fast as the receiver reads. It
/// prints how many sends the kernel refused (EPERM: the receiver refuses
/// descriptors, `SO_PASSRIGHTS`).
const HOSTILE_SENDER: &str = "import array, socket, sys, os\n\
     path, many = sys.argv[1], int(sys.argv[2])\n\
     s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
     r, w = os.pipe()\n\
     refused = 0\n\
     def send(data, fds):\n\
     \x20   global refused\n\
     \x20   rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))]\n\
     \x20   try:\n\
     \x20       s.sendmsg([data], rights, 0, path)\n\
     \x20   except PermissionError:\n\
     \x20       refused += 1\n\
     send(b'withfd:1|c', [r])\n\
     send(b'withfd:1|c', [r] * 250)\n\
     for _ in range(many):\n\
     \x20   send(b'withfd:1|c', [r, w, s.fileno()])\n\
     s.sendto(b'big:1|c\\n' + b'x' * 70000, path)\n\
     s.sendto(b'requests:2|c', path)\n\
     print(f'sent, refused {refused}')";

/// `SO_PASSRIGHTS` on `fd` turned back on, as on a kernel before 6.16,
/// where descriptors reach the receiver.
fn accept_descriptors(fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    let on: nix::libc::c_int = 1;
    // SAFETY: the option value is a live c_int of the size passed.
    let rc = unsafe {
        nix::libc::setsockopt(
            fd.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            83,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of_val(&on) as nix::libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_PASSRIGHTS: {}", std::io::Error::last_os_error());
}

/// Issue 30, item 2: uid 65534 sends a datagram with a descriptor
/// attached, one with more descriptors than fit (MSG_CTRUNC) and one
/// longer than the buffer (MSG_TRUNC), to a receiver that takes
/// descriptors (as on a kernel before 6.16). Each is dropped, its
/// descriptors closed, and the receive loop goes on: the next datagram is
/// the plain one, with its sender named.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 65534")]
fn descriptors_and_truncated_datagrams_never_end_the_receive_loop() {
    let f = Fixture::new();
    f.run(|f| {
        let rx = Builder::new(&f.path).mode(0o622).bind_datagram().unwrap();
        accept_descriptors(std::os::fd::AsFd::as_fd(rx.as_ref()));
        let sender = python_as(NOBODY, HOSTILE_SENDER, &f.path, &["3"])
            .spawn()
            .unwrap();
        let sender = crate::support::Running::from(sender);
        f.rt.block_on(async {
            let mut buf = vec![0; 65536];
            let (n, peer) =
                tokio::time::timeout(Duration::from_secs(20), rx.recv_with_peer(&mut buf))
                    .await
                    .expect("a datagram within 20 s")
                    .expect("the receive loop survives every datagram");
            assert_eq!(String::from_utf8_lossy(&buf[..n]), "requests:2|c");
            assert_eq!(peer.uid(), Some(NOBODY));
        });
        let out = crate::support::finish(sender);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "sent, refused 0\n");
    });
}

/// The metrics example on `path` with `--mode 622` (any user may send),
/// once it says it receives; and its reports.
fn start_metrics(
    path: &Path,
) -> (
    crate::support::Running,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    let mut server: crate::support::Running = Command::new(crate::support::example_bin("metrics"))
        .arg(path)
        .args(["--mode", "622"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, format!("metrics receiver on {}\n", path.display()));
    (server, out)
}

/// Reads the metrics example's reports (one a second) until `wanted`,
/// failing after `within` others; `check` sees each.
fn until_report(
    out: &mut std::io::BufReader<std::process::ChildStdout>,
    wanted: &str,
    within: usize,
    check: impl Fn(&str),
) {
    use std::io::BufRead;
    let mut line = String::new();
    for report in 0.. {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "it exited early");
        check(&line);
        if line == wanted {
            return;
        }
        assert!(
            report < within,
            "no {wanted:?} after {within} reports: {line}"
        );
    }
}

/// The number of descriptors `pid` has open.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Issue 30, item 2, as it was found: root runs the metrics example with
/// `--mode 622`, and uid 65534 sends 1,000 datagrams with three
/// descriptors each, and the others above. The kernel refuses every one
/// with descriptors at the sender (`SO_PASSRIGHTS`); the receiver keeps
/// serving, counts only the plain datagram, and has as many descriptors
/// open as before.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 65534")]
fn the_metrics_example_survives_datagrams_with_descriptors_and_leaks_none() {
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let (mut server, mut out) = start_metrics(&path);
    let before = open_descriptors(server.id());
    let sent = python_as(NOBODY, HOSTILE_SENDER, &path, &["1000"])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "the sender could not finish: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    // Every datagram with descriptors was refused at the sender.
    assert_eq!(
        String::from_utf8_lossy(&sent.stdout),
        "sent, refused 1002\n"
    );
    // A report a second: the plain datagram, counted, from uid 65534.
    let wanted = format!("requests 2 (from uids [{NOBODY}])\n");
    until_report(&mut out, &wanted, 20, |line| {
        assert!(
            !line.starts_with("withfd") && !line.starts_with("big"),
            "a dropped datagram was counted: {line}"
        );
    });
    assert_eq!(
        open_descriptors(server.id()),
        before,
        "no descriptor was kept"
    );
    crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(server.wait().unwrap().code(), Some(0));
    assert!(!exists(&path), "its socket went with it");
}

/// The sender that stalled a receiver: a loopback TCP connection whose
/// peer never reads, its send buffer full and `SO_LINGER` set to 60 s, is
/// passed in a datagram; the receiver's last close of it would wait for
/// the unsent data. It prints whether the kernel refused the pass, then
/// sends `requests:5|c`, plain, and keeps the connection open for 30 s
/// (its own close would wait for the linger).
const LINGERING_SENDER: &str = "import array, socket, struct, sys, time\n\
     path = sys.argv[1]\n\
     srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n\
     tcp = socket.create_connection(srv.getsockname()); peer, _ = srv.accept()\n\
     tcp.setblocking(False)\n\
     try:\n\
     \x20   while True: tcp.send(b'x' * 65536)\n\
     except BlockingIOError:\n\
     \x20   pass\n\
     tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 60))\n\
     s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
     rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [tcp.fileno()]))]\n\
     try:\n\
     \x20   s.sendmsg([b'linger:1|c'], rights, 0, path); print('passed', flush=True)\n\
     except PermissionError:\n\
     \x20   print('refused', flush=True)\n\
     s.sendto(b'requests:5|c', path)\n\
     time.sleep(30)";

/// Found by the third review: uid 65534 passes a lingering TCP socket to
/// the metrics example (`--mode 622`). The kernel refuses the pass at the
/// sender (`SO_PASSRIGHTS`, Linux 6.16 and later), so the receiver never
/// makes its last close, and the next datagram is counted at once. Before,
/// the receiver printed nothing until the linger ran out (13 minutes with
/// a long one), and senders blocked on its full queue.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 65534")]
fn a_passed_lingering_socket_never_stalls_the_receiver() {
    use std::io::BufRead;
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let (mut server, mut out) = start_metrics(&path);
    let mut sender: crate::support::Running = python_as(NOBODY, LINGERING_SENDER, &path, &[])
        .spawn()
        .unwrap()
        .into();
    let mut said = String::new();
    std::io::BufReader::new(sender.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(
        said, "refused\n",
        "the kernel refuses the pass at the sender"
    );
    // A report a second; the plain datagram within a few.
    let wanted = format!("requests 5 (from uids [{NOBODY}])\n");
    until_report(&mut out, &wanted, 10, |_| {});
    sender.kill().unwrap();
    crate::support::signal(&server, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(server.wait().unwrap().code(), Some(0));
}

/// Run under strace by the test below: binds a receiver at `SUL_ADDR`
/// (`SUL_MODE`, and `allow_uids` from `SUL_ALLOW_UIDS`), then prints each
/// datagram it is given, with its sender, until one says `end`.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_datagram_receiver() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let addr = std::env::var("SUL_ADDR")
            .unwrap()
            .parse::<safe_unix_listener::UnixAddr>()
            .unwrap();
        let mode = u32::from_str_radix(&std::env::var("SUL_MODE").unwrap(), 8).unwrap();
        let uids = std::env::var("SUL_ALLOW_UIDS").unwrap();
        let rx = Builder::new(addr)
            .mode(mode)
            .allow_uids(uids.split(',').map(|u| u.parse::<u32>().unwrap()))
            .bind_datagram()
            .unwrap();
        println!("\nREADY");
        loop {
            let (data, peer) = next(&rx).await;
            let data = String::from_utf8_lossy(&data);
            println!("\nGOT {data} uid={:?} pid={:?}", peer.uid(), peer.pid());
            if data == "end" {
                break;
            }
        }
    });
}

/// Issue 30, item 7: datagrams that uid 1000 sends while the bind is
/// held open just after `bind(2)` (strace delays its return by 1.5 s) are
/// queued before the receiver could ask for credentials. None of them
/// reaches a receiver that allows uids 0 and 65534 only, as 65534 (the
/// kernel's overflow uid for "no credentials") or as anything else.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: sends as uid 1000")]
fn datagrams_sent_during_the_bind_carry_credentials_and_are_judged_by_them() {
    use std::io::BufRead;
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("metrics.sock");
    let mut receiver = crate::support::helper_under_strace(
        "datagram::helper_datagram_receiver",
        &["trace=bind", "inject=bind:delay_exit=1500000"],
    );
    let receiver = receiver
        .env("SUL_ADDR", &path)
        .env("SUL_MODE", "622")
        .env("SUL_ALLOW_UIDS", format!("0,{NOBODY}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut receiver = crate::support::Running::from(receiver);
    // uid 1000 sends for 4 s, from before the bind to well after it.
    let flood = "import socket, sys, time\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         s.settimeout(0.05)\n\
         sent, end = 0, time.time() + 4\n\
         while time.time() < end:\n\
         \x20   try:\n\
         \x20       s.sendto(b'spoof', sys.argv[1]); sent += 1\n\
         \x20   except OSError:\n\
         \x20       time.sleep(0.001)\n\
         print(sent)";
    let flood = python_as(1000, flood, &path, &[]).output().unwrap();
    assert!(
        flood.status.success(),
        "{}",
        String::from_utf8_lossy(&flood.stderr)
    );
    let sent: u32 = String::from_utf8_lossy(&flood.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(sent > 0, "uid 1000 reached the socket");
    StdDatagram::unbound()
        .unwrap()
        .send_to(b"end", &path)
        .unwrap();
    let mut out = std::io::BufReader::new(receiver.stdout.take().unwrap());
    let got: Vec<String> = (&mut out)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("GOT "))
        .collect();
    let status = receiver.wait().unwrap();
    let root = format!("GOT end uid=Some(0) pid=Some({})", std::process::id());
    assert_eq!(
        got,
        vec![root],
        "only root's datagram arrives, of {sent} that uid 1000 sent"
    );
    assert!(status.success());
}

/// Issue 30, item 7, for a passed socket: systemd-socket-activate does
/// not ask for credentials, so the datagram that starts the service was
/// queued without them. It arrives with none (the kernel would say uid
/// 65534 and pid 0, its "unknown"), never as uid 65534.
#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn a_datagram_queued_before_adoption_names_no_sender() {
    let dir = tempdir();
    let path = dir.path().join("log.sock");
    let out = activated(true, &path);
    assert!(out.contains("GOT hello"), "{out}");
    assert!(out.contains("FROM uid=None pid=None"), "{out}");
}

/// Asking for the senders' credentials is a step of the bind, before
/// `bind(2)`: when it fails (strace makes it), the bind fails with a
/// typed error that names it, and leaves nothing behind.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_failure_to_ask_for_credentials_fails_the_bind_and_leaves_nothing() {
    let dir = tempdir();
    let path = dir.path().join("metrics.sock");
    let env: [(&str, &Path); 2] = [("SUL_ADDR", &path), ("SUL_DATAGRAM", Path::new("1"))];
    let when =
        crate::support::invocation("helper_bind", &env, &[], ("setsockopt", "SO_PASSCRED", 1));
    let stdout = crate::support::run_injected(
        "helper_bind",
        &env,
        &[format!("setsockopt:error=ENOPROTOOPT:when={when}")],
    );
    let msg = match stdout.lines().find_map(Outcome::parse) {
        Some(outcome @ Outcome::Failed { .. }) => outcome.expect_failed("Other"),
        other => panic!("expected the bind to fail, got {other:?} in {stdout}"),
    };
    for words in [
        format!(
            "cannot ask for the senders' credentials on {}",
            path.display()
        ),
        "ENOPROTOOPT".to_owned(),
    ] {
        assert!(msg.contains(&words), "{words:?} missing from: {msg}");
    }
    assert_eq!(listing(dir.path()), vec![], "nothing is left");
}
