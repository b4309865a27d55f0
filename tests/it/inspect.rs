//! `inspect`, `clean_stale` and the `sul` command, against real servers
//! that do not use this crate (python's `socket` module), the Ergo case run
//! as uid 65534, and every row of the README's behaviour table: `inspect`
//! first, which must change nothing, then a bind, which must do what the
//! inspection predicted, with the same message.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use safe_unix_listener::diagnosis::{FileType, Found, Parents, inspect};
use safe_unix_listener::{BindError, SafeUnixListener, UnixAddr};
use serde_json::Value;

use crate::support::{
    NOBODY, Outcome, Running, executable_by_all, exists, finish, helper, in_runtime, ino, listing,
    make_stale, make_stale_with_mode, run_helper, tempdir, tempdir_with_mode,
};

/// Runs `sul ARGS`, as `uid` if given.
fn sul(uid: Option<u32>, args: &[&str]) -> Output {
    let mut cmd = Command::new(executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul"))));
    cmd.args(args).current_dir("/");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.output().unwrap()
}

/// `sul inspect --json ADDR`: its exit code and report.
fn sul_inspect(uid: Option<u32>, addr: &str) -> (i32, Value) {
    let out = sul(uid, &["inspect", "--json", addr]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (out.status.code().unwrap(), report)
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a python `script` with `arg`, and waits until it prints `ready`.
fn python(script: &str, arg: &Path) -> Running {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(arg)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    child.into()
}

/// A server that does not use this crate: python's `socket` module,
/// listening on `path` until killed.
fn python_server(path: &Path) -> Running {
    python(
        "import socket, sys, time\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.bind(sys.argv[1])\n\
         s.listen()\n\
         print('ready', flush=True)\n\
         time.sleep(120)",
        path,
    )
}

// ---- the Ergo case, with the `sul` command ------------------------------

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the Ergo case as uid 65534")]
fn the_ergo_case_inspected_and_cleaned_by_uid_65534_then_by_root() {
    // A root-owned stale socket in a sticky directory, which uid 65534 may
    // connect to (so it is provably stale) but not remove.
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("ergo_websocket");
    let before = make_stale_with_mode(&path, 0o777);
    let shown = path.display().to_string();

    let (code, report) = sul_inspect(Some(NOBODY), &shown);
    assert_eq!(code, 3, "stale: {report:#}");
    assert_eq!(report["found"], "stale");
    assert_eq!(report["removable"], false);
    assert_eq!(report["euid"], NOBODY);
    assert_eq!(report["file"]["uid"], 0);
    assert_eq!(report["bind"]["kind"], "PermissionDenied");
    let why = report["bind"]["error"].as_str().unwrap();
    for words in [
        &format!("cannot remove stale socket {shown}") as &str,
        "owned by uid 0",
        "we run as uid 65534",
        &format!(
            "{} is sticky, so only the owner may remove it (EPERM)",
            dir.path().display()
        ),
        "remove it as uid 0",
    ] {
        assert!(why.contains(words), "{words:?} missing from: {why}");
    }
    // The text report says the same.
    let (code, stdout, _) = text(&sul(Some(NOBODY), &["inspect", &shown]));
    assert_eq!(code, 3);
    assert!(
        stdout.starts_with(&format!("{shown}: a stale socket: nobody listens")),
        "{stdout}"
    );
    assert!(
        stdout.contains("removable: no, not by us (uid 65534)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("a bind now: fails: {why}")),
        "{stdout}"
    );

    let (code, _, stderr) = text(&sul(Some(NOBODY), &["clean", &shown]));
    assert_eq!(
        (code, stderr.trim_end()),
        (1, format!("sul: {why}").as_str())
    );
    assert_eq!(ino(&path), before, "uid 65534 changed nothing");

    let (code, stdout, _) = text(&sul(None, &["clean", &shown]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, format!("removed the stale socket {shown}\n").as_str())
    );
    assert!(!exists(&path));
    assert_eq!(
        listing(dir.path()),
        vec![],
        "no lock file or anything else left"
    );
}

#[test]
fn a_live_python_server_is_named_with_its_pid_and_command_and_never_cleaned() {
    let dir = tempdir();
    let path = dir.path().join("py.sock");
    let server = python_server(&path);
    let shown = path.display().to_string();

    let (code, report) = sul_inspect(None, &shown);
    assert_eq!(code, 4, "live: {report:#}");
    assert_eq!(report["found"], "live");
    assert_eq!(report["server"]["pid"], server.id());
    assert_eq!(report["server"]["uid"], 0);
    let command = report["server"]["command"].as_str().unwrap();
    assert!(
        command.contains("python3 -c import socket, sys, time\\ns = socket"),
        "{command}"
    );
    assert!(command.ends_with(&format!(" {shown}")), "{command}");
    assert_eq!(report["bind"]["kind"], "InUse");

    let (code, stdout, _) = text(&sul(None, &["inspect", &shown]));
    assert_eq!(code, 4);
    assert!(
        stdout.contains(&format!("  server: pid {}, uid 0, gid 0: ", server.id()))
            && stdout.contains(" -c import socket"),
        "{stdout}"
    );

    let before = ino(&path);
    let (code, _, stderr) = text(&sul(None, &["clean", &shown]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "a server (pid {}) is listening on it",
            server.id()
        )),
        "{stderr}"
    );
    assert_eq!(ino(&path), before);
}

#[test]
fn sul_wait_returns_once_a_server_appears_and_gives_up_on_a_stale_socket() {
    let dir = tempdir();
    let path = dir.path().join("later.sock");
    let shown = path.display().to_string();
    let exe = executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul")));
    let waiting: Running = Command::new(&exe)
        .args(["wait", &shown, "--timeout", "30s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    std::thread::sleep(Duration::from_secs(1));
    let mut waiting = waiting;
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "it waits while nothing is there"
    );
    let _server = python_server(&path);
    let out = finish(waiting);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let stale = dir.path().join("stale.sock");
    make_stale(&stale);
    let (code, _, stderr) = text(&sul(
        None,
        &["wait", &stale.display().to_string(), "--timeout", "300ms"],
    ));
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "sul: no server accepted within 300ms; {}: a stale socket: nobody listens (connection refused)\n",
            stale.display()
        )
    );
    let (code, _, stderr) = text(&sul(None, &["wait", &shown, "--timeout", "soon"]));
    assert_eq!(code, 2, "a bad timeout is a usage error");
    assert!(
        stderr.contains("\"soon\" is not a duration such as 10s, 500ms or 2m"),
        "{stderr}"
    );
}

// ---- inspect, then bind: they agree, row by row -------------------------

/// Inspects `addr` (changing nothing in `dir`), then binds it, and checks
/// that the bind did what the inspection said, with the same message.
/// Returns what was found.
fn agree(addr: &UnixAddr, dir: Option<&Path>) -> Found {
    let before = dir.map(listing);
    let report = inspect(addr);
    assert_eq!(
        dir.map(listing),
        before,
        "inspect changed something:\n{report}"
    );
    in_runtime(|_| {
        let bound: Result<_, BindError> = SafeUnixListener::builder(addr.clone()).bind();
        match (report.bind(), &bound) {
            (Ok(()), Ok(_)) => {}
            (Err(predicted), Err(actual)) => {
                assert_eq!(predicted.kind(), actual.kind(), "{report}");
                assert_eq!(predicted.to_string(), actual.to_string());
            }
            (predicted, actual) => {
                panic!("inspect predicted {predicted:?}, the bind gave {actual:?}")
            }
        }
        report.found().clone()
    })
}

/// The same, as uid 65534: `sul inspect --json`, then a bind in a helper.
fn agree_as_nobody(path: &Path) -> Value {
    let before = listing(path.parent().unwrap());
    let (_, report) = sul_inspect(Some(NOBODY), &path.display().to_string());
    assert_eq!(
        listing(path.parent().unwrap()),
        before,
        "inspect changed something"
    );
    let (outcome, _, _) = run_helper(helper("helper_bind", Some(NOBODY)).env("SUL_ADDR", path));
    match outcome {
        Outcome::Bound { .. } => assert_eq!(report["bind"]["ok"], true, "{report:#}"),
        Outcome::Failed { kind, message } => {
            assert_eq!(report["bind"]["kind"], kind.as_str(), "{report:#}");
            assert_eq!(report["bind"]["error"], message.as_str());
        }
    }
    report
}

#[test]
fn row_nothing_at_the_path() {
    let dir = tempdir();
    let addr = dir.path().join("app.sock").try_into().unwrap();
    assert_eq!(agree(&addr, Some(dir.path())), Found::Free);
}

#[test]
fn row_a_stale_socket() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    make_stale(&path);
    let found = agree(&path.try_into().unwrap(), Some(dir.path()));
    assert!(
        matches!(
            found,
            Found::Stale {
                removable: true,
                ..
            }
        ),
        "{found:?}"
    );
}

#[test]
fn row_a_live_socket_accepting_or_with_its_queue_full() {
    let dir = tempdir();
    let path = dir.path().join("py.sock");
    let server = python_server(&path);
    let found = agree(&path.clone().try_into().unwrap(), Some(dir.path()));
    assert!(
        matches!(&found, Found::Live(s) if s.pid == Some(server.id() as i32)),
        "{found:?}"
    );

    let full = dir.path().join("full.sock");
    let _clients = listener_with_full_queue(&full);
    assert_eq!(
        agree(&full.try_into().unwrap(), Some(dir.path())),
        Found::QueueFull
    );
}

/// A listener with a backlog of 0, and the clients that fill its queue.
fn listener_with_full_queue(path: &Path) -> (OwnedFd, Vec<OwnedFd>) {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, UnixAddr as Sock, bind, connect, listen, socket,
    };
    let new = |flags| socket(AddressFamily::Unix, SockType::Stream, flags, None).unwrap();
    let server = new(SockFlag::empty());
    let addr = Sock::new(path).unwrap();
    bind(server.as_raw_fd(), &addr).unwrap();
    listen(&server, Backlog::new(0).unwrap()).unwrap();
    let mut clients = Vec::new();
    loop {
        let client = new(SockFlag::SOCK_NONBLOCK);
        match connect(client.as_raw_fd(), &addr) {
            Ok(()) => clients.push(client),
            Err(nix::errno::Errno::EAGAIN) => return (server, clients),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn row_a_file_directory_fifo_or_symlink() {
    let dir = tempdir();
    let file = dir.path().join("file");
    std::fs::write(&file, "data").unwrap();
    let subdir = dir.path().join("dir");
    std::fs::create_dir(&subdir).unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink("file", &link).unwrap();
    for (path, file_type) in [
        (file, FileType::Regular),
        (subdir, FileType::Directory),
        (fifo, FileType::Fifo),
        (link, FileType::Symlink),
    ] {
        let found = agree(&path.try_into().unwrap(), Some(dir.path()));
        assert!(
            matches!(found, Found::NotASocket(i) if i.file_type == file_type),
            "{found:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("file")).unwrap(),
        "data"
    );
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn row_a_stale_socket_we_may_not_remove() {
    // EPERM in a sticky directory, EACCES in one we may not write.
    for (mode, errno) in [(0o1777, "(EPERM)"), (0o755, "(EACCES)")] {
        let dir = tempdir_with_mode(mode);
        let path = dir.path().join("app.sock");
        make_stale_with_mode(&path, 0o777);
        let report = agree_as_nobody(&path);
        assert_eq!(
            (&report["found"], &report["removable"]),
            (&"stale".into(), &false.into())
        );
        assert_eq!(report["bind"]["kind"], "PermissionDenied");
        assert!(
            report["bind"]["error"].as_str().unwrap().contains(errno),
            "{report:#}"
        );
    }
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn row_a_socket_we_may_not_connect_to() {
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    make_stale_with_mode(&path, 0o755); // uid 65534 may not connect

    let report = agree_as_nobody(&path);
    assert_eq!(report["found"], "no_access");
    assert!(
        report["bind"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot probe socket"),
        "{report:#}"
    );
}

#[test]
fn row_a_missing_parent_directory() {
    let dir = tempdir();
    let addr = dir.path().join("missing/app.sock").try_into().unwrap();
    assert_eq!(agree(&addr, Some(dir.path())), Found::ParentMissing);
    assert_eq!(listing(dir.path()), vec![]);
}

#[test]
fn rows_a_path_too_long_or_invalid_are_refused_before_either_looks() {
    let long = format!("/tmp/{}", "x".repeat(200));
    for bad in [long.as_str(), "", "/tmp/."] {
        let parsed = bad.parse::<UnixAddr>().unwrap_err();
        let (code, _, stderr) = text(&sul(None, &["inspect", bad]));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&parsed.to_string()), "{stderr}");
    }
}

#[test]
fn row_something_that_is_not_a_regular_file_at_the_lock_path() {
    // Lock files are used where others may write the directory.
    let dir = tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("app.sock.lock")).unwrap();
    let report = inspect(&path.clone().try_into().unwrap());
    assert_eq!(
        report.lock(),
        safe_unix_listener::diagnosis::LockState::Unusable
    );
    assert_eq!(
        agree(&path.try_into().unwrap(), Some(dir.path())),
        Found::Free
    );
}

#[test]
fn row_an_abstract_name_free_or_taken() {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return;
    }
    let addr: UnixAddr = format!("@sul-inspect-test-{}", std::process::id())
        .parse()
        .unwrap();
    assert_eq!(agree(&addr, None), Found::Free);
    in_runtime(|_| {
        let _taken = SafeUnixListener::builder(addr.clone()).bind().unwrap();
        let found = agree(&addr, None);
        assert!(
            matches!(&found, Found::Live(s) if s.pid == Some(std::process::id() as i32)),
            "{found:?}"
        );
    });
}

#[test]
fn clean_stale_never_touches_a_live_socket_or_another_file() {
    let dir = tempdir();
    let path = dir.path().join("py.sock");
    let _server = python_server(&path);
    let before = ino(&path);
    let err = safe_unix_listener::diagnosis::clean_stale(
        &path.clone().try_into().unwrap(),
        Parents::Check,
    )
    .unwrap_err();
    assert_eq!(err.kind(), safe_unix_listener::BindErrorKind::InUse);
    assert_eq!(ino(&path), before);
    let nothing: UnixAddr = dir.path().join("none.sock").try_into().unwrap();
    assert!(!safe_unix_listener::diagnosis::clean_stale(&nothing, Parents::Check).unwrap());
}

#[test]
fn sul_inspect_exit_codes_for_free_and_blocked_and_clean_of_nothing() {
    let dir = tempdir();
    let free = dir.path().join("free.sock").display().to_string();
    let (code, report) = sul_inspect(None, &free);
    assert_eq!((code, &report["verdict"]), (0, &"free".into()));
    let (code, stdout, _) = text(&sul(None, &["clean", &free]));
    assert_eq!(
        (code, stdout),
        (0, format!("nothing to remove at {free}\n"))
    );

    let file = dir.path().join("notes");
    std::fs::write(&file, "data").unwrap();
    let (code, report) = sul_inspect(None, &file.display().to_string());
    assert_eq!((code, &report["found"]), (5, &"not_a_socket".into()));
    assert_eq!(report["file"]["type"], "regular file");
    let (code, report) = sul_inspect(None, &dir.path().join("no/app.sock").display().to_string());
    assert_eq!((code, &report["found"]), (5, &"parent_missing".into()));
}

#[test]
fn a_held_bind_lock_and_an_unsafe_parent_are_reported_and_agree_with_the_bind() {
    let dir = tempdir_with_mode(0o777); // writable by others, not sticky
    let path = dir.path().join("app.sock");
    let lock = dir.path().join("app.sock.lock");
    // Another process holds the bind lock, as a bind in progress does.
    let _holder = python(
        "import fcntl, sys, time\n\
         f = open(sys.argv[1], 'w')\n\
         fcntl.flock(f, fcntl.LOCK_EX)\n\
         print('ready', flush=True)\n\
         time.sleep(120)",
        &lock,
    );

    let (code, report) = sul_inspect(None, &path.display().to_string());
    assert_eq!((code, &report["lock"]), (0, &"held".into()), "{report:#}");
    assert_eq!(report["bind"]["kind"], "InUse");
    let parent = report["parent_error"].as_str().unwrap();
    assert!(
        parent.contains(&format!("directory {}", dir.path().display())),
        "{parent}"
    );
    // The bind waits for the lock, then says what inspect said.
    let found = agree(&path.try_into().unwrap(), Some(dir.path()));
    assert_eq!(found, Found::Free);
}

// ---- a hostile user against `sul` ----------------------------------------

/// `sul ARGS` under strace, with each `connect` held 100 ms: the window in
/// which a path probed by name could be redirected.
fn sul_with_slow_connect(args: &[&str]) -> Output {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=connect"])
        .args(["-e", "inject=connect:delay_enter=100000"])
        .arg(executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul"))))
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

/// uid 65534 owns `att` and flips its link `att/d`, in a tight loop,
/// between root's directory holding a live root socket and its own holding
/// a stale socket, while root runs `sul clean`, `sul inspect` and binds of
/// `att/d/app.sock`, each connect held 100 ms. The probe used to connect by
/// path while the unlink went through the directory opened first: root's
/// live socket was deleted, and `inspect` called it stale. Now `clean`
/// refuses the chain, and what `inspect` and the bind decide is decided on
/// the directory they opened.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: races uid 65534")]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_link_flipped_by_another_user_never_gets_a_live_socket_removed() {
    // It also puts a new stale socket in its directory whenever one was
    // removed, so that every run has something to find there.
    const FLIPPER: &str = r#"
import os, socket, sys
d = sys.argv[1]
stale = os.path.join(os.path.dirname(d), "stale")
targets = [stale, os.path.join(os.path.dirname(os.path.dirname(d)), "live")]
tmp = d + ".new"
print("ready", flush=True)
n = 0
while True:
    try:
        os.symlink(targets[n % 2], tmp)
        os.rename(tmp, d)
        if n % 64 == 0 and not os.path.lexists(os.path.join(stale, "app.sock")):
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.join(stale, "app.sock"))
            s.close()
    except OSError:
        pass
    n += 1
"#;
    let base = tempdir_with_mode(0o755);
    let live_dir = base.path().join("live");
    std::fs::create_dir(&live_dir).unwrap();
    let live = std::os::unix::net::UnixListener::bind(live_dir.join("app.sock")).unwrap();
    let live_ino = ino(&live_dir.join("app.sock"));
    let att = base.path().join("att");
    std::fs::create_dir_all(att.join("stale")).unwrap();
    make_stale(&att.join("stale/app.sock"));
    for p in [att.join("stale/app.sock"), att.join("stale"), att.clone()] {
        std::os::unix::fs::lchown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let link = att.join("d");
    let mut flipper = Command::new("python3");
    flipper
        .args(["-c", FLIPPER])
        .arg(&link)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(Stdio::piped());
    let mut flipper: Running = flipper.spawn().unwrap().into();
    let mut line = String::new();
    BufReader::new(flipper.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let shown = link.join("app.sock").display().to_string();
    let live_is_intact = |after: &str| {
        let now = std::fs::symlink_metadata(live_dir.join("app.sock"))
            .unwrap_or_else(|e| panic!("root's live socket was deleted by {after}: {e}"));
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&now),
            live_ino,
            "root's live socket was replaced after {after}"
        );
        let _client = std::os::unix::net::UnixStream::connect(live_dir.join("app.sock"))
            .unwrap_or_else(|e| panic!("root's live socket is unreachable after {after}: {e}"));
        live.accept().unwrap();
    };

    // Every run is checked against the live socket at once; the words of
    // the refusals after all runs.
    let mut refusals = Vec::new();
    for _ in 0..12 {
        let (code, _, stderr) = text(&sul_with_slow_connect(&["clean", &shown]));
        live_is_intact("sul clean");
        refusals.push((code, stderr));
    }
    // Told to trust the directories, it cleans, and still decides on the
    // directory it opened: the attacker's stale socket goes, root's live
    // one stays.
    let mut trusted = Vec::new();
    for _ in 0..12 {
        let (code, stdout, stderr) = text(&sul_with_slow_connect(&[
            "clean",
            "--trust-parents",
            &shown,
        ]));
        live_is_intact("sul clean --trust-parents");
        trusted.push((code, stdout, stderr));
    }
    let mut reports = Vec::new();
    for _ in 0..8 {
        let out = sul_with_slow_connect(&["inspect", "--json", &shown]);
        live_is_intact("sul inspect");
        reports.push(serde_json::from_slice::<Value>(&out.stdout).unwrap());
    }
    for _ in 0..6 {
        let (outcome, _, _) = run_helper(
            crate::support::helper_under_strace(
                "helper_bind",
                &["trace=connect", "inject=connect:delay_enter=100000"],
            )
            .env("SUL_ADDR", &shown),
        );
        live_is_intact("a bind");
        if let Outcome::Failed { kind, message } = outcome {
            assert_eq!(kind, "InUse", "{message}");
        }
    }
    for (code, stderr) in refusals {
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "sul: cannot clean {shown}: nothing there was probed or touched: "
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("is owned by uid {NOBODY}, and we run as uid 0")),
            "{stderr}"
        );
    }
    for (code, stdout, stderr) in trusted {
        match code {
            0 => assert!(
                stdout == format!("removed the stale socket {shown}\n")
                    || stdout == format!("nothing to remove at {shown}\n"),
                "{stdout}"
            ),
            _ => assert!(
                stderr.contains("is listening on it; stop that server first"),
                "{stderr}"
            ),
        }
    }
    for report in reports {
        // A verdict about root's socket is "live"; a stale verdict is about
        // the attacker's own socket, and says so.
        match report["found"].as_str() {
            Some("stale") => assert_eq!(report["file"]["uid"], NOBODY, "{report:#}"),
            Some("live") => assert_eq!(report["server"]["uid"], 0, "{report:#}"),
            _ => panic!("{report:#}"),
        }
        assert!(report["parent_error"].is_string(), "{report:#}");
    }
}

/// An unprivileged server with a 256 MiB command line (set with
/// `prctl(PR_SET_MM, PR_SET_MM_MAP)` over untouched zero pages, which cost
/// it nothing): `sul inspect` reads the first 4 KiB and says it cut. It
/// used to read it all, and grew to 258 MiB.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: the server runs as uid 65534")]
fn a_huge_command_line_is_read_only_in_part() {
    const SERVER: &str = r#"
import ctypes, mmap, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
size = 256 << 20
area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
area[:21] = b"python3-huge-cmdline\0"
start = ctypes.addressof(ctypes.c_char.from_buffer(area))
stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
field = lambda n: int(stat[n - 3])
auxv = open("/proc/self/auxv", "rb").read()
aux = ctypes.create_string_buffer(auxv, len(auxv))
libc = ctypes.CDLL(None, use_errno=True)
libc.sbrk.restype = ctypes.c_void_p
class Map(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("start_code", "end_code", "start_data", "end_data",
        "start_brk", "brk", "start_stack", "arg_start", "arg_end", "env_start", "env_end")] + \
        [("auxv", ctypes.c_void_p), ("auxv_size", ctypes.c_uint32), ("exe_fd", ctypes.c_int32)]
m = Map(field(26), field(27), field(45), field(46), field(47), libc.sbrk(0), field(28),
        start, start + size, field(50), field(51), ctypes.addressof(aux), len(auxv), -1)
PR_SET_MM, PR_SET_MM_MAP = 35, 14
if libc.prctl(PR_SET_MM, PR_SET_MM_MAP, ctypes.byref(m), ctypes.sizeof(m), 0) != 0:
    print("prctl failed", os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
print("ready", flush=True)
sys.stdin.read()
"#;
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let mut server = Command::new("python3");
    server
        .args(["-c", SERVER])
        .arg(&path)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut server: Running = server.spawn().unwrap().into();
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    // Measured from a small python parent: `ru_maxrss` also counts the
    // memory of the process that forked, up to its `exec`, and this test
    // process is larger than the bound.
    const MEASURE: &str = r#"
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print("EXIT", os.waitstatus_to_exitcode(status), "MAXRSS_KIB", usage.ru_maxrss)
"#;
    let out = Command::new("python3")
        .args(["-c", MEASURE])
        .arg(executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul"))))
        .args(["inspect", &path.display().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split(' ').collect();
    assert_eq!(words[..2], ["EXIT", "4"], "live: {stdout}");
    let max_rss_mib = words[3].parse::<u64>().unwrap() / 1024;
    assert!(
        max_rss_mib < 64,
        "sul inspect grew to {max_rss_mib} MiB reading a 256 MiB command line"
    );
    assert!(
        stdout.contains(&format!(
            ", uid {NOBODY}, gid {NOBODY}: python3-huge-cmdline"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(" …(cut)"), "{stdout}");
}

/// A file name chosen to attack a terminal: ESC sequences (set the title,
/// clear the screen), BEL, and U+202E (right-to-left override). Every
/// output of `sul`, in text and JSON, and every message, shows them
/// escaped; not one raw byte of them reaches the terminal.
#[test]
fn a_file_name_with_terminal_escapes_is_printed_escaped() {
    let dir = tempdir();
    let name = "a\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}kcos.x";
    let escaped = "a\\e]0;owned\\u{7}\\e[2J\\u{202e}kcos.x";
    let stale = dir.path().join(name);
    make_stale(&stale);
    let file = dir.path().join(format!("{name}.file"));
    std::fs::write(&file, b"data").unwrap();
    let raw = |bytes: &[u8]| {
        bytes.contains(&0x1b)
            || bytes.contains(&0x07)
            || bytes.windows(3).any(|w| w == "\u{202e}".as_bytes())
    };
    let shown = |p: &Path| p.to_str().unwrap().to_owned();
    for args in [
        vec!["inspect".to_owned(), shown(&stale)],
        vec!["inspect".to_owned(), "--json".to_owned(), shown(&stale)],
        vec!["inspect".to_owned(), shown(&file)],
        vec!["clean".to_owned(), shown(&file)],
        vec![
            "wait".to_owned(),
            "--timeout".to_owned(),
            "50ms".to_owned(),
            shown(&file),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sul(None, &args);
        let both = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            !raw(&both),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&both)
        );
        let printed = String::from_utf8_lossy(&both);
        let expected = match args[1] {
            // JSON escapes the backslash once more.
            "--json" => escaped.replace('\\', "\\\\"),
            _ => escaped.to_owned(),
        };
        assert!(printed.contains(&expected), "{args:?}: {printed}");
    }
    // A bind's message, through `Display`.
    in_runtime(|_| {
        let e = SafeUnixListener::bind(&file).unwrap_err();
        let message = e.to_string();
        assert!(!raw(message.as_bytes()), "{message:?}");
        assert!(message.contains(&format!("{escaped}.file")), "{message}");
        assert!(
            message.contains("a regular file is in the way"),
            "{message}"
        );
    });
}

// ---- sockets of other types ----------------------------------------------

/// A python socket of `kind` (`SOCK_DGRAM`, `SOCK_SEQPACKET`) bound at
/// `path`, listening if it is a seqpacket one, until killed.
fn python_socket(kind: &str, path: &Path) -> Running {
    python(
        &format!(
            "import socket, sys, time\n\
             s = socket.socket(socket.AF_UNIX, socket.{kind})\n\
             s.bind(sys.argv[1])\n\
             if s.type == socket.SOCK_SEQPACKET: s.listen()\n\
             print('ready', flush=True)\n\
             time.sleep(120)"
        ),
        path,
    )
}

/// A live datagram receiver and a live seqpacket listener: named by type,
/// live for `sul inspect` (exit 4), refused by a bind, and untouched. They
/// used to be "cannot tell what is there" (exit 5) and a bind's
/// "connecting to it failed with EPROTOTYPE".
#[test]
fn live_sockets_of_every_type_are_named_and_left_alone() {
    for (kind, text_words, json_type, bind_words) in [
        (
            "SOCK_DGRAM",
            "a live datagram socket is bound there",
            "datagram",
            "a live datagram socket is bound there (a receiver, such as a log or metrics daemon)",
        ),
        (
            "SOCK_SEQPACKET",
            "a live server is listening (a seqpacket socket)",
            "seqpacket",
            "is listening on it with a seqpacket socket",
        ),
    ] {
        let dir = tempdir();
        let path = dir.path().join("app.sock");
        let _server = python_socket(kind, &path);
        let before = ino(&path);
        let shown = path.display().to_string();

        let (code, stdout, _) = text(&sul(None, &["inspect", &shown]));
        assert_eq!(code, 4, "{kind}: {stdout}");
        assert!(stdout.contains(text_words), "{kind}: {stdout}");
        let (code, report) = sul_inspect(None, &shown);
        assert_eq!((code, &report["found"]), (4, &Value::from("live")));
        assert_eq!(report["server"]["type"], json_type, "{report:#}");

        in_runtime(|_| {
            let e = SafeUnixListener::bind(&path).unwrap_err();
            assert_eq!(e.kind(), safe_unix_listener::BindErrorKind::InUse, "{e}");
            assert!(e.to_string().contains(bind_words), "{kind}: {e}");
            assert_eq!(ino(&path), before, "{kind}: the live socket was left alone");
        });
    }
}

/// A stale socket of any type is removed by a bind.
#[test]
fn stale_sockets_of_every_type_are_replaced() {
    for kind in ["SOCK_DGRAM", "SOCK_SEQPACKET"] {
        let dir = tempdir();
        let path = dir.path().join("app.sock");
        drop(python_socket(kind, &path)); // killed: its socket file stays
        assert!(exists(&path));
        let (code, _) = sul_inspect(None, &path.display().to_string());
        assert_eq!(code, 3, "{kind}: stale");
        in_runtime(|_| {
            let l = SafeUnixListener::bind(&path).unwrap();
            drop(l);
        });
    }
}

/// A socket whose name is not UTF-8, which any user can make, is inspected
/// and cleaned like any other, and printed escaped: `sul` used to refuse
/// the argument ("invalid UTF-8 was detected", exit 2).
#[test]
fn sul_names_a_socket_whose_name_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir();
    let path = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.sock"));
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // stale
    let run = |args: &[&std::ffi::OsStr]| {
        let exe = executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul")));
        Command::new(exe)
            .args(args)
            .current_dir("/")
            .output()
            .unwrap()
    };
    let escaped = format!("{}/caf\\xe9.sock", dir.path().display());

    let out = run(&["inspect".as_ref(), "--json".as_ref(), path.as_os_str()]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    assert_eq!(report["found"], "stale");
    assert_eq!(report["addr"], escaped.as_str());

    let mut prefixed = std::ffi::OsString::from("unix:");
    prefixed.push(&path);
    let out = run(&["clean".as_ref(), prefixed.as_os_str()]);
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("removed the stale socket {escaped}\n"));
    assert!(!exists(&path));
}

/// `sul clean` in a directory every user may write (a shared `emptyDir`)
/// refuses, and says it never looked: not "cannot remove stale socket" for
/// a live socket or for nothing at all. Both are left as they were.
#[test]
fn sul_clean_in_a_shared_directory_says_it_never_looked() {
    let dir = crate::support::tempdir_with_mode(0o777);
    let live_path = dir.path().join("live.sock");
    let _live = std::os::unix::net::UnixListener::bind(&live_path).unwrap();
    let before = ino(&live_path);
    let nothing = dir.path().join("nothing.sock");
    for path in [&live_path, &nothing] {
        let (code, stdout, stderr) = text(&sul(None, &["clean", &path.display().to_string()]));
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "sul: cannot clean {}: nothing there was probed or touched: directory {} is \
                 writable by every user and not sticky (mode 0777)",
                path.display(),
                dir.path().display()
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("stale"), "it never probed: {stderr}");
        assert!(stderr.contains("--trust-parents"), "{stderr}");
    }
    assert_eq!(ino(&live_path), before, "the live socket is untouched");
    assert!(!exists(&nothing));
}
