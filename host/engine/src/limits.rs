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
    /// Epoch ticks in one half of the deadline (at least one).
    pub(super) fn window_ticks(&self) -> u64 {
        let half = self.deadline.as_nanos().div_ceil(2);
        u64::try_from(half.div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX / 2).max(1)
    }
}

/// Core instances, linear memories and tables one policy instance may have.
/// (A Python component, componentize-py's, links its interpreter, libc and
/// stubs as some 40 core instances; the memory cap holds for them all together.)
pub const MAX_INSTANCES: usize = 128;
pub const MAX_MEMORIES: usize = 8;
pub const MAX_TABLES: usize = 64;

/// Windows after which a decision is stopped whatever its CPU use: a bound on
/// wall time (about ten deadlines) for a guest that keeps being preempted.
const MAX_WINDOWS: u32 = 20;

/// The deadline, measured in the guest's own CPU time rather than wall time, so a
/// decision that was merely preempted on a busy host is not mistaken for a loop.
///
/// Nothing is measured on the hot path: the epoch ticker interrupts the guest
/// after half the deadline (wall time); from then on each further half-deadline
/// window checks the thread's CPU clock, and a guest that kept running for at
/// least half of a window is stopped. A loop is thus cut after about one
/// deadline; a preempted decision gets to finish.
pub(super) struct DeadlineWatch {
    window_ticks: u64,
    /// Half a window, in CPU time: burning more than this means "still running".
    busy: Duration,
    windows: u32,
    cpu_mark: Option<Duration>,
}

impl DeadlineWatch {
    fn on_expiry(&mut self) -> wasmtime::UpdateDeadline {
        use wasmtime::UpdateDeadline::{Continue, Interrupt};
        self.windows += 1;
        if self.windows >= MAX_WINDOWS {
            return Interrupt;
        }
        let now = thread_cpu_time();
        match self.cpu_mark.replace(now) {
            Some(mark) if now.saturating_sub(mark) >= self.busy => Interrupt,
            _ => Continue(self.window_ticks),
        }
    }
}

/// CPU time consumed by the calling thread.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        // No CPU clock: treat every window as busy (plain wall-time deadline).
        return Duration::MAX;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    Duration::MAX
}

/// Per-store data: the memory cap, whether it was hit during the current call
/// (so an abort after a refused `memory.grow` reads as `Fault::Memory`), and the
/// deadline's bookkeeping.
pub(super) struct StoreState {
    /// The cap on all of the instance's linear memories together.
    memory_cap: usize,
    /// Their sizes added up, as the limiter has allowed them.
    memory_total: usize,
    pub memory_refused: bool,
    watch: DeadlineWatch,
}

impl StoreState {
    /// The instance's linear memories together, as the limiter allowed them.
    pub fn memory_total(&self) -> usize {
        self.memory_total
    }

    pub fn new(limits: &Limits) -> Self {
        let window_ticks = limits.window_ticks();
        StoreState {
            memory_cap: limits.memory_bytes,
            memory_total: 0,
            memory_refused: false,
            watch: DeadlineWatch {
                window_ticks,
                busy: (TICK * window_ticks as u32) / 2,
                windows: 0,
                cpu_mark: None,
            },
        }
    }
}

/// Make a new store enforce the deadline (once per store).
pub(super) fn install_deadline(store: &mut wasmtime::Store<StoreState>) {
    store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().watch.on_expiry()));
}

/// Reset the per-call state before each call into the guest.
pub(super) fn arm(store: &mut wasmtime::Store<StoreState>) {
    let state = store.data_mut();
    state.memory_refused = false;
    state.watch.windows = 0;
    state.watch.cpu_mark = None;
    let ticks = state.watch.window_ticks;
    store.set_epoch_deadline(ticks);
}

impl wasmtime::ResourceLimiter for StoreState {
    /// Called for every memory the instance creates (from 0) and every growth: the
    /// cap holds for all of them together, however many a component declares.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.memory_total - current.min(self.memory_total)).saturating_add(desired);
        let ok = total <= self.memory_cap;
        if ok {
            self.memory_total = total;
        }
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

    // Small counts per store (wasmtime's defaults are 10,000 each): a policy is a
    // few core instances (the component's own and its adapters), one memory.
    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}
