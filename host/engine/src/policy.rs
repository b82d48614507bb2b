//! A loaded policy and its decision hot path: borrow a warm instance, call it
//! under the limits, give it back. No compilation and no lock on this path.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use wasmtime::Store;

use crate::types::{Decision, RequestDescriptor, RequestView, Snapshot};

use super::bindings::{v1, v2};
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
    /// Linear memory its first instance held once instantiated (what it needs at start).
    memory_at_start: usize,
    /// How long its first instance took to instantiate and answer `name()`: what a
    /// decision on a fresh instance costs beyond the decision itself.
    start_time: std::time::Duration,
    pre: Pre,
    limits: Limits,
    /// The engine's epoch ticker: it runs while this policy's guest code does.
    ticker: Arc<Ticker>,
    /// Idle instances; `None` when every decision gets a fresh one.
    idle: Option<ArrayQueue<Instance>>,
}

/// The contract a component was built for, with its instantiation recipe.
#[derive(Clone)]
pub(super) enum Pre {
    V1(v1::PolicyPre<StoreState>),
    V2(v2::PolicyPre<StoreState>),
}

impl Pre {
    fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::V1(pre) => pre.engine(),
            Pre::V2(pre) => pre.engine(),
        }
    }

    /// The contract's version, e.g. for `drydock policy inspect`.
    pub(super) fn contract(&self) -> &'static str {
        match self {
            Pre::V1(_) => "1.0.0",
            Pre::V2(_) => "2.0.0",
        }
    }
}

enum Bindings {
    V1(v1::Policy),
    V2(v2::Policy),
}

/// One store with one instance in it. A store is never shared: it belongs to
/// the decision that popped it.
struct Instance {
    store: Store<StoreState>,
    bindings: Bindings,
    /// The packed input (2.0.0), reused: no allocation per decision.
    packed: Vec<u8>,
}

impl Policy {
    /// Instantiate once to read the name and version; that instance becomes
    /// the first idle one.
    pub(super) fn new(
        pre: Pre,
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
            memory_at_start: 0,
            start_time: std::time::Duration::ZERO,
            pre,
            limits: *limits,
            ticker,
            idle: (limits.pool_size > 0).then(|| ArrayQueue::new(limits.pool_size)),
        };
        let started = std::time::Instant::now();
        let mut instance = policy
            .instantiate()
            .map_err(|f| LoadError::Metadata(f.to_string()))?;
        policy.memory_at_start = instance.store.data().memory_total();
        let mut call = |version: bool| {
            limits::arm(&mut instance.store);
            let store = &mut instance.store;
            let answer = match (&instance.bindings, version) {
                (Bindings::V1(b), false) => b.call_name(&mut *store),
                (Bindings::V1(b), true) => b.call_version(&mut *store),
                (Bindings::V2(b), false) => b.call_name(&mut *store),
                (Bindings::V2(b), true) => b.call_version(&mut *store),
            };
            answer.map_err(|e| Fault::from_call(e, store.data())).map_err(|f| LoadError::Metadata(f.to_string()))
        };
        let name = call(false)?;
        let start_time = started.elapsed();
        let version = call(true)?;
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
        policy.start_time = start_time;
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

    /// The contract the component was built for: `1.0.0` or `2.0.0`.
    pub fn contract(&self) -> &'static str {
        self.pre.contract()
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Linear memory (all memories together) an instance holds once instantiated,
    /// before any decision: what the component needs at start.
    pub fn memory_at_start(&self) -> usize {
        self.memory_at_start
    }

    /// The same component under other limits (a version's own budget): no
    /// compilation, a fresh first instance, and the smoke set again under them.
    pub fn with_limits(&self, limits: &Limits) -> Result<Policy, LoadError> {
        let policy = Policy::new(self.pre.clone(), self.sha256.clone(), self.size, limits, self.ticker.clone())?;
        super::load::smoke(&policy)?;
        Ok(policy)
    }

    /// How long a fresh instance took to start and answer its first call.
    pub fn start_time(&self) -> std::time::Duration {
        self.start_time
    }

    /// The limits its decisions run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn decide(&self, req: &RequestDescriptor, snap: &Snapshot) -> Result<Decision, Fault> {
        self.decide_view(&req.view(), snap)
    }

    /// [`Policy::decide`] on a borrowed request: nothing is copied but into the guest.
    pub fn decide_view(&self, req: &RequestView<'_>, snap: &Snapshot) -> Result<Decision, Fault> {
        let _ticking = self.ticker.running();
        let mut instance = match self.idle.as_ref().and_then(ArrayQueue::pop) {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        limits::arm(&mut instance.store);
        // On any fault below, `instance` is dropped here: a guest that
        // trapped or answered garbage may be in any state.
        let Instance { store, bindings, packed } = &mut instance;
        let answer = match bindings {
            Bindings::V2(b) => {
                convert::pack(req, snap, packed);
                b.call_decide(&mut *store, packed).map(convert::decision_v2)
            }
            Bindings::V1(b) => {
                let mut by_status = [v1::StatusCount { status: v1::ExecutionStatus::Pending, count: 0 }; 7];
                let mut attrs = Vec::new();
                let input = convert::input_v1(req, snap, &mut by_status, &mut attrs);
                b.call_decide(&mut *store, input).map(convert::decision_v1)
            }
        };
        match answer {
            Ok(Ok(decision)) => {
                self.give_back(instance);
                Ok(decision)
            }
            Ok(Err(garbage)) => Err(Fault::Garbage(garbage)),
            Err(e) => Err(Fault::from_call(e, instance.store.data())),
        }
    }

    fn instantiate(&self) -> Result<Instance, Fault> {
        let mut store = Store::new(self.pre.engine(), StoreState::new(&self.limits));
        store.limiter(|state| state);
        limits::install_deadline(&mut store);
        // Instantiation runs guest code too (start functions, data init).
        limits::arm(&mut store);
        let bindings = match &self.pre {
            Pre::V1(pre) => pre.instantiate(&mut store).map(Bindings::V1),
            Pre::V2(pre) => pre.instantiate(&mut store).map(Bindings::V2),
        };
        match bindings {
            Ok(bindings) => Ok(Instance { store, bindings, packed: Vec::with_capacity(256) }),
            Err(e) => Err(Fault::from_call(e, store.data())),
        }
    }

    /// Keep a healthy instance warm; past the pool's capacity, drop it. One that
    /// has grown past half its headroom (what it held at start up to the cap) is
    /// retired too, so the next decision starts afresh before the cap is met: a
    /// guest whose collector runs only once memory is refused (SpiderMonkey, in a
    /// JavaScript policy) would otherwise trap there instead of collecting.
    fn give_back(&self, instance: Instance) {
        let grown = instance.store.data().memory_total();
        let retire_at = self.memory_at_start + (self.limits.memory_bytes.saturating_sub(self.memory_at_start)) / 2;
        if self.memory_at_start > 0 && grown > retire_at {
            return;
        }
        if let Some(idle) = &self.idle {
            let _ = idle.push(instance);
        }
    }

    /// Idle instances right now (for tests and metrics).
    pub fn idle_instances(&self) -> usize {
        self.idle.as_ref().map_or(0, ArrayQueue::len)
    }
}
