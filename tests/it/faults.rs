//! Fault injection: each system call of the bind, the takeover and the
//! directory creation is made to fail once with `strace -e inject`, and
//! the bind must then fail with a typed error whose message names the step
//! and the cause, and leave the directory exactly as the test made it.
//!
//! A few calls only tidy up (removing the private directory) or have a
//! fallback (`renameat2` without support, opening a private directory that
//! was swapped): there the bind succeeds, and what it could not remove is
//! removed by the next bind in the directory.

use std::fs;
use std::path::Path;

use safe_unix_listener::SafeUnixListener;

use crate::support::{
    Outcome, have_strace, invocation, listing, make_stale, run_injected, runtime, skip_unless_root,
    tempdir,
};

/// What is at the path before the bind.
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Free,
    Stale,
    /// Free, in a directory `new` that the bind must create.
    Missing,
}

/// What the bind must do with the fault.
#[derive(Clone, Copy)]
enum Expect {
    /// Fail with this kind, and these words in the message.
    Fails(&'static str, &'static [&'static str]),
    /// Succeed, leaving behind only names that start with this (nothing
    /// for ""); the next bind in the directory leaves it as it was made.
    Binds(&'static str),
}

/// A call to fail: (syscall, a string on its trace line, which such call,
/// errno).
type Fault = (&'static str, &'static str, usize, &'static str);

fn case(setup: Setup, takeover: bool, faults: &[Fault], expect: Expect) {
    let dir = tempdir();
    let path = match setup {
        Setup::Missing => dir.path().join("new").join("app.sock"),
        _ => dir.path().join("app.sock"),
    };
    // Each run starts from the same directory: the traced runs bind too.
    let prepare = || {
        for entry in fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap().path();
            match entry.is_dir() {
                true => fs::remove_dir_all(&entry).unwrap(),
                false => fs::remove_file(&entry).unwrap(),
            }
        }
        if setup == Setup::Stale {
            make_stale(&path);
        }
    };
    let mut env: Vec<(&str, &Path)> = vec![
        ("SUL_ADDR", &path),
        ("SUL_MODE", Path::new("660")),
        ("SUL_GROUP", Path::new("0")),
    ];
    if setup == Setup::Missing {
        env.push(("SUL_CREATE_PARENTS", Path::new("750")));
    }
    if takeover {
        env.push(("SUL_TAKEOVER", Path::new("1")));
    }
    // Each fault's invocation is found with the earlier faults injected.
    let mut specs = Vec::new();
    for &(call, needle, nth, errno) in faults {
        prepare();
        let when = invocation("helper_bind", &env, &specs, (call, needle, nth));
        specs.push(format!("{call}:error={errno}:when={when}"));
    }
    prepare();
    let before = listing(dir.path());
    let stdout = run_injected("helper_bind", &env, &specs);
    let outcome = stdout.lines().find_map(Outcome::parse);
    let shown = format!("{specs:?}");
    match expect {
        Expect::Fails(kind, words) => {
            let msg = outcome
                .unwrap_or_else(|| panic!("{shown}: no outcome in {stdout}"))
                .expect_failed(kind);
            assert!(
                msg.contains(&dir.path().display().to_string()),
                "{shown}: {msg}"
            );
            for w in words {
                assert!(msg.contains(w), "{shown}: {w:?} missing from: {msg}");
            }
        }
        Expect::Binds(leaves) => {
            assert!(
                matches!(outcome, Some(Outcome::Bound { .. })),
                "{shown}: {outcome:?}"
            );
            let left: Vec<_> = listing(dir.path()).into_iter().map(|e| e.0).collect();
            match leaves {
                "" => assert_eq!(left, Vec::<String>::new(), "{shown}"),
                _ => assert!(
                    left.len() == 1 && left[0].starts_with(leaves),
                    "{shown}: {left:?}"
                ),
            }
            let rt = runtime();
            let _enter = rt.enter();
            drop(SafeUnixListener::bind(&path).unwrap());
            // The stale socket was replaced; everything else is as made.
            let not_ours = |e: &(String, String, u64)| e.0 != "app.sock";
            let expected: Vec<_> = before.into_iter().filter(not_ours).collect();
            assert_eq!(
                listing(dir.path()),
                expected,
                "{shown}: the next bind tidied up"
            );
            return;
        }
    }
    assert_eq!(
        listing(dir.path()),
        before,
        "{shown}: the directory is as it was made"
    );
}

fn strace_as_root() -> bool {
    have_strace() && !skip_unless_root("changing the socket's group in the fault-injection tests")
}

#[test]
fn each_failing_call_gives_a_typed_error_and_leaves_nothing() {
    if !strace_as_root() {
        return;
    }
    use Expect::Fails;
    use Setup::{Free, Missing, Stale};
    let cases: &[(Setup, Fault, Expect)] = &[
        (
            Missing,
            ("mkdirat", "\"new\"", 1, "ENOSPC"),
            Fails("Other", &["cannot create directory", "ENOSPC"]),
        ),
        (
            Free,
            ("mkdirat", ".sul-", 1, "EACCES"),
            Fails("PermissionDenied", &["cannot bind", "(EACCES)"]),
        ),
        (
            Free,
            ("openat", "app.sock.lock", 1, "EIO"),
            Fails("Other", &["cannot open bind lock", "EIO"]),
        ),
        (
            Free,
            ("flock", "LOCK_EX", 1, "EIO"),
            Fails("Other", &["cannot take bind lock", "EIO"]),
        ),
        (
            Stale,
            ("socket", "AF_UNIX", 1, "EMFILE"),
            Fails(
                "ResourceExhausted",
                &["cannot probe socket", "out of file descriptors"],
            ),
        ),
        (
            Stale,
            ("connect", "app.sock", 1, "EIO"),
            Fails(
                "InUse",
                &["connecting to it failed with EIO", "not provably stale"],
            ),
        ),
        (
            Stale,
            ("unlinkat", "\"app.sock\", 0", 1, "EPERM"),
            Fails(
                "PermissionDenied",
                &["cannot remove stale socket", "(EPERM)"],
            ),
        ),
        (
            Free,
            ("socket", "AF_UNIX", 1, "EMFILE"),
            Fails(
                "ResourceExhausted",
                &["cannot create socket for", "out of file descriptors"],
            ),
        ),
        (
            Free,
            ("bind", "/proc/self/fd/", 1, "EIO"),
            Fails("Other", &["cannot bind", "EIO"]),
        ),
        (
            Free,
            ("fchmodat", "\"s\"", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot set mode of", "(EPERM)"]),
        ),
        (
            Free,
            ("fchownat", "\"s\"", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot change owner of", "CAP_CHOWN"]),
        ),
        (
            Free,
            ("listen", "", 1, "ENOBUFS"),
            Fails("ResourceExhausted", &["cannot listen on", "out of memory"]),
        ),
        (
            Free,
            ("renameat2", "RENAME_NOREPLACE", 1, "EIO"),
            Fails("Other", &["cannot move the new socket to", "EIO"]),
        ),
        (
            Free,
            ("renameat2", "RENAME_NOREPLACE", 1, "EEXIST"),
            Fails("InUse", &["another process put a file there"]),
        ),
        (
            Free,
            ("unlinkat", "AT_REMOVEDIR", 1, "EBUSY"),
            Expect::Binds(".sul-"),
        ),
        (Free, ("openat", ".sul-", 1, "EIO"), Expect::Binds(".sul-")),
        (
            Free,
            ("renameat2", "RENAME_NOREPLACE", 1, "ENOSYS"),
            Expect::Binds(""),
        ),
    ];
    for (setup, fault, expect) in cases {
        case(*setup, false, &[*fault], *expect);
    }
}

#[test]
fn the_fallbacks_fail_cleanly_too() {
    if !strace_as_root() {
        return;
    }
    // Without renameat2, the socket is hard-linked into place.
    let no_renameat2 = ("renameat2", "RENAME_NOREPLACE", 1, "ENOSYS");
    case(
        Setup::Free,
        false,
        &[no_renameat2, ("linkat", "app.sock", 1, "EIO")],
        Expect::Fails("Other", &["cannot move the new socket to", "EIO"]),
    );
    // Without an atomic exchange, a takeover checks, then renames.
    let no_exchange = ("renameat2", "RENAME_EXCHANGE", 1, "EINVAL");
    case(Setup::Stale, true, &[no_exchange], Expect::Binds(""));
    case(
        Setup::Stale,
        true,
        &[no_exchange, ("renameat", "app.sock", 1, "EIO")],
        Expect::Fails("Other", &["cannot take over", "EIO"]),
    );
}

/// The drop cannot always remove the socket; then it leaves it, and the
/// next bind finds it stale and removes it.
#[test]
fn a_drop_that_cannot_unlink_leaves_a_stale_socket_for_the_next_bind() {
    if !strace_as_root() {
        return;
    }
    // The bind takes two flocks (the bind lock, the private directory); the
    // drop's bind lock is the third.
    case(
        Setup::Free,
        false,
        &[("flock", "LOCK_EX", 3, "EIO")],
        Expect::Binds("app.sock"),
    );
    case(
        Setup::Free,
        false,
        &[("unlinkat", "\"app.sock\", 0", 1, "EIO")],
        Expect::Binds("app.sock"),
    );
}

#[test]
fn a_takeover_whose_swap_fails_leaves_the_old_socket() {
    if !strace_as_root() {
        return;
    }
    case(
        Setup::Stale,
        true,
        &[("renameat2", "RENAME_EXCHANGE", 1, "EIO")],
        Expect::Fails("Other", &["cannot take over", "EIO"]),
    );
}
