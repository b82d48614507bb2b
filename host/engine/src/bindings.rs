//! Host-side bindings for the `drydock:policy/policy` world. `PolicyPre::new`
//! is also the load-time type check of a candidate's exports.

wasmtime::component::bindgen!({
    path: "wit",
    world: "drydock:policy/policy",
});
