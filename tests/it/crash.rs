//! A crash leaves nothing that the next start does not clear: a bind or a
//! takeover killed (SIGKILL, from `strace -e inject=CALL:signal=KILL`) at
//! the calls that once left a leftover, then a plain start.

use std::fs;
use std::path::Path;

use crate::support::{Outcome, invocation, run_helper, run_injected, tempdir, tempdir_with_mode};

/// `sul ARGS`: what it printed.
fn sul(args: &[&str]) -> String {
    sul_as(None, args)
}

/// `sul ARGS` as `uid` (root if `None`): what it printed.
fn sul_as(uid: Option<u32>, args: &[&str]) -> String {
    use std::os::unix::process::CommandExt;
    let exe = crate::support::executable_by_all(Path::new(env!("CARGO_BIN_EXE_sul")));
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args).current_dir("/");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `helper_bind` with `env`, killed at the `nth` call of `call` whose trace
/// line holds `needle`; `prepare` runs before the traced run that finds
/// that call and before the killed one.
fn killed_at(env: &[(&str, &Path)], (call, needle, nth): (&str, &str, usize), prepare: &dyn Fn()) {
    prepare();
    let when = invocation("helper_bind", env, &[], (call, needle, nth));
    prepare();
    let stdout = run_injected(
        "helper_bind",
        env,
        &[format!("{call}:signal=KILL:when={when}")],
    );
    assert!(
        !stdout.contains("OUTCOME"),
        "killed at {call} {needle:?} before it reported: {stdout}"
    );
}

/// A plain start with `env` (no takeover): it binds, and leaves the
/// directory empty at its drop.
fn next_start_clears(dir: &Path, path: &Path) {
    let (outcome, status, stdout) =
        run_helper(crate::support::helper("helper_bind", None).env("SUL_ADDR", path));
    assert!(status.success(), "{stdout}");
    assert!(matches!(outcome, Outcome::Bound { .. }), "{outcome:?}");
    assert_eq!(names(dir), Vec::<String>::new(), "nothing left");
}

/// In a directory others may write, the bind lock is a file beside the
/// socket, and it holds the crate's marker from its first instant: made
/// unnamed (`O_TMPFILE`), written, then linked. Killed just before the
/// link, the bind leaves nothing; killed just after it (at the `flock`),
/// it leaves a lock file with the marker, which the next start removes.
/// It used to leave an empty `app.sock.lock` that no start ever removed.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_bind_killed_around_its_lock_file_leaves_nothing_the_next_start_keeps() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    let env: &[(&str, &Path)] = &[("SUL_ADDR", &path), ("SUL_MODE", Path::new("660"))];
    let clear = || {
        for name in names(dir.path()) {
            fs::remove_file(dir.path().join(name)).unwrap();
        }
    };
    killed_at(env, ("linkat", "app.sock.lock", 1), &clear);
    assert_eq!(
        names(dir.path()),
        Vec::<String>::new(),
        "killed before the link"
    );
    killed_at(env, ("flock", "LOCK_EX", 1), &clear);
    assert_eq!(
        names(dir.path()),
        vec!["app.sock.lock"],
        "killed after the link"
    );
    assert_eq!(
        fs::read(dir.path().join("app.sock.lock")).unwrap(),
        b"safe-unix-listener bind lock\n"
    );
    let report = sul(&["inspect", path.to_str().unwrap()]);
    assert!(
        report.contains(&format!(
            "leftover: lock file {}.lock, left by a bind of uid 0 (root) that did not finish; the next bind as uid 0 (root) removes it",
            path.display()
        )),
        "{report}"
    );
    next_start_clears(dir.path(), &path);
}

/// An empty lock file (a crash between its creation and its first write
/// where there is no `O_TMPFILE`, or a file another program made) is
/// reported by `inspect` with its owner, used as the lock, and never
/// removed.
#[test]
fn an_empty_lock_file_is_reported_used_and_kept() {
    let dir = tempdir_with_mode(0o777);
    let path = dir.path().join("app.sock");
    fs::write(dir.path().join("app.sock.lock"), b"").unwrap();
    let report = sul(&["inspect", path.to_str().unwrap()]);
    assert!(
        report.contains(&format!(
            "leftover: empty lock file {}.lock, owned by uid {}",
            path.display(),
            nix::unistd::geteuid()
        )),
        "{report}"
    );
    assert!(report.contains("no bind removes it"), "{report}");
    let json = sul(&["inspect", "--json", path.to_str().unwrap()]);
    assert!(json.contains("\"kind\": \"empty_lock_file\""), "{json}");
    let (outcome, _, stdout) =
        run_helper(crate::support::helper("helper_bind", None).env("SUL_ADDR", &path));
    assert!(matches!(outcome, Outcome::Bound { .. }), "{stdout}");
    assert_eq!(names(dir.path()), vec!["app.sock.lock"]);
}

/// A takeover killed between its swap and the removal of the old socket
/// it swapped into its private directory leaves `.app.sock.sul/s`. Once
/// the old server is gone, `inspect` reports the directory and who left
/// it, and the next plain start, in a directory only we write, finds it
/// by its name and removes it. Plain starts there used to keep it forever.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_takeover_killed_after_its_swap_leaves_nothing_the_next_start_keeps() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let env: &[(&str, &Path)] = &[("SUL_ADDR", &path), ("SUL_TAKEOVER", Path::new("1"))];
    let old = std::cell::RefCell::new(None);
    let live_old_server = || {
        old.borrow_mut().take();
        let _ = fs::remove_dir_all(dir.path().join(".app.sock.sul"));
        let _ = fs::remove_file(&path);
        *old.borrow_mut() = Some(std::os::unix::net::UnixListener::bind(&path).unwrap());
    };
    killed_at(env, ("unlinkat", "\"s\", 0", 1), &live_old_server);
    old.borrow_mut().take(); // the old server exits
    assert_eq!(names(dir.path()), vec![".app.sock.sul", "app.sock"]);
    // Root sees its lock free; uid 65534, who may not open it, is told too.
    for uid in [None, Some(crate::support::NOBODY)] {
        let report = sul_as(uid, &["inspect", path.to_str().unwrap()]);
        assert!(
            report.contains(&format!(
                "leftover: private directory {}, left by a bind or takeover of uid 0 (root) that did not finish",
                dir.path().join(".app.sock.sul").display()
            )),
            "{uid:?}: {report}"
        );
    }
    next_start_clears(dir.path(), &path);
}
