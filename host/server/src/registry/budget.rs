//! Each version's own budget: the memory and deadline its decisions run under,
//! chosen at upload within the server's maxima and recorded with it. A Rust policy
//! starts at about 1 MiB and keeps the server's lean default; a Python or
//! JavaScript one starts at 9–13 MiB and gets what it needs, measured, without a
//! server flag changed.

use std::time::Duration;

use drydock_engine::{Engine, Limits, LoadError, Policy};

use crate::error::{Error, Result};
use crate::store::Budget;

const MIB: usize = 1 << 20;

/// The server's maxima for any version's budget (`serve --policy-memory-max-mib`,
/// `--policy-deadline-max-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceiling {
    pub memory_bytes: usize,
    pub deadline: Duration,
}

impl Default for Ceiling {
    fn default() -> Ceiling {
        Ceiling { memory_bytes: 32 * MIB, deadline: Duration::from_millis(50) }
    }
}

/// The limits a version runs under: the engine's defaults, with its budget.
pub fn limits_of(engine: &Engine, budget: &Budget) -> Limits {
    let mut limits = *engine.limits();
    if let Some(m) = budget.memory_mib {
        limits.memory_bytes = m as usize * MIB;
    }
    if let Some(d) = budget.deadline_ms {
        limits.deadline = Duration::from_millis(u64::from(d));
    }
    limits
}

/// Load `bytes` under the budget asked for (or, for what is not asked, the one it
/// needs: the server's default when it fits with room to spare, else what it
/// holds at start and a quarter more), within `ceiling`. Returns the policy,
/// loaded under that budget, and the budget to record.
pub fn load_budgeted(engine: &Engine, bytes: &[u8], asked: Budget, ceiling: &Ceiling) -> Result<(Policy, Budget)> {
    let max_mib = (ceiling.memory_bytes / MIB) as u32;
    let max_ms = ceiling.deadline.as_millis() as u32;
    if let Some(m) = asked.memory_mib.filter(|m| *m == 0 || *m > max_mib) {
        return Err(Error::BadRequest(format!("A memory budget of {m} MiB is outside 1..={max_mib} MiB (the server's --policy-memory-max-mib)")));
    }
    if let Some(d) = asked.deadline_ms.filter(|d| *d == 0 || *d > max_ms) {
        return Err(Error::BadRequest(format!("A deadline of {d} ms is outside 1..={max_ms} ms (the server's --policy-deadline-max-ms)")));
    }
    // Measure at the ceiling: what it holds once instantiated.
    let widest = Limits { memory_bytes: ceiling.memory_bytes, deadline: ceiling.deadline, ..*engine.limits() };
    let probe = engine.load_within(bytes, &widest).map_err(|e| refused(e, max_mib))?;
    let need = probe.memory_at_start();
    let default = engine.limits().memory_bytes;
    let memory_mib = match asked.memory_mib {
        Some(m) if (m as usize) * MIB < need => {
            return Err(Error::BadRequest(format!(
                "The component holds {} at start, more than the {m} MiB budget asked for",
                mib_text(need)
            )));
        }
        Some(m) => m,
        None if need + MIB <= default => (default / MIB) as u32,
        None => ((need + need / 4 + MIB).div_ceil(MIB) as u32).min(max_mib),
    };
    // A decision may land on a fresh instance (the pool is empty at first, and an
    // instance is retired as it grows): the deadline covers starting one, thrice
    // over, when that is more than the server's default.
    let default_ms = engine.limits().deadline.as_millis() as u32;
    let start_ms = (probe.start_time().as_micros() * 3).div_ceil(1000) as u32;
    let budget = Budget {
        memory_mib: Some(memory_mib),
        deadline_ms: Some(asked.deadline_ms.unwrap_or(default_ms.max(start_ms).min(max_ms))),
    };
    let limits = limits_of(engine, &budget);
    let policy = if limits == widest { probe } else { probe.with_limits(&limits).map_err(|e| refused(e, max_mib))? };
    Ok((policy, budget))
}

/// `12.3 MiB`.
pub fn mib_text(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

fn refused(e: LoadError, max_mib: u32) -> Error {
    let hint = match &e {
        LoadError::Metadata(m) | LoadError::SmokeFailed { reason: m, .. } if m.contains("memory") => {
            format!(" (even at the server's maximum of {max_mib} MiB: raise --policy-memory-max-mib)")
        }
        _ => String::new(),
    };
    Error::BadRequest(format!("The policy component was refused: {e}{hint}"))
}
