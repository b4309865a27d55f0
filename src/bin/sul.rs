//! `sul`: what is at a Unix socket address, remove it if it is provably
//! stale, or wait until a server accepts there. For any server, not only
//! those using this crate.
//!
//! ```text
//! cargo install safe-unix-listener --features cli
//! sul inspect /run/app/app.sock [--json]
//! sul clean /run/app/app.sock
//! sul wait /run/app/app.sock --timeout 10s
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{Parser, Subcommand};
use safe_unix_listener::UnixAddr;
use safe_unix_listener::diagnosis::{
    FileInfo, Found, Inspection, LeftoverKind, LockState, Parents, Verdict, clean_stale, inspect,
};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "sul",
    version,
    about = "Inspect, clean or wait for a Unix socket address (a path, unix:/path or @name)",
    after_help = "Exit codes of `inspect`: 0 free, 3 stale, 4 live, 5 blocked (not a socket, \
                  no access, no directory). `clean`: 0 removed or nothing there, 1 refused. \
                  `wait`: 0 once a server accepts, 1 at the timeout. Any command: 2 for a bad \
                  argument."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report what is at ADDR, who owns it, whether anyone listens, and
    /// what a bind would do. Changes nothing; may open and close one
    /// connection to a socket there.
    Inspect {
        #[arg(value_parser = addr_arg())]
        addr: UnixAddr,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the socket at ADDR if it is provably stale (nobody listens),
    /// under the bind lock and with the same checks as a bind. Anything
    /// else is left alone, with the reason and what to do.
    ///
    /// It refuses a path another user could redirect: every directory on
    /// the way, every symbolic link and the directory holding it, must be
    /// owned by root or us, and no directory writable by group or others
    /// unless sticky (OpenSSH's StrictModes).
    Clean {
        #[arg(value_parser = addr_arg())]
        addr: UnixAddr,
        /// Clean even where the directories above fail that check. A live
        /// socket is still never removed (the probe and the removal go
        /// through the directory opened), but a user who can re-point a
        /// link on the way chooses whose stale socket that is.
        #[arg(long)]
        trust_parents: bool,
    },
    /// Wait until a server accepts connections at ADDR.
    Wait {
        #[arg(value_parser = addr_arg())]
        addr: UnixAddr,
        /// How long to wait: 10s, 500ms, 2m, or seconds.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// ADDR as the OS gave it: a path need not be UTF-8.
fn addr_arg() -> impl TypedValueParser<Value = UnixAddr> {
    OsStringValueParser::new().try_map(|raw| UnixAddr::try_from(raw.as_os_str()))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Inspect { addr, json } => {
            let report = inspect(&addr);
            if json {
                println!("{:#}", as_json(&report));
            } else {
                println!("{report}");
            }
            ExitCode::from(match report.found().verdict() {
                Verdict::Free => 0,
                Verdict::Stale => 3,
                Verdict::Live => 4,
                _ => 5,
            })
        }
        Command::Clean {
            addr,
            trust_parents,
        } => {
            let parents = if trust_parents {
                Parents::Trust
            } else {
                Parents::Check
            };
            clean_report(&addr, clean_stale(&addr, parents))
        }
        Command::Wait { addr, timeout } => wait(&addr, timeout),
    }
}

/// What `sul clean` prints, and its exit code.
fn clean_report(addr: &UnixAddr, cleaned: Result<bool, safe_unix_listener::BindError>) -> ExitCode {
    match cleaned {
        Ok(true) => {
            println!("removed the stale socket {}", addr.escaped());
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("nothing to remove at {}", addr.escaped());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sul: {e}");
            ExitCode::from(1)
        }
    }
}

/// Polls every 20 ms until a server accepts at `addr`, or `timeout`.
fn wait(addr: &UnixAddr, timeout: Duration) -> ExitCode {
    let deadline = Instant::now() + timeout;
    loop {
        let report = inspect(addr);
        if report.found().verdict() == Verdict::Live {
            return ExitCode::SUCCESS;
        }
        if Instant::now() >= deadline {
            let reason = report.to_string();
            let reason = reason.lines().next().unwrap_or_default();
            eprintln!("sul: no server accepted within {timeout:?}; {reason}");
            return ExitCode::from(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let scale = match unit {
        "ms" => Some(0.001),
        "s" => Some(1.0),
        "m" => Some(60.0),
        _ => None,
    };
    match (number.parse::<f64>(), scale) {
        (Ok(n), Some(scale)) if n >= 0.0 && (n * scale).is_finite() && n * scale < 1e9 => {
            Ok(Duration::from_secs_f64(n * scale))
        }
        _ => Err(format!("{s:?} is not a duration such as 10s, 500ms or 2m")),
    }
}

fn as_json(report: &Inspection) -> Value {
    let file = |i: &FileInfo| json!({ "type": i.file_type.as_str(), "uid": i.uid, "gid": i.gid, "mode": format!("{:04o}", i.mode) });
    let (found, details) = match report.found() {
        Found::Free => ("free", json!({})),
        Found::Stale { file: i, removable } => {
            ("stale", json!({ "file": file(i), "removable": removable }))
        }
        Found::Live(s) => (
            "live",
            json!({ "server": { "type": s.socket_type.as_str(), "pid": s.pid, "uid": s.uid, "gid": s.gid, "command": s.command } }),
        ),
        Found::QueueFull => ("queue_full", json!({})),
        Found::NotASocket(i) => ("not_a_socket", json!({ "file": file(i) })),
        Found::NoAccess => ("no_access", json!({})),
        Found::ParentMissing => ("parent_missing", json!({})),
        _ => ("unknown", json!({})),
    };
    let verdict = match report.found().verdict() {
        Verdict::Free => "free",
        Verdict::Stale => "stale",
        Verdict::Live => "live",
        _ => "blocked",
    };
    let lock = match report.lock() {
        LockState::NoLockFile => "none",
        LockState::Free => "free",
        LockState::Held => "held",
        _ => "unusable",
    };
    let bind = match report.bind() {
        Ok(()) => json!({ "ok": true }),
        Err(e) => {
            json!({ "ok": false, "kind": format!("{:?}", e.kind()), "error": e.to_string() })
        }
    };
    let leftovers: Vec<Value> = report
        .leftovers()
        .iter()
        .map(|l| {
            let kind = match l.kind {
                LeftoverKind::LockFile => "lock_file",
                LeftoverKind::EmptyLockFile => "empty_lock_file",
                _ => "private_dir",
            };
            let path = UnixAddr::try_from(l.path.as_os_str()).map_or_else(
                |_| l.path.to_string_lossy().into_owned(),
                |a| a.escaped().to_string(),
            );
            json!({ "kind": kind, "path": path, "uid": l.uid, "said": l.to_string() })
        })
        .collect();
    let mut out = json!({
        "addr": report.addr().escaped().to_string(),
        "verdict": verdict,
        "found": found,
        "euid": nix::unistd::geteuid().as_raw(),
        "lock": lock,
        "leftovers": leftovers,
        "parent_error": report.parent_error().map(ToString::to_string),
        "bind": bind,
    });
    if let (Value::Object(out), Value::Object(details)) = (&mut out, details) {
        out.extend(details);
    }
    out
}
