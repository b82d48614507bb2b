//! The case-table parser of `drydock policy test`: see drydock_fuzz_bodies::case_table for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| drydock_fuzz_bodies::case_table::run(bytes));
