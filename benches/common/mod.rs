//! A small harness for side-by-side comparisons: every variant runs once
//! per round, in turn, so that load on a shared machine hits them alike;
//! the table reports medians and ratios to a baseline.
#![allow(dead_code)]

use std::time::Duration;

/// One contender: a name, and a run that returns one sample.
pub struct Variant<'a> {
    pub name: &'static str,
    pub run: Box<dyn FnMut() -> f64 + 'a>,
}

/// How many rounds: `BENCH_ROUNDS`, or `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs every variant once per round, interleaved; returns the samples of
/// each variant, after one warm-up round that is thrown away.
pub fn interleave(rounds: usize, variants: &mut [Variant<'_>]) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..=rounds {
        for (i, v) in variants.iter_mut().enumerate() {
            let sample = (v.run)();
            if round > 0 {
                samples[i].push(sample);
            }
        }
    }
    samples
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints a Markdown table: median, spread, and the ratio of each median
/// to the baseline's (so above 1.00 is faster for rates, slower for times).
pub fn table(title: &str, unit: &str, names: &[&str], samples: &[Vec<f64>], baseline: usize) {
    let base = median(&samples[baseline]);
    println!("\n### {title}\n");
    println!(
        "| variant | median {unit} | min | max | ratio to {} |",
        names[baseline]
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, s) in names.iter().zip(samples) {
        let (lo, hi) = s
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        println!(
            "| {name} | {:.1} | {lo:.1} | {hi:.1} | {:.3} |",
            median(s),
            median(s) / base
        );
    }
}

pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A multi-threaded runtime with one worker per core (2 on the CI machine).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}
