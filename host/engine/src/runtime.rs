//! The shared wasmtime engine: configuration, linker, and the epoch ticker
//! that turns deadlines into traps.

use std::path::PathBuf;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::Linker;

use super::Error;
use super::cache::{ArtifactLedger, Compilations, MemoryLedger};
use super::limits::{Limits, StoreState};

/// Epoch granularity: deadlines are enforced to within one tick.
pub(super) const TICK: Duration = Duration::from_millis(1);
/// Ticks the ticker keeps running after the last call ended before it parks. Waking
/// a parked thread is a syscall on the decision path; lingering keeps a busy server
/// from paying it per request, and an idle one still parks within 50 ms.
const LINGER_TICKS: u32 = 50;

/// Compiles and runs policies. Cheap to clone; clones share one wasmtime
/// engine and one ticker thread.
#[derive(Clone)]
pub struct Engine {
    pub(super) shared: Arc<Shared>,
    pub(super) cache: Option<super::cache::Cache>,
}

/// Bumps the engine's epoch every tick — but only while guest calls are under way
/// (and [`LINGER_TICKS`] after), so an idle engine costs no wake-ups. A call in
/// progress holds a [`Ticking`].
#[derive(Default)]
pub(super) struct Ticker {
    in_flight: AtomicUsize,
    /// A call started since the ticker last looked (calls shorter than a tick are
    /// seen too, so a busy server keeps the ticker up).
    busy: AtomicBool,
    pub(super) parked: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

/// Held for the length of a call into a guest: the ticker runs meanwhile.
pub(super) struct Ticking<'a>(&'a Ticker);

impl Ticker {
    pub(super) fn running(&self) -> Ticking<'_> {
        // SeqCst on both sides: either the ticker sees this call before it parks,
        // or this call sees it parked and wakes it (an unpark before a park is kept).
        if self.in_flight.fetch_add(1, SeqCst) == 0
            && self.parked.load(SeqCst)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
        self.busy.store(true, Relaxed);
        Ticking(self)
    }
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

pub(super) struct Shared {
    pub wasmtime: wasmtime::Engine,
    /// Empty: a policy imports nothing. Kept so instantiation goes through
    /// the usual `InstancePre` path.
    pub linker: Linker<StoreState>,
    pub limits: Limits,
    pub compilations: super::cache::Counts,
    pub ticker: Arc<Ticker>,
}

impl Engine {
    pub fn new(limits: Limits) -> Result<Engine, Error> {
        let wasmtime = wasmtime::Engine::new(&config()).map_err(|e| Error::Setup(format!("{e:#}")))?;
        let ticker = Arc::new(Ticker::default());
        start_ticker(&wasmtime, ticker.clone()).map_err(|e| Error::Setup(format!("epoch ticker thread: {e}")))?;
        let linker = Linker::new(&wasmtime);
        Ok(Engine {
            shared: Arc::new(Shared {
                wasmtime,
                linker,
                limits,
                compilations: Default::default(),
                ticker,
            }),
            cache: None,
        })
    }

    /// Keep compiled policies in `dir` (`<sha256>-<engine hash>.cwasm`), trusting
    /// only what this process wrote there (a [`MemoryLedger`]): a restart compiles
    /// again. [`Engine::with_cache`] with a persistent ledger lets a restart reuse them.
    pub fn with_cache_dir(self, dir: PathBuf) -> Self {
        self.with_cache(dir, Arc::new(MemoryLedger::default()))
    }

    /// Keep compiled policies in `dir`, using one only if its digest is the one
    /// `ledger` recorded when it was written.
    pub fn with_cache(mut self, dir: PathBuf, ledger: Arc<dyn ArtifactLedger>) -> Self {
        self.cache = Some(super::cache::Cache { dir, ledger });
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// How many loads compiled a component, and how many took it precompiled from
    /// the cache dir.
    pub fn compilations(&self) -> Compilations {
        self.shared.compilations.get()
    }
}

pub(super) fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    // Deadlines: a cheap counter check at function entries and loop headers,
    // bumped by the ticker thread (fuel would cost on every instruction).
    config.epoch_interruption(true);
    // Policies are plain synchronous calls: skip the per-store async state.
    config.concurrency_support(false);
    // On-demand allocation: instances are reused, so instantiation is off the
    // hot path and the pooling allocator's up-front reservation buys little.
    config
}

/// Bump the epoch every tick while a guest call is under way; park in between. The
/// thread exits once the last clone of the engine (and every policy compiled by it)
/// is gone.
fn start_ticker(engine: &wasmtime::Engine, ticker: Arc<Ticker>) -> std::io::Result<()> {
    let weak = engine.weak();
    let handle = std::thread::Builder::new().name("drydock-epoch".into()).spawn({
        let ticker = ticker.clone();
        move || {
            let mut idle = 0;
            loop {
                if ticker.busy.swap(false, Relaxed) || ticker.in_flight.load(SeqCst) != 0 {
                    idle = 0;
                } else if idle < LINGER_TICKS {
                    idle += 1;
                } else {
                    // `idle` stays at the linger: a park that ends with no call in
                    // sight (the timeout) parks again at once instead of lingering.
                    ticker.parked.store(true, SeqCst);
                    if ticker.in_flight.load(SeqCst) == 0 {
                        // Woken by the next call; the timeout only notices a dropped engine.
                        std::thread::park_timeout(Duration::from_secs(1));
                    }
                    ticker.parked.store(false, SeqCst);
                    if weak.upgrade().is_none() {
                        return;
                    }
                    continue;
                }
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        }
    })?;
    let _ = ticker.thread.set(handle.thread().clone());
    Ok(())
}
