//! [`UnixAddr`]: what a listener binds to, parsed and validated up front.
//!
//! Parsing and validation are pure: no system call is made, so a bad
//! address is reported before anything on disk is looked at. Only
//! [`UnixAddr::connect`] touches the system.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::BindError;
use crate::sys;

/// The address of a Unix-domain listening socket: a filesystem path, or a
/// name in the Linux abstract namespace.
///
/// A `UnixAddr` is always valid: it is not empty, has no NUL byte in a path,
/// and fits the platform's `sun_path` limit. Build one with
/// [`from_path`](UnixAddr::from_path),
/// [`from_abstract_name`](UnixAddr::from_abstract_name), or by parsing a
/// string:
///
/// | string            | address                                   |
/// |-------------------|-------------------------------------------|
/// | `@name`           | abstract name `name` (no file is created) |
/// | `unix:/run/a.sock`| path `/run/a.sock`                        |
/// | `/run/a.sock`     | path `/run/a.sock`                        |
/// | `run/a.sock`      | relative path `run/a.sock`                |
/// | `unix:@odd`       | path `@odd` (the prefix forces a path)    |
///
/// [`Display`](fmt::Display) prints a string that parses back to the same
/// address, for every address that is valid UTF-8 (every address parsed
/// from a string is). Bytes that are not UTF-8, possible in a path or name
/// given as bytes, are shown as U+FFFD, as [`Path::display`] does, and that
/// string parses to another address.
///
/// # Examples
///
/// ```
/// use safe_unix_listener::UnixAddr;
///
/// let a: UnixAddr = "@app".parse()?;
/// assert_eq!(a.as_abstract_name(), Some(&b"app"[..]));
///
/// let p: UnixAddr = "unix:/run/app/app.sock".parse()?;
/// assert_eq!(p.as_path(), Some(std::path::Path::new("/run/app/app.sock")));
/// assert_eq!(p.to_string(), "/run/app/app.sock");
///
/// let err = "".parse::<UnixAddr>().unwrap_err();
/// assert_eq!(err.kind(), safe_unix_listener::BindErrorKind::InvalidAddress);
/// # Ok::<(), safe_unix_listener::BindError>(())
/// ```
///
/// As a command-line argument: clap needs nothing but [`FromStr`], and a
/// bad address is reported with the crate's message.
///
/// ```
/// use clap::Parser;
/// use safe_unix_listener::UnixAddr;
///
/// #[derive(Parser)]
/// struct Args {
///     /// Where to listen: a path, unix:/path or @name.
///     #[arg(long, default_value = "/run/app/app.sock")]
///     listen: UnixAddr,
/// }
///
/// let args = Args::try_parse_from(["app", "--listen", "@app"])?;
/// assert_eq!(args.listen.to_string(), "@app");
/// let err = Args::try_parse_from(["app", "--listen", ""]).err().unwrap();
/// assert!(err.to_string().contains("cannot use address \"\""));
/// # Ok::<(), clap::Error>(())
/// ```
///
/// With the `serde` feature it reads and writes as the same string, for
/// configuration files (see `examples/config_file.rs`):
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use safe_unix_listener::UnixAddr;
///
/// #[derive(serde::Deserialize)]
/// struct Config {
///     listen: UnixAddr,
/// }
///
/// let config: Config = serde_json::from_str(r#"{ "listen": "unix:/run/app.sock" }"#).unwrap();
/// assert_eq!(config.listen.as_path(), Some(std::path::Path::new("/run/app.sock")));
/// assert_eq!(serde_json::to_string(&config.listen).unwrap(), r#""/run/app.sock""#);
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnixAddr(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

/// The longest path the kernel takes, with its terminating NUL.
const PATH_MAX: usize = 4096;
/// The prefix that marks a string as a path, whatever follows it.
const PATH_PREFIX: &str = "unix:";
/// The prefix that marks a string as an abstract name.
const ABSTRACT_PREFIX: char = '@';

impl UnixAddr {
    /// A filesystem path, checked for emptiness, NUL bytes, a last
    /// component that is a file name (not `/`, `.` or `..`), and length.
    /// A path that starts with a NUL byte is an abstract name, as tokio and
    /// the kernel spell it: `"\0app"` is `@app`.
    ///
    /// A socket address holds 107 bytes of path on Linux, 103 on macOS and
    /// the BSDs (the `sun_path` size less the terminating NUL). On Linux
    /// and Android a longer path works too, up to `PATH_MAX`: the bind, the
    /// probe and [`connect`](Self::connect) go through the directory's
    /// descriptor (`/proc/self/fd/N/name`), which leaves 82 bytes for the
    /// last component. Clients not built on this crate (curl, nginx,
    /// Python) still need a path that fits, and the kernel names such a
    /// socket by that descriptor route, not by its path. Elsewhere a longer
    /// path is [`PathTooLong`](crate::BindErrorKind::PathTooLong).
    ///
    /// ```
    /// use safe_unix_listener::{BindErrorKind, UnixAddr};
    ///
    /// assert!(UnixAddr::from_path("/run/app.sock").is_ok());
    /// assert_eq!(UnixAddr::from_path("\0app")?.to_string(), "@app");
    /// let long = format!("/tmp/{}", "x".repeat(200));
    /// let err = UnixAddr::from_path(&long).unwrap_err();
    /// assert_eq!(err.kind(), BindErrorKind::PathTooLong);
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, BindError> {
        let path = path.as_ref();
        let bytes = path.as_os_str().as_bytes();
        if let Some(name) = bytes.strip_prefix(b"\0") {
            // tokio's, and the kernel's, spelling of an abstract name.
            return Self::from_abstract_name(name);
        }
        if bytes.is_empty() {
            return Err(BindError::invalid_address(
                path.display(),
                "the path is empty",
            ));
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            return Err(BindError::invalid_address(
                path.display(),
                format_args!("the path contains a NUL byte at offset {at}"),
            ));
        }
        let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or_default();
        if matches!(last, b"" | b"." | b"..") {
            return Err(BindError::invalid_address(
                path.display(),
                "the path does not end in a file name (it ends in `/`, `.` or `..`)",
            ));
        }
        if bytes.len() > sys::MAX_PATH_LEN {
            if !sys::LONG_PATHS || bytes.len() >= PATH_MAX {
                return Err(BindError::path_too_long(
                    path,
                    bytes.len(),
                    sys::MAX_PATH_LEN,
                ));
            }
            if last.len() > sys::MAX_LONG_PATH_NAME {
                return Err(BindError::long_path_name_too_long(
                    path,
                    last.len(),
                    sys::MAX_LONG_PATH_NAME,
                ));
            }
        }
        Ok(Self(Inner::Path(path.to_owned())))
    }

    /// A name in the Linux abstract namespace, without the leading `@`.
    ///
    /// The name is checked here for emptiness and length (at most 107
    /// bytes); binding it fails with
    /// [`Unsupported`](crate::BindErrorKind::Unsupported) on platforms other
    /// than Linux and Android.
    ///
    /// ```
    /// use safe_unix_listener::UnixAddr;
    ///
    /// let a = UnixAddr::from_abstract_name("app")?;
    /// assert_eq!(a.to_string(), "@app");
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn from_abstract_name(name: impl AsRef<[u8]>) -> Result<Self, BindError> {
        let name = name.as_ref();
        let shown = format!("@{}", String::from_utf8_lossy(name));
        if name.is_empty() {
            return Err(BindError::invalid_address(
                shown,
                "the abstract name is empty",
            ));
        }
        if name.len() > sys::MAX_ABSTRACT_LEN {
            return Err(BindError::name_too_long(
                shown,
                name.len(),
                sys::MAX_ABSTRACT_LEN,
            ));
        }
        Ok(Self(Inner::Abstract(name.to_owned())))
    }

    /// The address a bound socket's name holds: a path or an abstract
    /// name; `None` for an unnamed one.
    pub(crate) fn from_sockaddr(name: &nix::sys::socket::UnixAddr) -> Option<Self> {
        match (name.path(), sys::abstract_name_of(name)) {
            (Some(path), _) => Self::from_path(path).ok(),
            (_, Some(abstract_name)) => Self::from_abstract_name(abstract_name).ok(),
            _ => None,
        }
    }

    /// The path, for a filesystem address.
    pub fn as_path(&self) -> Option<&Path> {
        match &self.0 {
            Inner::Path(p) => Some(p),
            Inner::Abstract(_) => None,
        }
    }

    /// The name without the leading `@`, for an abstract address.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Inner::Path(_) => None,
            Inner::Abstract(name) => Some(name),
        }
    }

    /// The address's shape, to match on: a path or an abstract name, and
    /// nothing else.
    ///
    /// ```
    /// use safe_unix_listener::{AddrView, UnixAddr};
    ///
    /// let addr: UnixAddr = "@app".parse()?;
    /// let shown = match addr.view() {
    ///     AddrView::Path(path) => format!("curl --unix-socket {}", path.display()),
    ///     AddrView::Abstract(name) => {
    ///         format!("curl --abstract-unix-socket {}", String::from_utf8_lossy(name))
    ///     }
    /// };
    /// assert_eq!(shown, "curl --abstract-unix-socket app");
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn view(&self) -> AddrView<'_> {
        match &self.0 {
            Inner::Path(p) => AddrView::Path(p),
            Inner::Abstract(name) => AddrView::Abstract(name),
        }
    }

    /// Connects to the server at this address: a path, or an abstract name
    /// (Linux and Android). For clients and tests.
    ///
    /// # Errors
    ///
    /// The OS error's kind (`NotFound`, `ConnectionRefused`,
    /// `PermissionDenied`, `Unsupported` for an abstract name elsewhere),
    /// with a message that names the address.
    ///
    /// ```
    /// use safe_unix_listener::SafeUnixListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let listener = SafeUnixListener::bind(dir.path().join("app.sock"))?;
    /// let _client = listener.addr().connect().await?;
    /// let (_server, _) = listener.accept().await?;
    ///
    /// let err = "/nonexistent/app.sock".parse::<safe_unix_listener::UnixAddr>()?.connect().await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// assert!(err.to_string().starts_with("cannot connect to /nonexistent/app.sock: "));
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self) -> io::Result<tokio::net::UnixStream> {
        let connected = match self.view() {
            AddrView::Path(path) if path.as_os_str().len() > sys::MAX_PATH_LEN => {
                connect_long(path).await
            }
            AddrView::Path(path) => tokio::net::UnixStream::connect(path).await,
            AddrView::Abstract(name) => connect_abstract(name).await,
        };
        connected.map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {self}: {e}")))
    }

    /// The address as [`Display`](fmt::Display) shows it, escaped for a
    /// terminal or a log: control characters (such as ESC) as `\e` or
    /// `\u{7}`, format characters (such as U+202E) as `\u{202e}`, bytes
    /// that are not UTF-8 as `\xff`, and a backslash as `\\`. Every message
    /// of this crate shows addresses this way.
    ///
    /// ```
    /// use safe_unix_listener::UnixAddr;
    ///
    /// let addr: UnixAddr = "/tmp/\u{1b}]0;title\u{7}.sock".parse()?;
    /// assert_eq!(addr.escaped().to_string(), "/tmp/\\e]0;title\\u{7}.sock");
    /// # Ok::<(), safe_unix_listener::BindError>(())
    /// ```
    pub fn escaped(&self) -> impl fmt::Display + '_ {
        Escaped(self)
    }

    /// Whether this is an abstract address (no file behind it).
    pub fn is_abstract(&self) -> bool {
        matches!(self.0, Inner::Abstract(_))
    }
}

/// The shape of a [`UnixAddr`], from [`UnixAddr::view`]: exhaustive, so a
/// `match` needs no other arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrView<'a> {
    /// A filesystem path.
    Path(&'a Path),
    /// A name in the Linux abstract namespace, without the leading `@`.
    Abstract(&'a [u8]),
}

/// A connect to a path longer than `sun_path`, through its directory's
/// descriptor (`/proc/self/fd/N/name`).
async fn connect_long(path: &Path) -> io::Result<tokio::net::UnixStream> {
    let (dir, name) = (
        crate::stat::parent_dir(path),
        path.file_name().unwrap_or_default(),
    );
    let handle = sys::open_dir_handle(dir)?;
    let at = crate::entry::EntryRef::new(std::os::fd::AsFd::as_fd(&handle), name, path);
    let crate::entry::Reach::Descriptor(through) = at.reach(false) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a path longer than {} bytes is reached through /proc/self/fd, and /proc is not mounted",
                sys::MAX_PATH_LEN
            ),
        ));
    };
    let fd = sys::stream_socket()?;
    // A Unix stream connect completes at once, or fails (EAGAIN when the
    // server's queue is full).
    match sys::connect(std::os::fd::AsFd::as_fd(&fd), &through) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => {}
        Err(errno) => return Err(errno.into()),
    }
    tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
}

/// A non-blocking connect to an abstract name, handed to Tokio.
async fn connect_abstract(name: &[u8]) -> io::Result<tokio::net::UnixStream> {
    let Some(addr) = sys::abstract_sockaddr(name) else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "abstract socket names exist only on Linux and Android",
        ));
    };
    let fd = sys::stream_socket()?;
    // A Unix stream connect completes at once, or fails (EAGAIN when the
    // server's queue is full).
    nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)?;
    tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
}

impl FromStr for UnixAddr {
    type Err = BindError;

    fn from_str(s: &str) -> Result<Self, BindError> {
        Self::try_from(OsStr::new(s))
    }
}

/// The forms [`FromStr`] reads, from any string the OS allows: a path
/// need not be UTF-8 (a command-line argument naming a socket any user
/// made, say).
///
/// ```
/// use std::ffi::OsStr;
/// use std::os::unix::ffi::OsStrExt;
/// use safe_unix_listener::UnixAddr;
///
/// let addr = UnixAddr::try_from(OsStr::from_bytes(b"unix:/tmp/caf\xe9.sock"))?;
/// assert_eq!(addr.as_path().unwrap().as_os_str().as_bytes(), b"/tmp/caf\xe9.sock");
/// # Ok::<(), safe_unix_listener::BindError>(())
/// ```
impl TryFrom<&OsStr> for UnixAddr {
    type Error = BindError;

    fn try_from(s: &OsStr) -> Result<Self, BindError> {
        let bytes = s.as_bytes();
        if let Some(path) = bytes.strip_prefix(PATH_PREFIX.as_bytes()) {
            Self::from_path(OsStr::from_bytes(path))
        } else if let Some(name) = bytes.strip_prefix(&[ABSTRACT_PREFIX as u8]) {
            Self::from_abstract_name(name)
        } else {
            Self::from_path(s)
        }
    }
}

impl TryFrom<&Path> for UnixAddr {
    type Error = BindError;

    fn try_from(path: &Path) -> Result<Self, BindError> {
        Self::from_path(path)
    }
}

impl TryFrom<PathBuf> for UnixAddr {
    type Error = BindError;

    fn try_from(path: PathBuf) -> Result<Self, BindError> {
        Self::from_path(path)
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Path(p) => {
                let s = p.as_os_str();
                if needs_prefix(s) {
                    f.write_str(PATH_PREFIX)?;
                }
                write!(f, "{}", p.display())
            }
            Inner::Abstract(name) => {
                write!(f, "{ABSTRACT_PREFIX}{}", String::from_utf8_lossy(name))
            }
        }
    }
}

/// [`UnixAddr::escaped`].
#[derive(Debug)]
struct Escaped<'a>(&'a UnixAddr);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.0 {
            Inner::Path(p) => {
                if needs_prefix(p.as_os_str()) {
                    f.write_str(PATH_PREFIX)?;
                }
                write!(f, "{}", crate::escape::shown(p))
            }
            Inner::Abstract(name) => {
                write!(f, "{ABSTRACT_PREFIX}{}", crate::escape::Shown(name))
            }
        }
    }
}

impl fmt::Debug for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixAddr").field(&self.to_string()).finish()
    }
}

/// A path that would parse as something else without the `unix:` prefix.
fn needs_prefix(s: &OsStr) -> bool {
    let b = s.as_bytes();
    b.starts_with(PATH_PREFIX.as_bytes()) || b.first() == Some(&(ABSTRACT_PREFIX as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BindErrorKind;

    fn roundtrip(s: &str) {
        let a: UnixAddr = s.parse().unwrap();
        let again: UnixAddr = a.to_string().parse().unwrap();
        assert_eq!(a, again, "{s:?} displayed as {a}");
    }

    #[test]
    fn parses_each_form() {
        let a: UnixAddr = "@app".parse().unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"app"[..]));
        assert_eq!(a.as_path(), None);
        let p: UnixAddr = "unix:/run/x.sock".parse().unwrap();
        assert_eq!(p.as_path(), Some(Path::new("/run/x.sock")));
        let r: UnixAddr = "rel/x.sock".parse().unwrap();
        assert_eq!(r.as_path(), Some(Path::new("rel/x.sock")));
        let odd: UnixAddr = "unix:@odd".parse().unwrap();
        assert_eq!(odd.as_path(), Some(Path::new("@odd")));
    }

    #[test]
    fn non_utf8_displays_as_replacement_and_does_not_round_trip() {
        let raw = UnixAddr::from_path(OsStr::from_bytes(b"/tmp/\xFF.sock")).unwrap();
        assert_eq!(raw.to_string(), "/tmp/\u{FFFD}.sock");
        let again: UnixAddr = raw.to_string().parse().unwrap();
        assert_ne!(again, raw, "documented: only UTF-8 addresses round-trip");
    }

    #[test]
    fn a_path_must_end_in_a_file_name() {
        for s in [
            "/tmp/d/sub/",
            "app.sock/",
            "/tmp/.",
            "/tmp/..",
            "/",
            "unix:/",
        ] {
            let e = s.parse::<UnixAddr>().unwrap_err();
            assert_eq!(e.kind(), BindErrorKind::InvalidAddress, "{s:?}");
            assert!(
                e.to_string().contains("does not end in a file name"),
                "{s:?}: {e}"
            );
        }
        assert!("/tmp/.hidden".parse::<UnixAddr>().is_ok());
        assert!("/tmp/a..b".parse::<UnixAddr>().is_ok());
    }

    #[test]
    fn display_round_trips_ambiguous_paths() {
        for s in [
            "@a",
            "/a",
            "a",
            "unix:@a",
            "unix:unix:a",
            "unix:///a",
            "@ spaced name",
        ] {
            roundtrip(s);
        }
        assert_eq!(
            "unix:@a".parse::<UnixAddr>().unwrap().to_string(),
            "unix:@a"
        );
    }

    #[test]
    fn rejects_bad_input_with_precise_kinds() {
        let cases = [
            ("", BindErrorKind::InvalidAddress, "empty"),
            ("unix:", BindErrorKind::InvalidAddress, "empty"),
            ("@", BindErrorKind::InvalidAddress, "empty"),
            (
                "/a\0b",
                BindErrorKind::InvalidAddress,
                "NUL byte at offset 2",
            ),
        ];
        for (s, kind, words) in cases {
            let e = s.parse::<UnixAddr>().unwrap_err();
            assert_eq!(e.kind(), kind, "{s:?}");
            assert!(e.to_string().contains(words), "{s:?}: {e}");
        }
    }

    #[test]
    fn length_limit_is_exact() {
        let max = "a".repeat(sys::MAX_PATH_LEN);
        assert!(UnixAddr::from_path(&max).is_ok());
        let over = "a".repeat(sys::MAX_PATH_LEN + 1);
        let e = UnixAddr::from_path(&over).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::PathTooLong);
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{} bytes", sys::MAX_PATH_LEN + 1)),
            "{msg}"
        );
        let limit = match sys::LONG_PATHS {
            true => format!(
                "at most {} bytes for its last component",
                sys::MAX_LONG_PATH_NAME
            ),
            false => format!("at most {}", sys::MAX_PATH_LEN),
        };
        assert!(msg.contains(&limit), "{msg}");
        // Longer, where the last component fits after /proc/self/fd/N/.
        let deep = format!(
            "{}/{}",
            "d".repeat(200),
            "a".repeat(sys::MAX_LONG_PATH_NAME)
        );
        assert_eq!(UnixAddr::from_path(&deep).is_ok(), sys::LONG_PATHS);

        let name = "n".repeat(sys::MAX_ABSTRACT_LEN + 1);
        let e = UnixAddr::from_abstract_name(&name).unwrap_err();
        assert_eq!(e.kind(), BindErrorKind::PathTooLong);
    }
}
