//! What one decision may cost, and the per-store enforcement of memory.

use std::time::Duration;

use super::runtime::TICK;

/// Bounds on a policy's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time for one decision; enforced to within one epoch tick (1 ms).
    pub deadline: Duration,
    /// Linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Idle instances kept warm per policy. 0: a fresh instance per decision.
    pub pool_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(5),
            memory_bytes: 4 << 20,
            // Decisions run on the server's worker threads, one per core: more
            // idle instances than that would never be used at once.
            pool_size: std::thread::available_parallelism().map_or(8, |n| n.get()),
        }
    }
}

impl Limits {
    /// Epoch ticks to allow: the deadline rounded up, plus one because the
    /// current tick may be about to end.
    pub(super) fn deadline_ticks(&self) -> u64 {
        let ticks = self.deadline.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX - 1) + 1
    }
}

/// Per-store data: the memory cap, and whether it was hit during the current
/// call (so an abort after a refused `memory.grow` reads as `Fault::Memory`).
pub(super) struct StoreState {
    memory_cap: usize,
    pub memory_refused: bool,
}

impl StoreState {
    pub fn new(memory_cap: usize) -> Self {
        StoreState {
            memory_cap,
            memory_refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.memory_cap;
        self.memory_refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000)
    }
}
