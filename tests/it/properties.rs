//! The fuzz targets' properties (fuzz/), run on stable over generated
//! inputs and the committed seeds, so that CI checks them on every change.
#![cfg(any(target_os = "linux", target_os = "android"))]

use crate::support::props;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes that hit the parser's edges: prefixes, separators, NUL,
    /// multi-byte UTF-8 and invalid UTF-8, at lengths around the limits.
    fn input(&mut self) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"@",
            b"unix:",
            b"/",
            b"a",
            b"sock",
            b".",
            b"..",
            b"\0",
            b" ",
            "é".as_bytes(),
            "\u{1F980}".as_bytes(),
            b"\xff",
            b"\xc3",
            b":",
            b"unix:@",
        ];
        let target = [0, 1, 2, 50, 100, 105, 106, 107, 108, 109, 120, 200][self.below(12)];
        let mut out = Vec::new();
        while out.len() < target {
            out.extend_from_slice(PIECES[self.below(PIECES.len())]);
        }
        if self.below(2) == 0 {
            out.truncate(target);
        }
        out
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn parse_addr_never_panics_and_round_trips() {
    for seed in seeds("parse_addr") {
        props::parse_never_panics_and_round_trips(&seed);
    }
    let mut rng = Rng(0x5AFE_0000_0001);
    for _ in 0..50_000 {
        props::parse_never_panics_and_round_trips(&rng.input());
    }
}

#[test]
fn validate_path_agrees_with_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    for seed in seeds("validate_path") {
        props::path_verdict_matches_kernel(dir.path(), &seed);
    }
    let mut rng = Rng(0x5AFE_0000_0002);
    for _ in 0..5_000 {
        let mut name = rng.input();
        name.retain(|&b| b != b'/'); // one file in the temp dir
        props::path_verdict_matches_kernel(dir.path(), &name);
    }
    // Every length up to past the limit, one byte at a time.
    let base = dir.path().as_os_str().len() + 1;
    for len in 1..=(120 - base) {
        props::path_verdict_matches_kernel(dir.path(), "n".repeat(len).as_bytes());
    }
}
