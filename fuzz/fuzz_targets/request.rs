//! The request descriptor from arbitrary method, path and headers: see drydock_fuzz_bodies::request for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| drydock_fuzz_bodies::request::run(bytes));
