//! What the examples share: logging, the ADDR argument, what they print,
//! and how they fail. Each example uses a part.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use nix::unistd::{Group, User};
use safe_unix_listener::{AddrView, BindError, Builder, OnExisting, SafeUnixListener, UnixAddr};

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

/// The command line every example takes, with `--help`.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "An example server of safe-unix-listener: binds ADDR safely (or uses the socket \
             systemd passes), serves until SIGINT or SIGTERM, then removes its socket"
)]
pub struct Args {
    /// Where to listen: a path, unix:/path or @name [default:
    /// $XDG_RUNTIME_DIR/<name>.sock, or the same name in the temp directory]
    pub addr: Option<String>,
    /// Replace a running instance's socket without a gap (then stop the old one)
    #[arg(long)]
    pub takeover: bool,
    /// Print the systemd units that run this program on ADDR, and exit
    #[arg(long)]
    pub systemd_units: bool,
    /// The socket's permission bits, in octal; connecting needs write
    /// permission, so 0660 lets the owner and the group in
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub mode: Option<u32>,
    /// The socket's group, by name or gid: a proxy's group, with --mode 0660
    #[arg(long, value_name = "NAME|GID")]
    pub group: Option<String>,
    /// The socket's owner, by name or uid (changing it needs root)
    #[arg(long, value_name = "NAME|UID")]
    pub owner: Option<String>,
    /// Accept connections only from this user (and those of --allow-gid);
    /// repeatable
    #[arg(long, value_name = "NAME|UID")]
    pub allow_uid: Vec<String>,
    /// Accept connections only from members of this group (and the users
    /// of --allow-uid); repeatable
    #[arg(long, value_name = "NAME|GID")]
    pub allow_gid: Vec<String>,
    /// Refuse to bind unless every directory above the socket is owned by
    /// root or us and not writable by others (OpenSSH's StrictModes rule)
    #[arg(long)]
    pub check_parent: bool,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!("{s:?} is not an octal mode such as 0660")),
    }
}

/// A uid, from a number or a user name.
fn uid_of(name: &str) -> Result<u32, String> {
    id_of(name, "user", |n| {
        User::from_name(n).map(|u| u.map(|u| u.uid.as_raw()))
    })
}

/// A gid, from a number or a group name.
fn gid_of(name: &str) -> Result<u32, String> {
    id_of(name, "group", |n| {
        Group::from_name(n).map(|g| g.map(|g| g.gid.as_raw()))
    })
}

/// `name` as a number, or looked up in the `what` database.
fn id_of(
    name: &str,
    what: &str,
    look_up: impl Fn(&str) -> nix::Result<Option<u32>>,
) -> Result<u32, String> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    match look_up(name) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(format!(
            "unknown {what} {name:?}: it is not in the {what} database"
        )),
        Err(e) => Err(format!("cannot look up {what} {name:?}: {e}")),
    }
}

/// The command line, read: logging set up, names resolved to ids. `Err`
/// is the exit code, the message printed (2 for a malformed command line),
/// or 0 after `--systemd-units` printed the units that run the program.
pub fn flags(program: &'static str, default_file: &str) -> Result<Flags, ExitCode> {
    init_tracing();
    let matches = Args::command().name(program).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let addr = addr_or_default(args.addr, default_file).map_err(|e| fail(program, e))?;
    if args.systemd_units {
        print!("{}", systemd_units(program, &addr));
        return Err(ExitCode::SUCCESS);
    }
    let fail = |e: String| fail(program, e);
    let ids = |names: &[String], id: fn(&str) -> Result<u32, String>| {
        names
            .iter()
            .map(|n| id(n))
            .collect::<Result<Vec<u32>, String>>()
    };
    Ok(Flags {
        addr,
        takeover: args.takeover,
        mode: args.mode,
        owner: args
            .owner
            .as_deref()
            .map(uid_of)
            .transpose()
            .map_err(fail)?,
        group: args
            .group
            .as_deref()
            .map(gid_of)
            .transpose()
            .map_err(fail)?,
        allow_uids: ids(&args.allow_uid, uid_of).map_err(fail)?,
        allow_gids: ids(&args.allow_gid, gid_of).map_err(fail)?,
        check_parent: args.check_parent,
    })
}

/// The command line, with user and group names resolved.
pub struct Flags {
    pub addr: UnixAddr,
    pub takeover: bool,
    pub mode: Option<u32>,
    pub owner: Option<u32>,
    pub group: Option<u32>,
    pub allow_uids: Vec<u32>,
    pub allow_gids: Vec<u32>,
    pub check_parent: bool,
}

impl Flags {
    /// A builder for ADDR with every option the command line gave: the
    /// existing-file policy, mode, owner, group, allowed peers and the
    /// StrictModes check.
    pub fn builder(&self) -> Builder {
        let mut builder = SafeUnixListener::builder(self.addr.clone())
            .allow_uids(self.allow_uids.clone())
            .allow_gids(self.allow_gids.clone())
            .check_parent(self.check_parent);
        if self.takeover {
            builder = builder.on_existing(OnExisting::TakeOver);
        }
        if let Some(mode) = self.mode {
            builder = builder.mode(mode);
        }
        if let Some(uid) = self.owner {
            builder = builder.owner(uid);
        }
        if let Some(gid) = self.group {
            builder = builder.group(gid);
        }
        builder
    }
}

/// One line at start-up when the socket's mode keeps other users out,
/// naming who can connect: otherwise a proxy running as another user gets
/// EACCES, and nothing on our side says why.
pub fn say_who_can_connect(listener: &SafeUnixListener) {
    let AddrView::Path(path) = listener.addr().view() else {
        return;
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return; // every user may connect
    }
    let user = |uid: u32| match User::from_uid(uid.into()) {
        Ok(Some(u)) => format!("{} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    };
    let group = |gid: u32| match Group::from_gid(gid.into()) {
        Ok(Some(g)) => format!("{} (gid {gid})", g.name),
        _ => format!("gid {gid}"),
    };
    let mut who = Vec::new();
    if meta.uid() != 0 {
        who.push("root".to_owned());
    }
    if mode & 0o200 != 0 {
        who.push(user(meta.uid()));
    }
    if mode & 0o020 != 0 {
        who.push(format!("members of group {}", group(meta.gid())));
    }
    if meta.uid() == 0 && mode & 0o200 == 0 {
        who.push("root".to_owned());
    }
    let who = format!(
        "only {} can connect to {} (mode {mode:04o})",
        who.join(" and "),
        path.display()
    );
    match mode & 0o020 {
        0 => tracing::warn!(
            "{who}; other users, such as a proxy's workers, get EACCES: give their group \
             access with --mode 0660 --group NAME"
        ),
        _ => tracing::info!("{who}"),
    }
}

/// The systemd units that run `program` on `addr`, both ways.
fn systemd_units(program: &str, addr: &UnixAddr) -> String {
    let exe =
        std::env::current_exe().map_or_else(|_| program.to_owned(), |p| p.display().to_string());
    format!(
        "# Socket activation: systemd holds the socket, also across restarts.\n\
         # /etc/systemd/system/{program}.socket\n\
         [Socket]\nListenStream={addr}\nSocketMode=0660\n# SocketGroup=www-data  (a proxy's group)\n\n[Install]\nWantedBy=sockets.target\n\n\
         # /etc/systemd/system/{program}.service\n\
         [Service]\nExecStart={exe}\n\n\
         # Or the service binds the socket itself and says when it is ready;\n\
         # restart it with --takeover, then stop the old one.\n\
         # /etc/systemd/system/{program}.service\n\
         [Service]\nType=notify\nNotifyAccess=all\nRuntimeDirectory={program}\n\
         ExecStart={exe} /run/{program}/{program}.sock\n"
    )
}

/// Resolves on SIGINT or SIGTERM, after telling the service manager
/// (`STOPPING=1`, when run under systemd). `HyperServer` does this itself.
pub async fn stopping(stop: safe_unix_listener::ShutdownSignal) {
    stop.await;
    if let Err(e) = safe_unix_listener::notify_stopping() {
        tracing::warn!(error = %e, "stopping, but the service manager was not told");
    }
}

/// ADDR (a path, `unix:/path` or `@name`), or `$XDG_RUNTIME_DIR/<file>`,
/// or `<temp dir>/<file>` without that variable.
fn addr_or_default(arg: Option<String>, file: &str) -> Result<UnixAddr, BindError> {
    if let Some(arg) = arg {
        return arg.parse();
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    UnixAddr::from_path(dir.join(file))
}

/// `curl --unix-socket …` or `curl --abstract-unix-socket …` for `addr`.
pub fn curl_command(addr: &UnixAddr, url_path: &str) -> String {
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

/// Prints the whole message to stderr; exit code 1.
pub fn fail(program: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("{program}: {e}");
    ExitCode::from(1)
}
