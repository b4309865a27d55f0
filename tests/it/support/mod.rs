//! Helpers shared by the integration tests, one topic per module.

pub mod client;
pub mod example;
pub mod files;
pub mod fixture;
pub mod helper;
pub mod log;
pub mod props;
pub mod strace;

pub use client::{curl, curl_as, ss_line};
pub use example::{
    Running, connect_when_listening, echo_line, example_bin, expect_bind_failure, finish, signal,
    spawn_example, wait_for_file, wait_listening,
};
pub use files::{exists, ino, listing, lock_file, make_stale, make_stale_with_mode};
pub use fixture::{Fixture, in_runtime, runtime, tempdir, tempdir_with_mode};
pub use helper::{
    Holder, NOBODY, Outcome, assert_panicked_without_io_at, executable_by_all, helper,
    helper_bind_main, helper_via, report_failure, run_helper,
};
pub use log::captured_log;
pub use strace::{
    helper_holding, helper_under_strace, in_syscall, invocation, run_injected, traced_helper,
    wait_until,
};
