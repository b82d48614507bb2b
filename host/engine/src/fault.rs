//! Why a decision failed. The gate decides what a fault means for the request
//! (fail closed or open); the engine only says what happened.

use super::limits::StoreState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("policy trapped: {0}")]
    Trap(String),
    #[error("policy exceeded its deadline")]
    Deadline,
    #[error("policy exceeded its memory limit")]
    Memory,
    #[error("policy answered garbage: {0}")]
    Garbage(String),
}

impl Fault {
    /// The kinds of fault, as `/metrics` labels them.
    pub const KINDS: [&'static str; 4] = ["trap", "deadline", "memory", "garbage"];

    /// This fault's kind: its position in [`Fault::KINDS`].
    pub fn kind_index(&self) -> usize {
        match self {
            Fault::Trap(_) => 0,
            Fault::Deadline => 1,
            Fault::Memory => 2,
            Fault::Garbage(_) => 3,
        }
    }

    /// Classify an error from instantiating or calling a guest.
    pub(super) fn from_call(err: wasmtime::Error, state: &StoreState) -> Fault {
        if state.memory_refused {
            // A guest allocator aborts (traps) when `memory.grow` fails.
            return Fault::Memory;
        }
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Fault::Deadline,
            Some(trap) => Fault::Trap(trap.to_string()),
            None => Fault::Trap(format!("{err:#}")),
        }
    }
}
