//! With `.mode(m)` the socket file has exactly mode `m`
//! whatever the umask, the owner and group are set as asked, and both
//! happen between bind and listen, so no client can connect earlier.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::{Fixture, Holder, NOBODY, Outcome, helper, helper_via, in_runtime, tempdir};
use safe_unix_listener::SafeUnixListener;

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Binds in a helper with umask 077, holds, and returns the file's mode.
fn mode_under_umask_077(path: &Path, mode: Option<&str>) -> u32 {
    let mut cmd = helper("helper_bind", None);
    cmd.env("SUL_ADDR", path).env("SUL_UMASK", "077");
    if let Some(mode) = mode {
        cmd.env("SUL_MODE", mode);
    }
    let holder = Holder::spawn(&mut cmd);
    assert!(
        matches!(holder.outcome, Outcome::Bound { .. }),
        "{:?}",
        holder.outcome
    );
    let mode = mode_of(path);
    assert!(holder.release());
    mode
}

#[test]
fn mode_is_exact_whatever_the_umask() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    assert_eq!(
        mode_under_umask_077(&path, None),
        0o700,
        "without .mode the umask applies"
    );
    assert_eq!(
        mode_under_umask_077(&path, Some("666")),
        0o666,
        "with .mode it does not"
    );
    assert_eq!(mode_under_umask_077(&path, Some("660")), 0o660);
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: changing a socket's owner")]
fn owner_and_group_are_set() {
    Fixture::new().run(|Fixture { path, .. }| {
        let l = SafeUnixListener::builder(path)
            .owner(NOBODY)
            .group(NOBODY)
            .mode(0o600)
            .bind()
            .unwrap();
        let m = fs::symlink_metadata(path).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (NOBODY, NOBODY, 0o600)
        );
        drop(l);
        assert!(!path.exists(), "a chowned socket is still ours to remove");
    });
}

#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn a_refused_chown_is_explained_and_leaves_nothing_behind() {
    // As uid 65534, giving the file to root is refused.
    let dir = crate::support::tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    let helper_out = helper("mode::helper_chown_to_root", Some(NOBODY))
        .env("SUL_ADDR", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&helper_out.stdout);
    let outcome = stdout.lines().find_map(Outcome::parse).expect("a report");
    let msg = outcome.expect_failed("PermissionDenied");
    assert!(
        msg.contains(&format!("cannot change owner of {}", path.display())),
        "{msg}"
    );
    assert!(
        msg.contains(
            "making uid 0 its owner: it needs CAP_CHOWN, and we run as uid 65534 without it (EPERM)"
        ),
        "{msg}"
    );
    assert!(!path.exists(), "the half-made socket was removed");
}

#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_chown_to_root() {
    if std::env::var_os("SUL_HELPER").is_none() {
        return;
    }
    let path = std::env::var("SUL_ADDR").unwrap();
    in_runtime(|_| {
        match SafeUnixListener::builder(path.parse::<safe_unix_listener::UnixAddr>().unwrap())
            .owner(0)
            .bind()
        {
            Ok(_) => println!("\nOUTCOME BOUND"),
            Err(e) => crate::support::report_failure(e.kind(), &e.to_string()),
        }
    });
}

/// `helper_bind` with mode 0600 in `dir`, under strace: the bind, chmod,
/// listen and move calls it made, one a line.
fn traced_bind_calls(dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let path = dir.join("app.sock");
    let trace = dir.join("../trace");
    let trace_arg = trace.display().to_string();
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "signal=none",
        "-e",
        "trace=bind,listen,chmod,fchmod,fchmodat,renameat2,linkat,umask,unshare",
        "-o",
        &trace_arg,
    ];
    let out = helper_via(&strace, "helper_bind")
        .env("SUL_ADDR", &path)
        .env("SUL_MODE", "600")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(&trace).unwrap()
}

/// The position of the first line of `calls` that `what` picks.
fn line_of(calls: &str, what: &dyn Fn(&str) -> bool, name: &str) -> usize {
    calls
        .lines()
        .position(what)
        .unwrap_or_else(|| panic!("no {name} in:\n{calls}"))
}

/// Where other users may write the directory, a name we create there can
/// be replaced before any later call reaches it by name, so the file is
/// made closed and set through its pinned descriptor: the unbound socket
/// gets no permission bits (`fchmod` 000, which the bind gives the file),
/// it is bound at the path itself (so the kernel names it by its path),
/// its mode is set through `/proc/self/fd/N` of the `O_PATH` descriptor
/// that pins it, then it listens. No thread, no umask, no `unshare`
/// (refused in Docker's default profile), nothing changed by name and
/// nothing moved.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn mode_is_given_at_creation_in_a_directory_others_may_write() {
    let root = tempdir();
    let dir = root.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let calls = traced_bind_calls(&dir, &[]);
    let fchmod = line_of(
        &calls,
        &|l| l.contains("fchmod(") && l.contains(", 000)"),
        "fchmod of the socket to 000",
    );
    let bind = line_of(
        &calls,
        &|l| l.contains("bind(") && l.contains(&format!("\"{}/app.sock\"", dir.display())),
        "bind at the path",
    );
    let chmod = line_of(
        &calls,
        &|l| l.contains("chmod(\"/proc/self/fd/") && l.contains("0600"),
        "chmod through the pin",
    );
    let listen = line_of(&calls, &|l| l.contains("listen("), "listen");
    assert!(
        fchmod < bind && bind < chmod && chmod < listen,
        "order must be fchmod 000, bind, chmod through the pin, listen:\n{calls}"
    );
    // The lock file beside it is linked into place; the socket never is.
    let socket_calls: Vec<_> = calls.lines().filter(|l| !l.contains(".lock")).collect();
    for not_called in ["fchmodat(", "renameat2(", "linkat(", "umask(", "unshare("] {
        assert!(
            socket_calls.iter().all(|l| !l.contains(not_called)),
            "no {not_called}:\n{calls}"
        );
    }
}

/// A takeover cannot bind at the path, where the old socket is: bound in
/// the private directory, mode set through its descriptor, listening, and
/// only then swapped into place.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn a_takeover_applies_the_mode_in_the_private_directory_before_listen_and_the_swap() {
    let root = tempdir();
    let dir = root.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let calls = traced_bind_calls(&dir, &[("SUL_TAKEOVER", "1")]);
    // Through /proc/self/fd/N: the private directory's descriptor.
    let bind = line_of(
        &calls,
        &|l| l.contains("bind(") && l.contains("/proc/self/fd/"),
        "bind in the private directory",
    );
    let chmod = line_of(
        &calls,
        &|l| l.contains("fchmodat(") && l.contains("\"s\"") && l.contains("0600"),
        "fchmodat",
    );
    let listen = line_of(&calls, &|l| l.contains("listen("), "listen");
    let rename = line_of(
        &calls,
        &|l| l.contains("renameat2(") && l.contains("\"app.sock\""),
        "renameat2",
    );
    assert!(
        bind < chmod && chmod < listen && listen < rename,
        "order must be bind, chmod, listen, move:\n{calls}"
    );
    assert!(
        !calls.contains("chmod(\""),
        "never a chmod by path:\n{calls}"
    );
}

/// Where only we may write the directory, nobody can replace the socket at
/// the path, so it is bound there directly (and the kernel names it by its
/// path): mode set through the directory's descriptor, then listening, and
/// nothing to move.
#[test]
#[cfg_attr(sul_no_strace, ignore = "needs strace")]
fn mode_is_applied_at_the_path_before_listen_in_a_directory_only_we_write() {
    let root = tempdir();
    let dir = root.path().join("own");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let calls = traced_bind_calls(&dir, &[]);
    let bind = line_of(
        &calls,
        &|l| l.contains("bind(") && l.contains(&format!("\"{}/app.sock\"", dir.display())),
        "bind at the path",
    );
    let chmod = line_of(
        &calls,
        &|l| l.contains("fchmodat(") && l.contains("\"app.sock\"") && l.contains("0600"),
        "fchmodat",
    );
    let listen = line_of(&calls, &|l| l.contains("listen("), "listen");
    assert!(
        bind < chmod && chmod < listen,
        "order must be bind, chmod, listen:\n{calls}"
    );
    assert!(
        !calls.contains("renameat2(") && !calls.contains("linkat("),
        "nothing is moved:\n{calls}"
    );
}

/// The nginx recipe's usual mistake: a service user given `--group
/// www-data` without being in that group. The message names the group by
/// number and name, says membership is what is missing, and gives the
/// settings that grant it, not the option that just failed.
#[test]
#[cfg_attr(sul_not_root, ignore = "needs root: binding as uid 65534")]
fn a_group_we_are_not_in_is_named_with_the_membership_that_grants_it() {
    let dir = crate::support::tempdir_with_mode(0o1777);
    let path = dir.path().join("app.sock");
    let (outcome, _, _) = crate::support::run_helper(
        helper("helper_bind", Some(NOBODY))
            .env("SUL_ADDR", &path)
            .env("SUL_MODE", "660")
            .env("SUL_GROUP", "33"),
    );
    let msg = outcome.expect_failed("PermissionDenied");
    let group = nix::unistd::Group::from_gid(33.into())
        .unwrap()
        .map_or("33".to_owned(), |g| g.name);
    assert!(
        msg.contains(&format!(
            "giving it group 33{}: it needs membership of that group or CAP_CHOWN, and we run \
             as uid 65534, which is not a member and holds no CAP_CHOWN (EPERM)",
            if group == "33" {
                String::new()
            } else {
                format!(" ({group})")
            }
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "SupplementaryGroups={group}, docker --group-add 33"
        )),
        "{msg}"
    );
    assert!(
        !msg.contains("Builder::group"),
        "not the option that failed: {msg}"
    );
    assert!(!path.exists(), "the half-made socket was removed");
}
