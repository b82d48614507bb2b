//! The component loader and validator: any bytes (and, from the seed corpus of the
//! shipped policies, mutated valid components) are loaded or refused with a reason,
//! never a crash; a component that loads decides a request without bringing the
//! host down (a fault is an answer too).

use std::sync::OnceLock;

use drydock_engine::{Caller, Engine, ExecutionCounts, Limits, MaintenanceState, RequestDescriptor, Role, Snapshot};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(Limits::default()).expect("an engine"))
}

pub fn run(bytes: &[u8]) {
    let Ok(policy) = engine().load(bytes) else { return };
    let caller = Caller { username: "fuzz".into(), role: Role::User, bypass: false };
    let desc = RequestDescriptor::new("POST", "/api/v3.1/executions", "/api/v3.1/executions", "/api/v3.1", caller);
    for state in [MaintenanceState::Deactivated, MaintenanceState::Activating, MaintenanceState::Activated] {
        let _ = policy.decide(&desc, &Snapshot::new(state, ExecutionCounts::default()));
    }
}
