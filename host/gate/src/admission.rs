//! The race-free rule's half in the gate: an admitted request carries how it was
//! admitted (the state version and the deciding policy), so the host can decide a
//! write again if the state moved before it commits.

use std::sync::Arc;

use drydock_engine::{Decision, Policy, RequestDescriptor, Snapshot};

use crate::Gate;

/// How a write was admitted: the snapshot version the gate decided under, and a way
/// to decide the same request again should the state have moved since.
pub trait Admission: Send + Sync {
    fn version(&self) -> u64;
    fn decide_again(&self, snapshot: &Snapshot) -> Decision;
}

/// The ticket an admitted request carries to its handler, so a write can be decided
/// again if the state moved (see the server's manager).
pub struct Ticket {
    pub(crate) version: u64,
    pub(crate) desc: RequestDescriptor,
    pub(crate) policy: Option<Arc<Policy>>,
    pub(crate) gate: Gate,
}

impl Admission for Ticket {
    fn version(&self) -> u64 {
        self.version
    }

    fn decide_again(&self, snapshot: &Snapshot) -> Decision {
        match &self.policy {
            // The version that admitted the request decides it again.
            Some(policy) => self.gate.ask(policy, &self.desc, snapshot),
            None => Decision::Allow,
        }
    }
}

/// Extension carrying the ticket (cheap to clone).
#[derive(Clone)]
pub struct AdmissionTicket(pub Arc<Ticket>);
