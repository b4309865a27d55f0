//! The integration tests: one module per behaviour area, built as one
//! binary so that the dependency graph is linked once.

mod support;

mod abstract_ns;
mod accept;
mod access;
mod acl;
mod activation;
mod api;
mod axum;
mod client;
mod compat;
mod config;
mod containers;
mod crash;
mod datagram;
mod example_echo;
mod example_flags;
mod faults;
mod filesystems;
mod grpc;
mod hostile;
mod hyper;
mod identity;
mod inspect;
mod live;
mod long_paths;
mod mode;
mod nginx;
mod no_tokio;
mod not_a_socket;
mod notify;
mod parent;
mod paths;
mod permission;
mod privilege;
mod properties;
mod race;
mod restart;
mod seccomp;
mod shutdown;
mod stale;
mod stress;
mod takeover;
mod temp;

/// Run in a child process by the tests (see `support::helper`): binds
/// `SUL_ADDR` with the options in the environment and reports the outcome.
#[test]
#[ignore = "helper: run in a child process by the other tests"]
fn helper_bind() {
    support::helper_bind_main();
}
