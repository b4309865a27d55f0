//! Capture of what the crate logs in this test process.

use std::sync::OnceLock;

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged in this test process so far, at `info` and above.
/// The first call installs a global subscriber: one scoped to a thread can
/// miss events whose callsite another test thread registered first.
pub fn captured_log() -> String {
    static LOG: OnceLock<Captured> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        log
    });
    String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned()
}
