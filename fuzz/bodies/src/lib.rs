//! What each fuzz target checks, as a plain function of the input's bytes. cargo
//! fuzz drives them with libFuzzer (`scripts/fuzz.sh`); `tests/replay.rs` runs the
//! seeds and every saved regression through them in the ordinary test build, so a
//! crash found once stays fixed without an instrumented build.

pub mod case_table;
pub mod cli_response;
pub mod component;
pub mod request;

/// Every target by its cargo fuzz name.
pub const TARGETS: [(&str, fn(&[u8])); 4] = [
    ("component", component::run),
    ("case_table", case_table::run),
    ("request", request::run),
    ("cli_response", cli_response::run),
];
