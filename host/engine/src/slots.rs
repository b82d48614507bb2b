//! The active policy and an optional shadow candidate, swapped atomically: a
//! decision in flight keeps the policy it started with.

use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};

use super::Policy;

pub struct Slots {
    active: ArcSwap<Policy>,
    shadow: ArcSwapOption<Policy>,
}

impl Slots {
    pub fn new(active: Arc<Policy>) -> Slots {
        Slots {
            active: ArcSwap::new(active),
            shadow: ArcSwapOption::empty(),
        }
    }

    pub fn active(&self) -> Arc<Policy> {
        self.active.load_full()
    }

    /// Make `policy` active; returns the previous one.
    pub fn set_active(&self, policy: Arc<Policy>) -> Arc<Policy> {
        self.active.swap(policy)
    }

    pub fn shadow(&self) -> Option<Arc<Policy>> {
        self.shadow.load_full()
    }

    /// Set or clear the shadow candidate; returns the previous one.
    pub fn set_shadow(&self, policy: Option<Arc<Policy>>) -> Option<Arc<Policy>> {
        self.shadow.swap(policy)
    }
}
