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

/// A request's admission with its descriptor, ready to decide it again (see the
/// server's manager). Made by [`AdmissionTicket::admission`].
pub struct Ticket {
    pub(crate) version: u64,
    pub(crate) desc: RequestDescriptor,
    pub(crate) policy: Option<Arc<Policy>>,
    pub(crate) gate: Arc<Gate>,
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

/// What the gate puts in the extensions of an admitted request that may write (any
/// method but the safe GET, HEAD, OPTIONS and TRACE): the state version it decided
/// under and the policy that decided (`None`: the floor admitted). It holds no copy
/// of the request: only a handler that needs to decide again pays for describing
/// it, from the same parts the gate read.
#[derive(Clone)]
pub struct AdmissionTicket {
    pub(crate) version: u64,
    pub(crate) policy: Option<Arc<Policy>>,
    pub(crate) gate: Arc<Gate>,
}

impl AdmissionTicket {
    /// The state version the gate decided under.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// This request's admission, described from `parts` as the gate described it.
    pub fn admission(&self, parts: &http::request::Parts) -> Arc<dyn Admission> {
        let desc = self.gate.describe(&parts.method, &parts.uri, &parts.headers, &parts.extensions, |v| v.to_descriptor());
        Arc::new(Ticket { version: self.version, desc, policy: self.policy.clone(), gate: self.gate.clone() })
    }
}
