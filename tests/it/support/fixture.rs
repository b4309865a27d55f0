//! The usual setup: a temp directory (with a mode other users can reach, or
//! not), a socket path in it, and a runtime to bind in.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A temp dir with the given mode, so a helper running as another user can
/// reach (or not reach) it.
pub fn tempdir_with_mode(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("sul-").tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
    dir
}

pub fn tempdir() -> tempfile::TempDir {
    tempdir_with_mode(0o755)
}

/// A runtime for the synchronous parts of a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A temp directory, `app.sock` in it, and a runtime:
/// `let f = Fixture::new(); let _rt = f.rt.enter();`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub rt: tokio::runtime::Runtime,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_mode(0o755)
    }

    /// The temp directory gets `mode`.
    pub fn with_mode(mode: u32) -> Self {
        let dir = tempdir_with_mode(mode);
        let path = dir.path().join("app.sock");
        Self {
            dir,
            path,
            rt: runtime(),
        }
    }
}
