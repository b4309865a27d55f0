//! axum over a Unix socket.
//!
//! ```text
//! cargo run --example axum_hello --features axum -- [--takeover | --systemd-units] [ADDR]
//! curl --unix-socket "$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock" http://localhost/
//! ```
//!
//! Under systemd socket activation (or `systemd-socket-activate -l PATH`)
//! it serves the passed socket. Otherwise it binds ADDR, a path,
//! `unix:/path` or `@abstract`; with `--takeover`, it replaces a running
//! instance's socket without a gap (then stop the old one). By default
//! `$XDG_RUNTIME_DIR/safe-unix-listener-demo.sock`, or the same name in the
//! temporary directory. `GET /` names the caller's uid; `GET /slow` answers
//! after 2 s, to watch a graceful stop. SIGINT or SIGTERM stops accepting,
//! removes the socket file, lets requests in flight finish, and exits 0. A
//! bind error is printed and exits with 1.
//!
//! This file is a whole program: copied into a new project as
//! `src/main.rs`, it runs with these dependencies in its Cargo.toml:
//!
//! ```toml
//! [dependencies]
//! safe-unix-listener = { version = "0.1", features = ["axum"] }
//! axum = { version = "0.8", default-features = false, features = ["tokio", "http1"] }
//! clap = { version = "4.5", features = ["derive"] }
//! nix = { version = "0.32", features = ["user"] }
//! tokio = { version = "1.48", features = ["macros", "rt-multi-thread", "time"] }
//! tracing = "0.1"
//! tracing-subscriber = { version = "0.3", features = ["env-filter"] }
//! ```

use std::error::Error;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use clap::Parser;
use nix::unistd::{Group, User};
use safe_unix_listener::systemd::notify_stopping;
use safe_unix_listener::{
    AddrView, OnExisting, PeerInfo, SafeUnixListener, ShutdownSignal, UnixAddr, shutdown_signal,
};

/// The program's name, in its messages and its systemd units.
const PROGRAM: &str = "axum_hello";
/// The socket's file name when no ADDR is given.
const DEFAULT_FILE: &str = "safe-unix-listener-demo.sock";

#[derive(Parser)]
#[command(
    name = PROGRAM,
    version,
    about = "An example server of safe-unix-listener: binds ADDR safely (or uses the socket \
             systemd passes), serves until SIGINT or SIGTERM, then removes its socket"
)]
struct Args {
    /// Where to listen: a path, unix:/path or @name [default:
    /// $XDG_RUNTIME_DIR/<name>.sock, or the same name in the temp directory]
    addr: Option<String>,
    /// Replace a running instance's socket without a gap (then stop the old one)
    #[arg(long)]
    takeover: bool,
    /// Print the systemd units that run this program on ADDR, and exit
    #[arg(long)]
    systemd_units: bool,
    /// The socket's permission bits, in octal; connecting needs write
    /// permission, so 0660 lets the owner and the group in
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    mode: Option<u32>,
    /// The socket's group, by name or gid: a proxy's group, with --mode 0660
    #[arg(long, value_name = "NAME|GID")]
    group: Option<String>,
    /// The socket's owner, by name or uid (changing it needs root)
    #[arg(long, value_name = "NAME|UID")]
    owner: Option<String>,
    /// Accept connections only from this user (and those of --allow-gid);
    /// repeatable
    #[arg(long, value_name = "NAME|UID")]
    allow_uid: Vec<String>,
    /// Accept connections only from members of this group (and the users
    /// of --allow-uid); repeatable
    #[arg(long, value_name = "NAME|GID")]
    allow_gid: Vec<String>,
    /// Refuse to bind unless every directory above the socket is owned by
    /// root or us and not writable by others (OpenSSH's StrictModes rule)
    #[arg(long)]
    check_parent: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    init_tracing();
    let args = Args::parse();
    let addr = match args.addr {
        Some(addr) => addr.parse()?,
        None => {
            let dir =
                std::env::var_os("XDG_RUNTIME_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
            UnixAddr::from_path(dir.join(DEFAULT_FILE))?
        }
    };
    if args.systemd_units {
        print!("{}", systemd_units(&addr));
        return Ok(());
    }
    let on_existing = if args.takeover {
        OnExisting::TakeOver
    } else {
        OnExisting::RemoveStale
    };
    let builder = SafeUnixListener::builder(addr)
        .on_existing(on_existing)
        .mode(args.mode)
        .owner(args.owner.as_deref().map(uid_of).transpose()?)
        .group(args.group.as_deref().map(gid_of).transpose()?)
        .check_parent(args.check_parent)
        .notify_ready(true); // READY=1 once listening, under systemd's Type=notify
    let uids: Vec<u32> = args
        .allow_uid
        .iter()
        .map(|u| uid_of(u))
        .collect::<Result<_, _>>()?;
    let gids: Vec<u32> = args
        .allow_gid
        .iter()
        .map(|g| gid_of(g))
        .collect::<Result<_, _>>()?;

    // SIGINT or SIGTERM, caught from here on.
    let stop = shutdown_signal()?;
    // The socket systemd passed, if any; else a safe bind of ADDR.
    let listener = builder
        .allow_uids(uids)
        .allow_gids(gids)
        .activation_or_bind()?;
    say_who_can_connect(&listener);
    println!("{PROGRAM} listening on {}", listener.addr());
    println!("try: {}", curl_command(listener.addr(), "/"));

    let app = Router::new()
        .route("/", get(hello))
        .route("/slow", get(slow));
    // On SIGINT or SIGTERM it stops accepting, removes the socket file and
    // lets requests in flight finish.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<PeerInfo>(),
    )
    .with_graceful_shutdown(stopping(stop))
    .await?;
    Ok(())
}

async fn hello(ConnectInfo(peer): ConnectInfo<PeerInfo>) -> String {
    match peer.uid() {
        Some(uid) => format!("hello from axum over a Unix socket, uid {uid}\n"),
        None => "hello from axum over a Unix socket, uid unknown\n".to_owned(),
    }
}

async fn slow() -> &'static str {
    tracing::info!("slow request started");
    tokio::time::sleep(Duration::from_secs(2)).await;
    "slow response done\n"
}

/// Resolves on SIGINT or SIGTERM, after telling the service manager
/// (`STOPPING=1`, when run under systemd).
async fn stopping(stop: ShutdownSignal) {
    stop.await;
    if let Err(e) = notify_stopping() {
        tracing::warn!(error = %e, "stopping, but the service manager was not told");
    }
}

/// One line at start-up when the socket's mode keeps other users out,
/// naming who can connect: otherwise a proxy running as another user gets
/// EACCES, and nothing on our side says why.
fn say_who_can_connect(listener: &SafeUnixListener) {
    let Some(path) = listener.addr().as_path() else {
        return;
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return; // every user may connect
    }
    let mut who = Vec::new();
    if meta.uid() != 0 {
        who.push("root".to_owned());
    }
    if mode & 0o200 != 0 {
        who.push(match User::from_uid(meta.uid().into()) {
            Ok(Some(user)) => format!("{} (uid {})", user.name, meta.uid()),
            _ => format!("uid {}", meta.uid()),
        });
    }
    if mode & 0o020 != 0 {
        who.push(match Group::from_gid(meta.gid().into()) {
            Ok(Some(group)) => format!("members of group {} (gid {})", group.name, meta.gid()),
            _ => format!("members of group gid {}", meta.gid()),
        });
    }
    if meta.uid() == 0 && mode & 0o200 == 0 {
        who.push("root".to_owned());
    }
    let who = format!(
        "only {} can connect to {} (mode {mode:04o})",
        who.join(" and "),
        path.display()
    );
    if mode & 0o020 == 0 {
        tracing::warn!(
            "{who}; other users, such as a proxy's workers, get EACCES: give their group \
             access with --mode 0660 --group NAME"
        );
    } else {
        tracing::info!("{who}");
    }
}

/// `curl --unix-socket …` or `curl --abstract-unix-socket …` for `addr`.
fn curl_command(addr: &UnixAddr, url_path: &str) -> String {
    match addr.view() {
        AddrView::Path(p) => format!(
            "curl --unix-socket {} http://localhost{url_path}",
            p.display()
        ),
        AddrView::Abstract(n) => format!(
            "curl --abstract-unix-socket {} http://localhost{url_path}",
            String::from_utf8_lossy(n)
        ),
    }
}

/// Logs to stderr at `RUST_LOG`, `info` by default.
fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!("{s:?} is not an octal mode such as 0660")),
    }
}

/// A uid, from a number or a user name.
fn uid_of(name: &str) -> Result<u32, String> {
    if let Ok(uid) = name.parse() {
        return Ok(uid);
    }
    match User::from_name(name) {
        Ok(Some(user)) => Ok(user.uid.as_raw()),
        Ok(None) => Err(format!(
            "unknown user {name:?}: it is not in the user database"
        )),
        Err(e) => Err(format!("cannot look up user {name:?}: {e}")),
    }
}

/// A gid, from a number or a group name.
fn gid_of(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    match Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(format!(
            "unknown group {name:?}: it is not in the group database"
        )),
        Err(e) => Err(format!("cannot look up group {name:?}: {e}")),
    }
}

/// The systemd units that run this program on `addr`, both ways.
fn systemd_units(addr: &UnixAddr) -> String {
    let exe =
        std::env::current_exe().map_or_else(|_| PROGRAM.to_owned(), |p| p.display().to_string());
    format!(
        "# Socket activation: systemd holds the socket, also across restarts.\n\
         # /etc/systemd/system/{PROGRAM}.socket\n\
         [Socket]\nListenStream={addr}\nSocketMode=0660\n# SocketGroup=www-data  (a proxy's group)\n\n[Install]\nWantedBy=sockets.target\n\n\
         # /etc/systemd/system/{PROGRAM}.service\n\
         [Service]\nExecStart={exe}\n\n\
         # Or the service binds the socket itself and says when it is ready;\n\
         # restart it with --takeover, then stop the old one.\n\
         # /etc/systemd/system/{PROGRAM}.service\n\
         [Service]\nType=notify\nNotifyAccess=all\nRuntimeDirectory={PROGRAM}\n\
         ExecStart={exe} /run/{PROGRAM}/{PROGRAM}.sock\n"
    )
}
