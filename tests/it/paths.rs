//! Path length, empty names, NUL bytes and missing parents are
//! each caught up front with their own clear error.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::{exists, in_runtime, tempdir};
use safe_unix_listener::{BindErrorKind, SafeUnixListener, UnixAddr};

#[test]
fn the_longest_path_binds_and_one_more_byte_is_refused() {
    let dir = tempdir();
    let base = dir.path().display().to_string();
    let limit = if cfg!(any(target_os = "linux", target_os = "android")) {
        107
    } else {
        103
    };
    let fill = |len: usize| format!("{base}/{}", "s".repeat(len - base.len() - 1));
    in_runtime(|_| {
        let longest = fill(limit);
        assert_eq!(longest.len(), limit);
        let l = SafeUnixListener::bind(&longest).expect("a path at the limit binds");
        assert!(exists(longest.as_ref()));
        drop(l);

        let over = fill(limit + 1);
        let err = SafeUnixListener::bind(&over).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::PathTooLong);
        assert_eq!(err.path(), Some(over.as_ref()));
        let msg = err.to_string();
        assert!(msg.contains(&over), "{msg}");
        assert!(
            msg.contains(&format!("the path is {} bytes", limit + 1)),
            "{msg}"
        );
        // On Linux a longer path is reached through its directory's
        // descriptor (tests/it/long_paths.rs), which leaves 82 bytes for the
        // last component; this one's is longer.
        let words = match cfg!(any(target_os = "linux", target_os = "android")) {
            true => "which leaves at most 82 bytes for its last component".to_owned(),
            false => format!("at most {limit} ({} with the terminating NUL)", limit + 1),
        };
        assert!(msg.contains(&words), "{msg}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert!(
            !exists(over.as_ref()) && !exists(&crate::support::lock_file(over.as_ref())),
            "nothing was created"
        );
    });
}

#[test]
fn empty_and_nul_are_invalid() {
    in_runtime(|_| {
        for (input, words) in [("", "empty"), ("/tmp/a\0b", "NUL byte at offset 6")] {
            let err = SafeUnixListener::bind(input).unwrap_err();
            assert_eq!(err.kind(), BindErrorKind::InvalidAddress, "{input:?}");
            assert!(err.to_string().contains(words), "{err}");
            assert_eq!(
                std::io::Error::from(err).kind(),
                std::io::ErrorKind::InvalidInput
            );
        }
        assert_eq!(
            "unix:".parse::<UnixAddr>().unwrap_err().kind(),
            BindErrorKind::InvalidAddress
        );
    });
}

#[test]
fn a_missing_parent_is_named() {
    let dir = tempdir();
    let parent = dir.path().join("missing").join("deeper");
    let path = parent.join("app.sock");
    in_runtime(|_| {
        let err = SafeUnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::ParentMissing);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("directory {} does not exist", parent.display())),
            "{msg}"
        );
        assert!(msg.contains("create_parents"), "{msg}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::NotFound
        );
        assert!(!dir.path().join("missing").exists(), "nothing was created");
    });
}

#[test]
fn a_parent_that_is_a_file_is_named() {
    let dir = tempdir();
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    in_runtime(|_| {
        let err = SafeUnixListener::bind(file.join("app.sock")).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::ParentMissing);
        assert!(
            err.to_string()
                .contains(&format!("directory {} is not a directory", file.display())),
            "{err}"
        );
        assert_eq!(fs::read(&file).unwrap(), b"x");
    });
}

#[test]
fn create_parents_makes_each_directory_with_exactly_the_mode() {
    let dir = tempdir();
    let top = dir.path().join("a");
    let path = top.join("b").join("app.sock");
    in_runtime(|_| {
        // 0o777 would come out as 0o755 under the usual umask if it applied.
        let l = SafeUnixListener::builder(&path)
            .create_parents(0o777)
            .bind()
            .unwrap();
        for d in [top.clone(), top.join("b")] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
                0o777,
                "{}",
                d.display()
            );
        }
        assert!(exists(&path));
        drop(l);
        assert!(
            top.join("b").is_dir(),
            "directories stay; only the socket goes"
        );
    });
}

#[test]
fn a_relative_path_is_removed_from_where_it_was_bound() {
    in_runtime(|_| {
        // The test's working directory is the crate root; use a unique name.
        let name = format!("target/relative-{}.sock", std::process::id());
        let l = SafeUnixListener::bind(&name).unwrap();
        assert_eq!(l.addr().to_string(), name);
        assert!(exists(name.as_ref()));
        drop(l);
        assert!(!exists(name.as_ref()));
    });
}

#[test]
fn bind_outside_a_runtime_is_an_error_not_a_panic() {
    let dir = tempdir();
    let err = SafeUnixListener::bind(dir.path().join("app.sock")).unwrap_err();
    assert_eq!(err.kind(), BindErrorKind::Other);
    assert!(err.to_string().contains("no Tokio runtime"), "{err}");
    assert!(!dir.path().join("app.sock").exists());
}

/// `builder` takes what `bind` takes, a path, and an invalid one is reported
/// by the bind, with the same kind and words as `bind` gives.
#[test]
fn a_builder_of_an_invalid_path_fails_at_the_bind_as_bind_does() {
    in_runtime(|_| {
        let long = format!("/tmp/{}", "x".repeat(200));
        for bad in ["", "/tmp/nul\0inside", long.as_str()] {
            let from_builder = SafeUnixListener::builder(bad)
                .mode(0o600)
                .bind()
                .unwrap_err();
            let from_bind = SafeUnixListener::bind(bad).unwrap_err();
            assert_eq!(from_builder.kind(), from_bind.kind(), "{bad:?}");
            assert_eq!(from_builder.to_string(), from_bind.to_string());
        }
        let dir = tempdir();
        let path = dir.path().join("app.sock");
        let listener = SafeUnixListener::builder(&path).bind().unwrap();
        assert_eq!(listener.addr().as_path(), Some(path.as_path()));
    });
}

/// Another thread of the program moves its working directory back and
/// forth while it binds a relative path, 200 times, with a mode, in
/// directories others may write and in directories only we write: each
/// bind resolves the path once, binds there, and leaves nothing anywhere
/// after its drop. The bind used to take the string against whatever
/// directory the process was in at the bind, and leave its socket there.
#[test]
fn a_relative_path_is_bound_where_it_resolved_whatever_another_thread_does_to_the_working_directory()
 {
    for mode in [0o777, 0o755] {
        let dir = tempdir();
        for sub in ["a", "b"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
            fs::set_permissions(dir.path().join(sub), fs::Permissions::from_mode(mode)).unwrap();
        }
        let out = crate::support::helper("paths::helper_bind_while_chdir", None)
            .env("SUL_DIR", dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("BOUND 200 of 200"),
            "{mode:o}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for sub in ["a", "b"] {
            assert_eq!(
                fs::read_dir(dir.path().join(sub)).unwrap().count(),
                0,
                "{mode:o}"
            );
        }
    }
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind_while_chdir() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(dir) = std::env::var_os("SUL_DIR") else {
        return;
    };
    let (a, b) = (
        std::path::Path::new(&dir).join("a"),
        std::path::Path::new(&dir).join("b"),
    );
    std::env::set_current_dir(&a).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, a, b) = (stop.clone(), a.clone(), b.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::env::set_current_dir(&b).unwrap();
                std::env::set_current_dir(&a).unwrap();
            }
        })
    };
    let mut bound = 0;
    in_runtime(|_| {
        for _ in 0..200 {
            let listener = match SafeUnixListener::builder("x.sock").mode(0o600).bind() {
                Ok(listener) => listener,
                Err(e) => {
                    println!("FAILED {e}");
                    continue;
                }
            };
            let named = listener.local_addr().unwrap();
            let named = named.as_pathname().unwrap().to_owned();
            let found: Vec<_> = [&a, &b]
                .into_iter()
                .map(|d| d.join("x.sock"))
                .filter(|p| exists(p))
                .collect();
            assert_eq!(found.len(), 1, "one socket: {found:?}");
            drop(listener);
            assert!(!exists(&found[0]), "removed at the drop");
            assert_eq!(named, found[0], "the kernel names it by its absolute path");
            bound += 1;
        }
    });
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    println!("BOUND {bound} of 200");
}
