//! A loaded policy and its decision hot path: borrow a warm instance, call it
//! under the limits, give it back. No compilation and no lock on this path.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use wasmtime::Store;

use crate::types::{Decision, RequestDescriptor, Snapshot};

use super::bindings::{Policy as Bindings, PolicyPre};
use super::convert;
use super::fault::Fault;
use super::limits::{self, Limits, StoreState};
use super::load::LoadError;
use super::runtime::Ticker;

/// A validated, compiled policy. Share it as `Arc<Policy>`.
pub struct Policy {
    name: String,
    version: String,
    sha256: String,
    /// `name@version#sha8`: made once at load.
    label: String,
    /// Unique among the policies this process loaded (a memo key; addresses get reused).
    serial: u64,
    size: usize,
    pre: PolicyPre<StoreState>,
    limits: Limits,
    /// The engine's epoch ticker: it runs while this policy's guest code does.
    ticker: Arc<Ticker>,
    /// Idle instances; `None` when every decision gets a fresh one.
    idle: Option<ArrayQueue<Instance>>,
}

/// One store with one instance in it. A store is never shared: it belongs to
/// the decision that popped it.
struct Instance {
    store: Store<StoreState>,
    bindings: Bindings,
}

impl Policy {
    /// Instantiate once to read the name and version; that instance becomes
    /// the first idle one.
    pub(super) fn new(
        pre: PolicyPre<StoreState>,
        sha256: String,
        size: usize,
        limits: &Limits,
        ticker: Arc<Ticker>,
    ) -> Result<Policy, LoadError> {
        let ticking = ticker.clone();
        let _ticking = ticking.running();
        let mut policy = Policy {
            name: String::new(),
            version: String::new(),
            label: String::new(),
            serial: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            sha256,
            size,
            pre,
            limits: *limits,
            ticker,
            idle: (limits.pool_size > 0).then(|| ArrayQueue::new(limits.pool_size)),
        };
        let mut instance = policy
            .instantiate()
            .map_err(|f| LoadError::Metadata(f.to_string()))?;
        let mut call = |f: fn(&Bindings, &mut Store<StoreState>) -> wasmtime::Result<String>| {
            limits::arm(&mut instance.store);
            f(&instance.bindings, &mut instance.store)
                .map_err(|e| Fault::from_call(e, instance.store.data()))
                .map_err(|f| LoadError::Metadata(f.to_string()))
        };
        let name = call(|b, s| b.call_name(s))?;
        let version = call(|b, s| b.call_version(s))?;
        for (what, text) in [("name", &name), ("version", &version)] {
            if text.is_empty()
                || text.len() > 128
                || text.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(LoadError::Metadata(format!(
                    "{what} {text:?}: want 1..=128 printable characters, no spaces"
                )));
            }
        }
        policy.label = format!("{name}@{version}#{}", &policy.sha256[..8]);
        (policy.name, policy.version) = (name, version);
        policy.give_back(instance);
        Ok(policy)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Hex SHA-256 of the component bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// `name@version#<first 8 hex digits of sha256>`, e.g. for `X-Drydock-Policy`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A number no other policy loaded by this process has.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn decide(&self, req: &RequestDescriptor, snap: &Snapshot) -> Result<Decision, Fault> {
        let input = convert::input(req, snap);
        let _ticking = self.ticker.running();
        let mut instance = match self.idle.as_ref().and_then(ArrayQueue::pop) {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        limits::arm(&mut instance.store);
        // On any fault below, `instance` is dropped here: a guest that
        // trapped or answered garbage may be in any state.
        match instance.bindings.call_decide(&mut instance.store, &input) {
            Ok(answer) => {
                let decision = convert::decision(answer).map_err(Fault::Garbage)?;
                self.give_back(instance);
                Ok(decision)
            }
            Err(e) => Err(Fault::from_call(e, instance.store.data())),
        }
    }

    fn instantiate(&self) -> Result<Instance, Fault> {
        let mut store = Store::new(self.pre.engine(), StoreState::new(&self.limits));
        store.limiter(|state| state);
        limits::install_deadline(&mut store);
        // Instantiation runs guest code too (start functions, data init).
        limits::arm(&mut store);
        match self.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Instance { store, bindings }),
            Err(e) => Err(Fault::from_call(e, store.data())),
        }
    }

    /// Keep a healthy instance warm; past the pool's capacity, drop it.
    fn give_back(&self, instance: Instance) {
        if let Some(idle) = &self.idle {
            let _ = idle.push(instance);
        }
    }

    /// Idle instances right now (for tests and metrics).
    pub fn idle_instances(&self) -> usize {
        self.idle.as_ref().map_or(0, ArrayQueue::len)
    }
}
