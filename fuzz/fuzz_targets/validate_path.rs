//! The up-front path checks against what the kernel accepts: each input is
//! a file name bound for real in a temporary directory.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/support/props.rs"]
#[allow(dead_code)] // each target uses a part
mod props;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temp dir"));
    // One file in the directory: a slash would name a missing subdirectory.
    let name: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&b| b != b'/')
        .take(200)
        .collect();
    props::path_verdict_matches_kernel(dir.path(), &name);
});
