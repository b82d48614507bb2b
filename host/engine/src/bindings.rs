//! Host-side bindings for the two contracts a policy may be built for. Each
//! `PolicyPre::new` is also the load-time type check of a candidate's exports.

/// `drydock:policy@1.0.0`: the input as a record of strings.
pub(super) mod v1 {
    wasmtime::component::bindgen!({
        path: "wit/policy.wit",
        world: "drydock:policy/policy@1.0.0",
        // The input borrows the descriptor's strings: lowering copies them into
        // the guest, nothing copies them before.
        ownership: Borrowing { duplicate_if_necessary: false },
    });
}

/// `drydock:policy@2.0.0`: the input packed into one byte list.
pub(super) mod v2 {
    wasmtime::component::bindgen!({
        path: "wit/v2/policy.wit",
        world: "drydock:policy/policy@2.0.0",
    });
}
