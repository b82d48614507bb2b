//! The wasm side: bindings generated from `wit/v2/` (contract 2.0.0, the input
//! packed into one byte list) and the conversions between them and the plain types.
//! Only `export_policy!` uses this module.

pub use std::string::String;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v2",
        world: "drydock:policy/policy@2.0.0",
        // Expanded in the policy's crate, so it must be reachable from there.
        pub_export_macro: true,
        export_macro_name: "__drydock_export_world",
        runtime_path: "::drydock_policy_sdk::__guest::rt",
    });
}

pub use wit_bindgen::rt;

use std::cell::RefCell;

use crate::{Decision, Denial, Input, Policy};
use bindings as wit;

thread_local! {
    /// The last decision's input, refilled in place: after the first decisions its
    /// strings have the capacity they need, so decoding allocates nothing.
    static INPUT: RefCell<Input> = RefCell::new(Input::empty());
}

/// Unpack, decide, convert back. Input the host would never send is refused.
pub fn decide<P: Policy>(packed: Vec<u8>) -> wit::Decision {
    INPUT.with(|input| {
        let mut input = input.borrow_mut();
        match crate::packed::unpack_into(&packed, &mut input) {
            Ok(()) => to_wit(P::decide(&input)),
            Err(why) => to_wit(Decision::Deny(Denial {
                status: 500,
                error_code: "policy_input_error".into(),
                message: why.into(),
                retry_after: None,
            })),
        }
    })
}

fn to_wit(d: Decision) -> wit::Decision {
    match d {
        Decision::Allow => wit::Decision::Allow,
        Decision::Deny(d) => wit::Decision::Deny(wit::Denial {
            status: d.status,
            error_code: d.error_code,
            message: d.message,
            retry_after: d.retry_after,
        }),
    }
}
