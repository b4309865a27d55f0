//! Fault injection: each system call of the bind, the takeover and the
//! directory creation is made to fail once with `strace -e inject`, and
//! the bind must then fail with a typed error whose message names the step
//! and the cause, and leave the directory exactly as the test made it.
//!
//! Each runs in the routes of the bind: in a directory only we may write
//! (bound at the path itself, mode and owner set before it listens), in
//! one every user may write (bound at the path with its mode and group
//! given as it is created) and, for a takeover, in a private directory,
//! then moved into place.
//!
//! A few calls only tidy up (removing the private directory) or have a
//! fallback (`renameat2` without support, opening a private directory that
//! was swapped, pinning the new socket's inode with `O_PATH`, asking
//! `sock_diag` which file our socket is bound to): there the bind
//! succeeds, and what it could not remove is removed by the next bind in
//! the directory.

use std::fs;
use std::path::Path;

use safe_unix_listener::SafeUnixListener;

use crate::support::{
    Outcome, in_runtime, invocation, listing, make_stale, run_injected, tempdir, tempdir_with_mode,
};

/// Which route of the bind a case takes, by who may write the directory.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Route {
    /// Only we (0700): bound at the path itself.
    Own,
    /// Every user, not sticky (0777): bound at the path, mode and group
    /// given at creation.
    Shared,
    /// A takeover in a directory every user may write: bound in a private
    /// directory, then moved.
    Private,
}

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

fn case(route: Route, setup: Setup, takeover: bool, faults: &[Fault], expect: Expect) {
    let dir = match route {
        Route::Own => tempdir(),
        Route::Shared | Route::Private => tempdir_with_mode(0o777),
    };
    let takeover = takeover || route == Route::Private;
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
        ("SUL_GROUP", Path::new("33")),
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
    let shown = format!("{route:?} {specs:?}");
    match expect {
        Expect::Fails(kind, words) => {
            let msg = match outcome {
                Some(Outcome::Failed { .. }) => outcome.unwrap().expect_failed(kind),
                _ => panic!("{shown}: expected a {kind} failure in {stdout}"),
            };
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
            in_runtime(|_| {
                // Leftovers of a private directory go with the next bind
                // that makes one.
                let on_existing = match takeover {
                    true => safe_unix_listener::OnExisting::TakeOver,
                    false => safe_unix_listener::OnExisting::RemoveStale,
                };
                let next = SafeUnixListener::builder(&path);
                drop(next.on_existing(on_existing).bind().unwrap());
                // The stale socket was replaced; everything else is as made.
                let not_ours = |e: &(String, String, u64)| e.0 != "app.sock";
                let expected: Vec<_> = before.into_iter().filter(not_ours).collect();
                assert_eq!(
                    listing(dir.path()),
                    expected,
                    "{shown}: the next bind tidied up"
                );
            });
            return;
        }
    }
    assert_eq!(
        listing(dir.path()),
        before,
        "{shown}: the directory is as it was made"
    );
}

/// Faults that fail the bind the same way in either route.
const EITHER_ROUTE: &[(Setup, Fault, Expect)] = &[
    (
        Setup::Missing,
        ("mkdirat", "\"new\"", 1, "ENOSPC"),
        Expect::Fails("Other", &["cannot create directory", "ENOSPC"]),
    ),
    (
        Setup::Free,
        ("flock", "LOCK_EX", 1, "EIO"),
        Expect::Fails("Other", &["cannot take bind lock", "EIO"]),
    ),
    (
        Setup::Stale,
        ("socket", "AF_UNIX", 1, "EMFILE"),
        Expect::Fails(
            "ResourceExhausted",
            &["cannot probe socket", "out of file descriptors"],
        ),
    ),
    (
        Setup::Stale,
        ("connect", "app.sock", 1, "EIO"),
        Expect::Fails(
            "InUse",
            &["connecting to it failed with EIO", "not provably stale"],
        ),
    ),
    (
        Setup::Stale,
        ("unlinkat", "\"app.sock\", 0", 1, "EPERM"),
        Expect::Fails(
            "PermissionDenied",
            &["cannot remove stale socket", "(EPERM)"],
        ),
    ),
    (
        Setup::Free,
        ("socket", "AF_UNIX", 1, "EMFILE"),
        Expect::Fails(
            "ResourceExhausted",
            &["cannot create socket for", "out of file descriptors"],
        ),
    ),
    (
        Setup::Free,
        ("listen", "", 1, "ENOBUFS"),
        Expect::Fails("ResourceExhausted", &["cannot listen on", "out of memory"]),
    ),
];

#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: changing the socket's group")]
fn each_failing_call_gives_a_typed_error_and_leaves_nothing() {
    use Expect::Fails;
    use Setup::Free;
    for route in [Route::Own, Route::Shared] {
        for (setup, fault, expect) in EITHER_ROUTE {
            case(route, *setup, false, &[*fault], *expect);
        }
    }
    // At the path itself.
    let own: &[(Fault, Expect)] = &[
        (
            ("bind", "app.sock", 1, "EIO"),
            Fails("Other", &["cannot bind", "EIO"]),
        ),
        (
            ("bind", "app.sock", 1, "EADDRINUSE"),
            Fails("InUse", &["another process put a file there"]),
        ),
        (
            ("fchmodat", "\"app.sock\"", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot set mode of", "(EPERM)"]),
        ),
        (
            ("fchownat", "\"app.sock\"", 1, "EPERM"),
            Fails(
                "PermissionDenied",
                &[
                    "cannot change owner of",
                    "a system-call filter refused fchownat",
                ],
            ),
        ),
        // The access ACL the directory may have given it, read once.
        (
            (
                "lgetxattr",
                "app.sock\", \"system.posix_acl_access",
                1,
                "EIO",
            ),
            Fails("Other", &["cannot set mode of", "EIO"]),
        ),
    ];
    for (fault, expect) in own {
        case(Route::Own, Free, false, &[*fault], *expect);
    }
    // No descriptor left to pin the new socket's inode: where only we may
    // write the directory, the device and inode number alone, as on macOS.
    case(
        Route::Own,
        Free,
        false,
        &[("openat", "O_PATH", 1, "EMFILE")],
        Expect::Binds(""),
    );
    // At the path, in a directory others may write: the socket is made
    // closed (fchmod 000 before the bind), then given its group, ACL and
    // mode through the O_PATH descriptor that pins it.
    let at_creation: &[(Fault, Expect)] = &[
        (
            ("fchmod", "000", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot bind", "(EPERM)"]),
        ),
        (
            ("bind", "app.sock", 1, "EIO"),
            Fails("Other", &["cannot bind", "EIO"]),
        ),
        (
            ("bind", "app.sock", 1, "EADDRINUSE"),
            Fails("InUse", &["another process put a file there"]),
        ),
        // No descriptor left to pin it: nothing can be set through it.
        (
            ("openat", "O_PATH", 1, "EMFILE"),
            Fails(
                "ResourceExhausted",
                &["cannot set mode of", "out of file descriptors"],
            ),
        ),
        // A filter refused fchownat: the filesystem gid gives the group.
        (("fchownat", "AT_EMPTY_PATH", 1, "EPERM"), Expect::Binds("")),
        // The access ACL the directory may have given it, read once.
        (
            ("getxattr", "system.posix_acl_access", 1, "EIO"),
            Fails("Other", &["cannot set mode of", "EIO"]),
        ),
        (
            ("chmod", "/proc/self/fd/", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot set mode of", "(EPERM)"]),
        ),
        // Netlink refused (RestrictAddressFamilies=AF_UNIX, say), or
        // `sock_diag` not answering: the owner, mode and group check.
        (
            ("socket", "AF_NETLINK", 1, "EAFNOSUPPORT"),
            Expect::Binds(""),
        ),
        (("sendto", "", 1, "EPERM"), Expect::Binds("")),
        (("recvfrom", "", 1, "EIO"), Expect::Binds("")),
    ];
    for (fault, expect) in at_creation {
        case(Route::Shared, Free, false, &[*fault], *expect);
    }
    // And where setfsgid is refused too, the first refusal is named.
    case(
        Route::Shared,
        Free,
        false,
        &[
            ("fchownat", "AT_EMPTY_PATH", 1, "EPERM"),
            ("setfsgid", "", 1, "EPERM"),
        ],
        Fails(
            "PermissionDenied",
            &[
                "cannot change owner of",
                "a system-call filter refused fchownat",
            ],
        ),
    );
    // In the private directory, then moved; the lock is a lock file.
    let private: &[(Fault, Expect)] = &[
        // The lock file, made unnamed (O_TMPFILE) and linked once written.
        (
            ("openat", "O_TMPFILE", 1, "EIO"),
            Fails("Other", &["cannot open bind lock", "EIO"]),
        ),
        (
            ("linkat", "app.sock.lock", 1, "EIO"),
            Fails("Other", &["cannot open bind lock", "EIO"]),
        ),
        (
            ("mkdirat", ".app.sock.sul", 1, "EACCES"),
            Fails("PermissionDenied", &["cannot bind", "(EACCES)"]),
        ),
        (
            ("bind", "/proc/self/fd/", 1, "EIO"),
            Fails("Other", &["cannot bind", "EIO"]),
        ),
        (
            ("lgetxattr", "/s\", \"system.posix_acl_access", 1, "EIO"),
            Fails("Other", &["cannot set mode of", "EIO"]),
        ),
        (
            ("fchmodat", "\"s\"", 1, "EPERM"),
            Fails("PermissionDenied", &["cannot set mode of", "(EPERM)"]),
        ),
        (
            ("fchownat", "\"s\"", 1, "EPERM"),
            Fails(
                "PermissionDenied",
                &[
                    "cannot change owner of",
                    "a system-call filter refused fchownat",
                ],
            ),
        ),
        (
            ("renameat2", "RENAME_NOREPLACE", 1, "EIO"),
            Fails("Other", &["cannot move the new socket to", "EIO"]),
        ),
        // A takeover that finds the path taken looks again.
        (
            ("renameat2", "RENAME_NOREPLACE", 1, "EEXIST"),
            Expect::Binds(""),
        ),
        (
            ("unlinkat", "AT_REMOVEDIR", 1, "EBUSY"),
            Expect::Binds(".app.sock.sul"),
        ),
        (
            ("openat", ".app.sock.sul", 1, "EIO"),
            Expect::Binds(".app.sock.sul"),
        ),
        (
            ("renameat2", "RENAME_NOREPLACE", 1, "ENOSYS"),
            Expect::Binds(""),
        ),
        (("openat", "O_PATH", 1, "EMFILE"), Expect::Binds("")),
    ];
    for (fault, expect) in private {
        case(Route::Private, Free, false, &[*fault], *expect);
    }
}

#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: changing the socket's group")]
fn the_fallbacks_fail_cleanly_too() {
    // Without renameat2, the socket is hard-linked into place.
    let no_renameat2 = ("renameat2", "RENAME_NOREPLACE", 1, "ENOSYS");
    case(
        Route::Private,
        Setup::Free,
        false,
        &[no_renameat2, ("linkat", "\"app.sock\", 0", 1, "EIO")],
        Expect::Fails("Other", &["cannot move the new socket to", "EIO"]),
    );
    // Without an atomic exchange, a takeover checks, then renames.
    let no_exchange = ("renameat2", "RENAME_EXCHANGE", 1, "EINVAL");
    for route in [Route::Own, Route::Shared] {
        case(route, Setup::Stale, true, &[no_exchange], Expect::Binds(""));
        case(
            route,
            Setup::Stale,
            true,
            &[no_exchange, ("renameat", "app.sock", 1, "EIO")],
            Expect::Fails("Other", &["cannot take over", "EIO"]),
        );
    }
}

/// The drop cannot always remove the socket; then it leaves it, and the
/// next bind finds it stale and removes it.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: changing the socket's group")]
fn a_drop_that_cannot_unlink_leaves_a_stale_socket_for_the_next_bind() {
    // The drop's bind lock comes after the bind's own, and, through a
    // private directory, after that directory's.
    for (route, nth) in [(Route::Own, 2), (Route::Shared, 2), (Route::Private, 4)] {
        case(
            route,
            Setup::Free,
            false,
            &[("flock", "LOCK_EX", nth, "EIO")],
            Expect::Binds("app.sock"),
        );
        case(
            route,
            Setup::Free,
            false,
            &[("unlinkat", "\"app.sock\", 0", 1, "EIO")],
            Expect::Binds("app.sock"),
        );
    }
}

#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
#[cfg_attr(sul_not_root, ignore = "needs root: changing the socket's group")]
fn a_takeover_whose_swap_fails_leaves_the_old_socket() {
    for route in [Route::Own, Route::Shared] {
        case(
            route,
            Setup::Stale,
            true,
            &[("renameat2", "RENAME_EXCHANGE", 1, "EIO")],
            Expect::Fails("Other", &["cannot take over", "EIO"]),
        );
    }
}
