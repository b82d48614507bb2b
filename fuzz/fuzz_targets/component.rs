//! The component loader and validator: see drydock_fuzz_bodies::component for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| drydock_fuzz_bodies::component::run(bytes));
