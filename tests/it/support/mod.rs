//! Helpers shared by the integration tests, one topic per module.

pub mod client;
pub mod example;
pub mod files;
pub mod fixture;
pub mod helper;
pub mod log;
pub mod props;
pub mod strace;

pub use client::*;
pub use example::*;
pub use files::*;
pub use fixture::*;
pub use helper::*;
pub use log::*;
pub use strace::*;
