//! The `serde` feature and the `config_file` example: `UnixAddr` as the
//! string it parses from, in a file and as a clap argument.
#![cfg(feature = "serde")]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use nix::sys::signal::Signal;
use safe_unix_listener::UnixAddr;

use crate::support::{example_bin, exists, finish, signal, spawn_example, tempdir, wait_listening};

#[test]
fn every_kind_of_address_round_trips_through_json() {
    for text in [
        "/run/app.sock",
        "relative/app.sock",
        "unix:@odd",
        "unix:unix:x",
        "@app",
    ] {
        let addr: UnixAddr = text.parse().unwrap();
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<UnixAddr>(&json).unwrap(), addr);
    }
}

#[test]
fn a_bad_or_unwritable_address_is_a_clear_serde_error() {
    let err = serde_json::from_str::<UnixAddr>(r#""""#).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot use address \"\": "),
        "{err}"
    );
    let err = serde_json::from_str::<UnixAddr>("42").unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a Unix socket address: a path, unix:/path or @name"),
        "{err}"
    );
    let not_utf8 = UnixAddr::from_path(OsStr::from_bytes(b"/tmp/\xff.sock")).unwrap();
    let err = serde_json::to_string(&not_utf8).unwrap_err();
    assert_eq!(
        err.to_string(),
        "socket address /tmp/\u{fffd}.sock is not UTF-8, so it cannot be written as a string"
    );
}

#[test]
fn config_file_listens_where_the_file_or_the_flag_says() {
    let dir = tempdir();
    let path = dir.path().join("app.sock");
    let config = dir.path().join("app.json");
    std::fs::write(
        &config,
        format!(r#"{{ "listen": "unix:{}" }}"#, path.display()),
    )
    .unwrap();
    let config = config.display().to_string();

    let mut server = spawn_example("config_file", &["--config", &config]);
    let first = wait_listening(&mut server);
    let shown = path.display();
    assert_eq!(
        first,
        format!("config_file listening on {shown} (in effect: {{\"listen\":\"{shown}\"}})\n")
    );
    let mut answer = String::new();
    std::io::Read::read_to_string(
        &mut std::os::unix::net::UnixStream::connect(&path).unwrap(),
        &mut answer,
    )
    .unwrap();
    assert_eq!(answer, "hello from config_file\n");
    signal(&server, Signal::SIGTERM);
    assert_eq!(finish(server).status.code(), Some(0));
    assert!(!exists(&path));

    let other = dir.path().join("other.sock");
    let mut server = spawn_example(
        "config_file",
        &[
            "--config",
            &config,
            "--listen",
            &other.display().to_string(),
        ],
    );
    let first = wait_listening(&mut server);
    assert!(
        first.starts_with(&format!("config_file listening on {} (", other.display())),
        "{first}"
    );
    assert!(!exists(&path));
    signal(&server, Signal::SIGINT);
    assert_eq!(finish(server).status.code(), Some(0));
}

#[test]
fn config_file_reports_a_bad_address_in_the_file_and_on_the_command_line() {
    let dir = tempdir();
    let config = dir.path().join("app.json");
    std::fs::write(&config, r#"{ "listen": "unix:" }"#).unwrap();
    let out = Command::new(example_bin("config_file"))
        .args(["--config", &config.display().to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "config_file: cannot use {}: cannot use address \"\": ",
            config.display()
        )) && err.trim_end().ends_with("at line 1 column 19"),
        "{err}"
    );

    let out = Command::new(example_bin("config_file"))
        .args(["--config", "/nonexistent", "--listen", "@"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "clap's usage error: {err}");
    assert!(
        err.contains("invalid value '@' for '--listen <LISTEN>': cannot use address \"@\""),
        "{err}"
    );
}
