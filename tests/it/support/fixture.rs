//! The usual setup: a temp directory (with a mode other users can reach, or
//! not), a socket path in it, and a runtime the test runs in.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use tokio::runtime::Runtime;

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
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `test` inside a runtime of its own, where a bind can register its
/// socket, for a test that needs no [`Fixture`] directory. The runtime is
/// there for `rt.block_on`, and dropped once `test` returns.
pub fn in_runtime<T>(test: impl FnOnce(&Runtime) -> T) -> T {
    let rt = runtime();
    let _enter = rt.enter();
    test(&rt)
}

/// A temp directory, `app.sock` in it, and a runtime:
/// `Fixture::new().run(|f| …)` runs the test inside that runtime.
pub struct Fixture {
    /// First, so that it is dropped before the directory is removed.
    pub rt: Runtime,
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
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
            rt: runtime(),
            dir,
            path,
        }
    }

    /// Runs `test` inside the fixture's runtime, where a bind can register
    /// its socket; the runtime is left again when `test` returns, so one
    /// fixture can run several steps with work outside the runtime between.
    pub fn run<T>(&self, test: impl FnOnce(&Self) -> T) -> T {
        let _enter = self.rt.enter();
        test(self)
    }
}
