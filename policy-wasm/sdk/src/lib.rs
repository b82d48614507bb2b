//! Write a drydock admission policy in plain Rust.
//!
//! A policy is a type implementing [`Policy`] over the plain data below (which
//! mirrors `wit/policy.wit`), plus one line that makes it a component:
//!
//! ```ignore
//! struct MyPolicy;
//! impl drydock_policy_sdk::Policy for MyPolicy { /* name, version, decide */ }
//! drydock_policy_sdk::export_policy!(MyPolicy);
//! ```
//!
//! Built natively (tests), the macro expands to nothing; built for `wasm32` it
//! exports `name`, `version` and `decide` as the `drydock:policy/policy@2.0.0`
//! world (the input packed into one byte list: `wit/v2/policy.wit`).
//! Build the crate as a `cdylib` for `wasm32-unknown-unknown` and componentize
//! the module (the host's build script does both for the bundled policies).

// The generated bindings name this crate by its absolute path (they also
// expand inside policy crates), so it must resolve from inside too.
extern crate self as drydock_policy_sdk;

#[doc(hidden)]
pub mod packed;
mod types;

pub use types::*;

/// One admission policy. Functions, not methods: a policy holds no state
/// between decisions (the host may answer from any instance, or a fresh one).
pub trait Policy {
    /// The policy's name, e.g. `cloudify-default`.
    fn name() -> &'static str;
    /// The policy's version, e.g. `1.0.0`.
    fn version() -> &'static str;
    /// Decide one request.
    fn decide(input: &Input) -> Decision;
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __guest;

/// Export `$policy` (a type implementing [`Policy`]) as the component's
/// `drydock:policy/policy` world. Use it once per crate. A no-op off wasm32.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __DrydockComponent;
            impl $crate::__guest::bindings::Guest for __DrydockComponent {
                fn name() -> $crate::__guest::String {
                    <$policy as $crate::Policy>::name().into()
                }
                fn version() -> $crate::__guest::String {
                    <$policy as $crate::Policy>::version().into()
                }
                fn decide(
                    input: ::std::vec::Vec<u8>,
                ) -> $crate::__guest::bindings::Decision {
                    $crate::__guest::decide::<$policy>(input)
                }
            }
            $crate::__guest::bindings::__drydock_export_world!(
                __DrydockComponent with_types_in $crate::__guest::bindings
            );
        };
    };
}
