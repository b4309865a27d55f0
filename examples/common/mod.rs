//! What the examples share: logging, the ADDR argument, what they print,
//! and how they fail. Each example uses a part.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use safe_unix_listener::{
    AddrView, BindError, OnExisting, SafeUnixListener, ShutdownSignal, UnixAddr, shutdown_signal,
};

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

/// Sets up logging, installs the SIGINT/SIGTERM handler, and gets the
/// listener: the one systemd (or `systemd-socket-activate`) passed, or a
/// safe bind of `[--takeover] [ADDR]`. On failure, the message has been
/// printed and the exit code is 1. `--systemd-units [ADDR]` prints the
/// systemd units that run the program instead, and exits 0.
pub fn start(
    program: &str,
    default_file: &str,
) -> Result<(SafeUnixListener, ShutdownSignal), ExitCode> {
    init_tracing();
    let stop = shutdown_signal().map_err(|e| fail(program, e))?;
    let mut args = std::env::args().skip(1).peekable();
    if args.next_if(|a| a == "--systemd-units").is_some() {
        let addr = addr_or_default(args.next(), default_file).map_err(|e| fail(program, e))?;
        print!("{}", systemd_units(program, &addr));
        return Err(ExitCode::SUCCESS);
    }
    let takeover = args.next_if(|a| a == "--takeover").is_some();
    let addr = addr_or_default(args.next(), default_file).map_err(|e| fail(program, e))?;
    // READY=1 once listening, when run under systemd with Type=notify.
    let mut builder = SafeUnixListener::builder(addr).notify_ready(true);
    if takeover {
        builder = builder.on_existing(OnExisting::TakeOver);
    }
    let listener = builder.activation_or_bind().map_err(|e| fail(program, e))?;
    Ok((listener, stop))
}

/// The systemd units that run `program` on `addr`, both ways.
fn systemd_units(program: &str, addr: &UnixAddr) -> String {
    let exe =
        std::env::current_exe().map_or_else(|_| program.to_owned(), |p| p.display().to_string());
    format!(
        "# Socket activation: systemd holds the socket, also across restarts.\n\
         # /etc/systemd/system/{program}.socket\n\
         [Socket]\nListenStream={addr}\nSocketMode=0660\n\n[Install]\nWantedBy=sockets.target\n\n\
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
pub async fn stopping(stop: ShutdownSignal) {
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
