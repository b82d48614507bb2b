//! The command line's reading of server answers and event streams: see drydock_fuzz_bodies::cli_response for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| drydock_fuzz_bodies::cli_response::run(bytes));
