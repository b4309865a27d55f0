//! Socket activation: a passed listener is used as it is, checked, never
//! unlinked, and the `LISTEN_*` variables are left alone, yet a child
//! spawned afterwards adopts nothing.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::support::{Outcome, curl, exists, finish, helper, in_runtime, ino, signal, tempdir};
use nix::sys::signal::Signal;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType};
use safe_unix_listener::SafeUnixListener;

/// Puts `fd` at descriptor 3, as a service manager would.
fn pass_as_fd3(fd: OwnedFd) {
    if fd.as_raw_fd() == 3 {
        let _ = fd.into_raw_fd();
        return;
    }
    // SAFETY: dup2 onto 3 in this single-purpose helper process, before
    // any runtime exists; the original is closed afterwards.
    assert_eq!(unsafe { nix::libc::dup2(fd.as_raw_fd(), 3) }, 3);
}

fn unix_socket(ty: SockType) -> OwnedFd {
    socket::socket(AddressFamily::Unix, ty, SockFlag::empty(), None).unwrap()
}

/// Sets up what `SUL_CASE` names at descriptor 3 and in `LISTEN_*`, then
/// reports what `from_activation` made of it.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_activation_case() {
    let Ok(case) = std::env::var("SUL_CASE") else {
        return;
    };
    let dir = std::env::var("SUL_DIR").unwrap();
    let path = format!("{dir}/passed.sock");
    let mut pid = std::process::id().to_string();
    let mut fds = "1".to_owned();
    match case.as_str() {
        "listening" | "wrong-pid" | "bad-fds" => {
            let fd = unix_socket(SockType::Stream);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            socket::listen(&fd, Backlog::new(16).unwrap()).unwrap();
            pass_as_fd3(fd);
            if case == "wrong-pid" {
                pid = "1".to_owned();
            }
            if case == "bad-fds" {
                fds = "one".to_owned();
            }
        }
        "not-listening" => {
            let fd = unix_socket(SockType::Stream);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            pass_as_fd3(fd);
        }
        "datagram" => {
            let fd = unix_socket(SockType::Datagram);
            socket::bind(
                fd.as_raw_fd(),
                &socket::UnixAddr::new(path.as_str()).unwrap(),
            )
            .unwrap();
            pass_as_fd3(fd);
        }
        "tcp" => {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            pass_as_fd3(OwnedFd::from(tcp));
        }
        // Lying counts: far more descriptors than were passed (the
        // program's own listener among them), or than the table holds.
        "lying-count" => fds = "100".to_owned(),
        "huge-count" => fds = "2147483647".to_owned(),
        "large-count" => fds = "100000000".to_owned(),
        other => panic!("unknown case {other}"),
    }
    // The program's own listener, opened before activation is read.
    let own = std::os::unix::net::UnixListener::bind(format!("{dir}/own.sock")).unwrap();
    // SAFETY: this helper process has no other threads using the environment.
    unsafe {
        std::env::set_var("LISTEN_PID", pid);
        std::env::set_var("LISTEN_FDS", fds);
        std::env::set_var("LISTEN_FDNAMES", "web");
    }

    if std::env::var_os("SUL_NO_PID").is_some() {
        // SAFETY: as above.
        unsafe { std::env::remove_var("LISTEN_PID") };
    }

    // A multi-thread runtime, as under `#[tokio::main]`, with a thread
    // reading the environment while the variables are read: nothing may
    // change the environment under it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut seen = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen += u64::from(std::env::var_os("LISTEN_FDS").is_some());
            }
            seen
        }
    });
    let outcome = SafeUnixListener::from_activation();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    // The program's own listener is intact whatever the variables said.
    let _client = std::os::unix::net::UnixStream::connect(format!("{dir}/own.sock")).unwrap();
    own.accept().unwrap();
    println!("\nOWN_OK");
    let left =
        ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"].map(|v| std::env::var_os(v).is_some());
    println!("\nENV_LEFT {left:?}");
    // A child spawned now inherits the variables, and adopts nothing.
    let child = helper("activation::helper_inherited", None)
        .env_remove("SUL_CASE")
        .output()
        .unwrap();
    let child_out = String::from_utf8_lossy(&child.stdout);
    let child_outcome = child_out.lines().find(|l| l.starts_with("CHILD "));
    println!("\n{}", child_outcome.unwrap_or("CHILD said nothing"));
    match outcome {
        Ok(Some(l)) => {
            let flags = nix::fcntl::fcntl(&l, nix::fcntl::FcntlArg::F_GETFL).unwrap();
            let fd_flags = nix::fcntl::fcntl(&l, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            println!("\nNONBLOCK {}", flags & nix::libc::O_NONBLOCK != 0);
            println!("\nCLOEXEC {}", fd_flags & nix::libc::FD_CLOEXEC != 0);
            println!("\nADDR {} UNLINK {}", l.addr(), l.unlink_on_drop());
            println!(
                "\nAGAIN {}",
                SafeUnixListener::from_activation().unwrap().is_none()
            );
            drop(l);
            println!("\nAFTER_DROP exists={}", exists(path.as_ref()));
            println!("\nOUTCOME BOUND");
        }
        Ok(None) => println!("\nOUTCOME NONE"),
        Err(e) => crate::support::report_failure(e.kind(), &e.to_string()),
    }
}

/// A child of `helper_activation_case`, with its environment: what its
/// `from_activation` makes of the inherited variables.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_inherited() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    // First thing in main, as documented: before the program opens any
    // descriptor of its own (the runtime's would be descriptor 3).
    let passed = safe_unix_listener::systemd::receive_activation();
    in_runtime(|_| {
        let adopted = passed.and_then(|_| SafeUnixListener::from_activation());
        match adopted {
            Ok(Some(l)) => println!("\nCHILD ADOPTED {}", l.addr()),
            Ok(None) => println!("\nCHILD NONE"),
            Err(e) => println!("\nCHILD FAILED {e}"),
        }
    });
}

fn run_case(case: &str) -> (Option<Outcome>, String) {
    run_case_with(case, &[])
}

fn run_case_with(case: &str, env: &[(&str, &str)]) -> (Option<Outcome>, String) {
    let dir = tempdir();
    let out = helper("activation::helper_activation_case", None)
        .env("SUL_CASE", case)
        .env("SUL_DIR", dir.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout.lines().find_map(Outcome::parse), stdout)
}

#[test]
fn a_passed_listener_is_adopted_and_never_unlinked() {
    let (outcome, out) = run_case("listening");
    assert_eq!(outcome, Some(Outcome::Bound { ino: None }), "{out}");
    assert!(
        out.contains("ENV_LEFT [true, true, true]"),
        "the environment is not changed under other threads: {out}"
    );
    assert!(out.contains("CHILD NONE"), "{out}");
    assert!(
        out.contains("NONBLOCK true") && out.contains("CLOEXEC true"),
        "{out}"
    );
    assert!(out.contains("passed.sock UNLINK false"), "{out}");
    assert!(
        out.contains("AGAIN true"),
        "each descriptor is handed out once: {out}"
    );
    assert!(out.contains("AFTER_DROP exists=true"), "{out}");
}

#[test]
fn nothing_passed_or_passed_to_another_pid_is_none() {
    let (outcome, out) = run_case("wrong-pid");
    assert!(out.contains("OUTCOME NONE"), "{outcome:?} {out}");
    assert!(out.contains("ENV_LEFT [true, true, true]"), "{out}");
    assert!(out.contains("CHILD NONE"), "{out}");

    in_runtime(|_| {
        // This test process was started with no LISTEN_* variables.
        assert!(SafeUnixListener::from_activation().unwrap().is_none());
    });
}

/// Lying `LISTEN_FDS`: refused before anything is allocated or adopted,
/// and the program's own descriptors are left alone (it used to adopt its
/// own listener a second time and abort, or allocate 68 GB).
#[test]
fn lying_counts_are_refused_before_anything_is_adopted() {
    for (case, words) in [
        ("lying-count", "LISTEN_FDS=100, but descriptor"),
        (
            "huge-count",
            "LISTEN_FDS=2147483647 is more descriptors than this process may have open (RLIMIT_NOFILE is",
        ),
        (
            "large-count",
            "LISTEN_FDS=100000000 is more descriptors than this process may have open",
        ),
    ] {
        let (outcome, out) = run_case(case);
        assert!(
            out.contains("OWN_OK"),
            "{case}: the program's own listener works: {out}"
        );
        let msg = outcome.expect(&out).expect_failed("InvalidActivation");
        assert!(msg.contains(words), "{case}: {msg}");
    }
    let (_, out) = run_case("lying-count");
    assert!(out.contains("is not open"), "{out}");
}

/// systemfd `--no-pid` (and cargo-watch between it and the server) passes
/// `LISTEN_FDS` without `LISTEN_PID`: accepted, as listenfd does.
#[test]
fn listen_fds_without_listen_pid_is_accepted() {
    let (outcome, out) = run_case_with("listening", &[("SUL_NO_PID", "1")]);
    assert_eq!(outcome, Some(Outcome::Bound { ino: None }), "{out}");
    // The child sees LISTEN_FDS=1 and no LISTEN_PID, as its parent did,
    // but descriptor 3 was closed at its exec: it adopts nothing and does
    // not fail.
    assert!(out.contains("ENV_LEFT [false, true, true]"), "{out}");
    assert!(out.contains("CHILD NONE"), "{out}");
}

#[test]
fn a_wrong_descriptor_is_a_clear_error() {
    for (case, words) in [
        ("tcp", "none is a listening Unix stream socket"),
        ("datagram", "none is a listening Unix stream socket"),
        ("not-listening", "none is a listening Unix stream socket"),
        ("bad-fds", "LISTEN_FDS=\"one\" is not a number"),
    ] {
        let (outcome, out) = run_case(case);
        let msg = outcome.expect(&out).expect_failed("InvalidActivation");
        assert!(
            msg.contains("cannot use the socket passed by the service manager"),
            "{case}: {msg}"
        );
        assert!(msg.contains(words), "{case}: {msg}");
        assert!(msg.contains("ListenStream="), "{case}: {msg}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "axum"),
    ignore = "needs the axum feature, for axum_hello"
)]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn systemd_socket_activate_runs_axum_hello_on_its_socket() {
    let dir = tempdir();
    let path = dir.path().join("activated.sock");
    let shown = path.display().to_string();
    // It creates the socket, and execs the server on the first connection.
    let server = Command::new("systemd-socket-activate")
        .args(["-l", &shown])
        .arg(crate::support::example_bin("axum_hello"))
        .arg(dir.path().join("never-bound.sock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = crate::support::Running::from(server);
    drop(crate::support::connect_when_listening(&path));
    let passed_ino = ino(&path);

    let (code, body) = curl(&["--unix-socket", &shown], "/");
    assert_eq!(
        (code, body.as_str()),
        (200, "hello from axum over a Unix socket, uid 0\n")
    );
    assert!(
        !dir.path().join("never-bound.sock").exists(),
        "ADDR was not bound"
    );

    signal(&server, Signal::SIGTERM);
    let out = finish(server);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("listening on {shown}")));
    let meta = std::fs::symlink_metadata(&path).expect("a passed socket is never unlinked");
    assert_eq!(meta.ino(), passed_ino);
}

#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn a_named_socket_is_found_by_its_name() {
    // from_activation_named through systemd-socket-activate --fdname.
    let dir = tempdir();
    let path = dir.path().join("named.sock");
    let cmd = helper("activation::helper_named", None);
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut activate = Command::new("systemd-socket-activate");
    activate
        .arg("-l")
        .arg(&path)
        .args(["--fdname=api", "-E", "SUL_HELPER=1"])
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = crate::support::Running::from(activate.spawn().unwrap());
    // The first connection starts the helper.
    let _client = crate::support::connect_when_listening(&path);
    let out = finish(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OTHER_NAME none"), "{stdout}");
    assert!(
        stdout.contains(&format!("NAMED {}", path.display())),
        "{stdout}"
    );
    assert!(exists(&path));
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_named() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    in_runtime(|_| {
        let other = SafeUnixListener::from_activation_named("admin").unwrap();
        println!(
            "\nOTHER_NAME {}",
            if other.is_none() { "none" } else { "some" }
        );
        let api = SafeUnixListener::from_activation_named("api")
            .unwrap()
            .expect("the api socket");
        println!("\nNAMED {}", api.addr());
    });
}

/// What a program started by `systemd-socket-activate` with three sockets
/// (`a`, `b`, and a TCP listener `tcp`) does with them, per `SUL_WHAT`.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_three_passed() {
    let Ok(what) = std::env::var("SUL_WHAT") else {
        return;
    };
    in_runtime(|_| {
        match what.as_str() {
            "named-then-child" => {
                let a = SafeUnixListener::from_activation_named("a")
                    .unwrap()
                    .expect("a");
                // A child started now must hold none of the passed descriptors.
                let out = Command::new("sh")
                    .args(["-c", "ls /proc/$$/fd"])
                    .output()
                    .unwrap();
                let fds: Vec<String> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                println!("\nCHILD_FDS {}", fds.join(","));
                println!("\nTOOK {}", a.addr());
            }
            "all" => {
                let all = SafeUnixListener::from_activation_all().unwrap();
                for (name, l) in &all.listeners {
                    println!("\nLISTENER {} {}", name.as_deref().unwrap_or("-"), l.addr());
                }
                for other in &all.others {
                    println!("\nOTHER {} {}", other.fd, other.what);
                }
                println!(
                    "\nAGAIN {}",
                    SafeUnixListener::from_activation_all()
                        .unwrap()
                        .listeners
                        .len()
                );
            }
            other => panic!("unknown {other}"),
        }
    });
}

/// Runs [`helper_three_passed`] under `systemd-socket-activate` with two
/// Unix sockets and a TCP listener (or, with `three_unix`, a third Unix
/// socket `c`); returns its stdout.
fn three_passed(what: &str, three_unix: bool) -> String {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cmd = helper("activation::helper_three_passed", None);
    let mut activate = Command::new("systemd-socket-activate");
    activate
        .arg("-l")
        .arg(&a)
        .arg("-l")
        .arg(&b)
        .arg("-l")
        .arg(match three_unix {
            true => dir.path().join("c.sock").display().to_string(),
            false => format!("127.0.0.1:{port}"),
        })
        .arg(if three_unix {
            "--fdname=a:b:c"
        } else {
            "--fdname=a:b:tcp"
        })
        .args(["-E", &format!("SUL_WHAT={what}")])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = crate::support::Running::from(activate.spawn().unwrap());
    // The first connection starts the helper.
    let _client = crate::support::connect_when_listening(&a);
    let out = finish(child);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        exists(&a) && exists(&b),
        "passed sockets are never unlinked"
    );
    stdout.replace(&dir.path().display().to_string(), "DIR")
}

#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn a_child_inherits_none_of_the_passed_descriptors() {
    let out = three_passed("named-then-child", false);
    assert!(out.contains("TOOK DIR/a.sock"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("CHILD_FDS "))
        .expect(&out);
    let fds: Vec<&str> = line["CHILD_FDS ".len()..].split(',').collect();
    for passed in ["4", "5"] {
        assert!(
            !fds.contains(&passed),
            "the child holds descriptor {passed}: {line}"
        );
    }
}

#[test]
#[cfg_attr(
    sul_no_socket_activate,
    ignore = "needs systemd-socket-activate (systemd)"
)]
fn from_activation_all_returns_every_unix_listener_and_reports_the_rest() {
    let out = three_passed("all", true);
    for name in ["a", "b", "c"] {
        assert!(
            out.contains(&format!("LISTENER {name} DIR/{name}.sock")),
            "{out}"
        );
    }
    assert!(!out.contains("OTHER"), "{out}");
    let out = three_passed("all", false);
    assert!(out.contains("LISTENER a DIR/a.sock"), "{out}");
    assert!(out.contains("LISTENER b DIR/b.sock"), "{out}");
    assert!(
        out.contains("OTHER 5 is a TCP/IP socket, not a Unix socket"),
        "{out}"
    );
    assert!(out.contains("AGAIN 0"), "each is handed out once: {out}");
}
