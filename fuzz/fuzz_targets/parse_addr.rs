//! `UnixAddr` from arbitrary bytes and strings: never a panic, and
//! parse → display → parse round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/support/props.rs"]
#[allow(dead_code)] // each target uses a part
mod props;

fuzz_target!(|data: &[u8]| props::parse_never_panics_and_round_trips(data));
