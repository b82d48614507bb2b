//! The case-table parser (`drydock policy test`'s YAML/JSON): any text is read or
//! refused with a place and a reason, never a crash; every case it accepts is
//! evaluated through the real engine and the shipped default policy.

use std::sync::OnceLock;

use drydock::offline::cases;
use drydock_engine::{Engine, Limits, Policy};
use drydock_gate::{FailMode, GateConfig};

fn setup() -> &'static (Policy, GateConfig) {
    static SETUP: OnceLock<(Policy, GateConfig)> = OnceLock::new();
    SETUP.get_or_init(|| {
        // A deadline no load on the fuzzing or testing host trips: the subject is the
        // decision, not the clock.
        let engine = Engine::new(Limits { deadline: std::time::Duration::from_secs(1), ..Limits::default() }).expect("an engine");
        let policy = engine.load(drydock_engine::DEFAULT_POLICY).expect("the default policy loads");
        (policy, drydock_server::api::gate_config(FailMode::Closed))
    })
}

pub fn run(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    match cases::parse("fuzz.yaml", text) {
        Ok(all) => {
            let (policy, config) = setup();
            for case in all.iter().take(16) {
                let actual = cases::evaluate(policy, config, case);
                let _ = cases::matches(&case.expect, &actual);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
