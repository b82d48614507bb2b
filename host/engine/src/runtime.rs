//! The shared wasmtime engine: configuration, linker, and the epoch ticker
//! that turns deadlines into traps.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;

use super::Error;
use super::cache::{ArtifactLedger, Compilations, MemoryLedger};
use super::limits::{Limits, StoreState};

/// Epoch granularity: deadlines are enforced to within one tick.
pub(super) const TICK: Duration = Duration::from_millis(1);

/// Compiles and runs policies. Cheap to clone; clones share one wasmtime
/// engine and one ticker thread.
#[derive(Clone)]
pub struct Engine {
    pub(super) shared: Arc<Shared>,
    pub(super) cache: Option<super::cache::Cache>,
}

pub(super) struct Shared {
    pub wasmtime: wasmtime::Engine,
    /// Empty: a policy imports nothing. Kept so instantiation goes through
    /// the usual `InstancePre` path.
    pub linker: Linker<StoreState>,
    pub limits: Limits,
    pub compilations: super::cache::Counts,
}

impl Engine {
    pub fn new(limits: Limits) -> Result<Engine, Error> {
        let wasmtime = wasmtime::Engine::new(&config()).map_err(|e| Error::Setup(format!("{e:#}")))?;
        start_ticker(&wasmtime).map_err(|e| Error::Setup(format!("epoch ticker thread: {e}")))?;
        let linker = Linker::new(&wasmtime);
        Ok(Engine {
            shared: Arc::new(Shared {
                wasmtime,
                linker,
                limits,
                compilations: Default::default(),
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

/// Bump the epoch every tick while the engine lives; the thread exits once
/// the last clone of the engine (and every policy compiled by it) is gone.
fn start_ticker(engine: &wasmtime::Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("drydock-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })?;
    Ok(())
}
