//! Abstract names create no file, remove nothing, and a name
//! in use gives `InUse`.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};

use crate::support::in_runtime;
use safe_unix_listener::{BindErrorKind, SafeUnixListener, UnixAddr};

fn unique(tag: &str) -> String {
    format!("safe-unix-listener-test-{tag}-{}", std::process::id())
}

/// Whether the kernel lists `@name` as a bound socket.
fn listed(name: &str) -> bool {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap();
    table.lines().any(|l| l.ends_with(&format!(" @{name}")))
}

#[test]
fn an_abstract_name_has_no_file_and_is_released_on_drop() {
    let name = unique("release");
    in_runtime(|rt| {
        let cwd_before = std::fs::read_dir(".").unwrap().count();

        let listener = SafeUnixListener::bind_abstract(&name).unwrap();
        assert_eq!(listener.addr().to_string(), format!("@{name}"));
        assert!(!listener.unlink_on_drop(), "there is nothing to unlink");
        assert!(listed(&name), "the kernel lists @{name}");
        assert_eq!(
            std::fs::read_dir(".").unwrap().count(),
            cwd_before,
            "no file was created"
        );
        assert!(!std::path::Path::new(&format!("@{name}")).exists());

        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let client = UnixStream::connect_addr(&addr).unwrap();
        let (stream, _) = rt.block_on(listener.accept()).unwrap();
        assert_eq!(
            stream.peer_cred().unwrap().uid(),
            nix::unistd::geteuid().as_raw()
        );
        // Accepted sockets carry the name too; close them first.
        drop((client, stream));

        drop(listener);
        assert!(!listed(&name), "the name is free again");
        let _again = SafeUnixListener::bind_abstract(&name).expect("the name can be bound again");
    });
}

#[test]
fn a_name_in_use_gives_in_use() {
    let name = unique("inuse");
    in_runtime(|rt| {
        let first = SafeUnixListener::builder(format!("@{name}").parse::<UnixAddr>().unwrap())
            .bind()
            .unwrap();

        let err = SafeUnixListener::bind_abstract(&name).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InUse);
        assert_eq!(err.path(), None);
        let msg = err.to_string();
        assert!(msg.contains(&format!("cannot bind @{name}")), "{msg}");
        assert!(msg.contains("EADDRINUSE"), "{msg}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::AddrInUse
        );

        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _client = UnixStream::connect_addr(&addr).unwrap();
        rt.block_on(first.accept())
            .expect("the first owner still serves");
    });
}

#[test]
fn abstract_name_limits() {
    in_runtime(|_| {
        let longest = "n".repeat(107);
        let l = SafeUnixListener::bind_abstract(&longest).expect("107 bytes fit");
        drop(l);
        let err = SafeUnixListener::bind_abstract("n".repeat(108)).unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::PathTooLong);
        assert!(err.to_string().contains("108 bytes"), "{err}");
        let err = SafeUnixListener::bind_abstract("").unwrap_err();
        assert_eq!(err.kind(), BindErrorKind::InvalidAddress);
        assert!("@x".parse::<UnixAddr>().unwrap().is_abstract());
    });
}
