//! Shadow evaluation: a candidate decides what the active policy decided, off the
//! response path, and the session counts where they differ.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use drydock_engine::{Decision, Fault, Policy, Published, RequestDescriptor, RequestView};
use drydock_gate::metrics::Metrics;

use super::{RECENT_DISAGREEMENTS, Version};
use crate::timestamp;

/// One request the candidate should see.
pub(super) struct ShadowJob {
    pub(super) candidate: Arc<Policy>,
    pub(super) active: Arc<Policy>,
    pub(super) desc: RequestDescriptor,
    pub(super) published: Arc<Published>,
    pub(super) decision: Decision,
    pub(super) at: SystemTime,
    /// What the job holds, about, in bytes: the queue is bounded by this too.
    pub(super) size: usize,
    /// Where a disagreement is kept, when the decision log is.
    pub(super) log: Option<Arc<crate::decisions::DecisionLog>>,
    pub(super) signed: Arc<crate::decisions::Signed>,
}

impl ShadowJob {
    /// About what a job holds: its strings and a fixed part.
    pub(super) fn size_of(desc: &RequestView<'_>, decision: &Decision) -> usize {
        let strings = desc.method.len()
            + desc.path.len()
            + desc.route.len()
            + desc.first_segment.len()
            + desc.caller.username.len()
            + desc.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let denial = match decision {
            Decision::Deny(d) => d.error_code.len() + d.message.len(),
            Decision::Allow => 0,
        };
        256 + strings + denial
    }
}

/// One request on which the candidate decided otherwise than the active policy.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub at: String,
    pub request: RequestDescriptor,
    pub published: Arc<Published>,
    pub active_label: String,
    pub active: Decision,
    pub candidate: std::result::Result<Decision, Fault>,
    /// Which parts differ: `verdict`, `status`, `error_code`, `message`, `retry_after`, or `fault`.
    pub differs_in: Vec<&'static str>,
}

/// A shadow candidate and what it has shown so far.
pub struct ShadowSession {
    pub candidate: Version,
    pub(super) policy: Arc<Policy>,
    started_at: String,
    started_by: String,
    stopped: Mutex<Option<(String, String)>>,
    agreements: AtomicU64,
    disagreements: AtomicU64,
    faults: AtomicU64,
    pub(super) skipped: AtomicU64,
    recent: Mutex<VecDeque<Disagreement>>,
}

/// A shadow session's figures at one moment.
#[derive(Debug, Clone)]
pub struct ShadowReport {
    pub candidate: Version,
    pub running: bool,
    pub started_at: String,
    pub started_by: String,
    pub stopped: Option<(String, String)>,
    pub agreements: u64,
    /// Including the candidate's faults.
    pub disagreements: u64,
    pub candidate_faults: u64,
    /// Requests the candidate did not see because its queue was full.
    pub skipped: u64,
    /// Newest first.
    pub recent: Vec<Disagreement>,
}

impl ShadowSession {
    pub(super) fn new(candidate: Version, policy: Arc<Policy>, started_at: String, started_by: String) -> ShadowSession {
        ShadowSession {
            candidate,
            policy,
            started_at,
            started_by,
            stopped: Mutex::new(None),
            agreements: AtomicU64::new(0),
            disagreements: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_DISAGREEMENTS)),
        }
    }

    pub fn report(&self, recent: usize) -> ShadowReport {
        let stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let list = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        ShadowReport {
            candidate: self.candidate.clone(),
            running: stopped.is_none(),
            started_at: self.started_at.clone(),
            started_by: self.started_by.clone(),
            stopped,
            agreements: self.agreements.load(Relaxed),
            disagreements: self.disagreements.load(Relaxed),
            candidate_faults: self.faults.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            recent: list.iter().rev().take(recent).cloned().collect(),
        }
    }

    fn record(&self, job: ShadowJob, candidate: std::result::Result<Decision, Fault>) -> bool {
        let differs_in = differences(&job.decision, &candidate);
        if differs_in.is_empty() {
            self.agreements.fetch_add(1, Relaxed);
            return true;
        }
        if candidate.is_err() {
            self.faults.fetch_add(1, Relaxed);
        }
        self.disagreements.fetch_add(1, Relaxed);
        if let Some(log) = &job.log {
            log.offer_shadow(crate::decisions::ShadowDisagreement {
                candidate: &job.candidate,
                active: &job.active,
                desc: &job.desc,
                published: &job.published,
                served: &job.decision,
                candidate_answer: &candidate,
                at: job.at,
                signed: &job.signed,
            });
        }
        let entry = Disagreement {
            at: crate::timestamp::format(job.at),
            request: job.desc,
            published: job.published,
            active_label: job.active.label().to_string(),
            active: job.decision,
            candidate,
            differs_in,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT_DISAGREEMENTS {
            recent.pop_front();
        }
        recent.push_back(entry);
        false
    }
}

#[cfg(test)]
impl ShadowSession {
    /// Hold the list of recent disagreements: the shadow worker, recording its next
    /// disagreement into this session, waits until the guard is dropped (a stall the
    /// tests control, instead of a slow candidate and a clock).
    pub(super) fn hold_recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Disagreement>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the candidate decided differently; empty when it agreed.
pub(super) fn differences(active: &Decision, candidate: &std::result::Result<Decision, Fault>) -> Vec<&'static str> {
    match (active, candidate) {
        (_, Err(_)) => vec!["fault"],
        (Decision::Allow, Ok(Decision::Allow)) => vec![],
        (Decision::Deny(a), Ok(Decision::Deny(c))) => {
            let mut out = Vec::new();
            if a.status != c.status {
                out.push("status");
            }
            if a.error_code != c.error_code {
                out.push("error_code");
            }
            if a.message != c.message {
                out.push("message");
            }
            if a.retry_after != c.retry_after {
                out.push("retry_after");
            }
            out
        }
        _ => vec!["verdict"],
    }
}

#[derive(Default)]
pub(super) struct ShadowBoard {
    pub(super) current: ArcSwapOption<ShadowSession>,
    last: Mutex<Option<Arc<ShadowSession>>>,
    /// Bytes held by queued jobs (see [`SHADOW_QUEUE_BYTES`]).
    pub(super) queued_bytes: AtomicUsize,
}

/// Bytes the shadow queue may hold: requests past this are skipped, like those past
/// its length, so large requests cannot make it hold more than this.
pub(super) const SHADOW_QUEUE_BYTES: usize = 16 * 1024 * 1024;

impl ShadowBoard {
    /// Reserve room for a job of `size` bytes; false when the queue is full.
    pub(super) fn reserve(&self, size: usize) -> bool {
        let before = self.queued_bytes.fetch_add(size, Relaxed);
        if before + size > SHADOW_QUEUE_BYTES {
            self.queued_bytes.fetch_sub(size, Relaxed);
            return false;
        }
        true
    }

    pub(super) fn release(&self, size: usize) {
        self.queued_bytes.fetch_sub(size, Relaxed);
    }
}

impl ShadowBoard {
    pub(super) fn start(&self, session: Arc<ShadowSession>) {
        let now = timestamp::now();
        if let Some(old) = self.current.swap(Some(session.clone())) {
            *old.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, session.started_by.clone()));
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
    }

    pub(super) fn stop(&self, at: &str, by: &str) -> Option<Arc<ShadowSession>> {
        let session = self.current.swap(None)?;
        *session.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some((at.to_string(), by.to_string()));
        Some(session)
    }

    pub(super) fn latest(&self) -> Option<Arc<ShadowSession>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Drain the queue: the candidate decides each request, off the response path.
pub(super) fn shadow_worker(rx: Receiver<ShadowJob>, board: Arc<ShadowBoard>, metrics: Arc<Metrics>) {
    while let Ok(job) = rx.recv() {
        board.release(job.size);
        let Some(session) = board.current.load_full() else { continue };
        // Queued for a candidate that has been replaced or stopped since.
        if !Arc::ptr_eq(&session.policy, &job.candidate) {
            continue;
        }
        let candidate = job.candidate.decide(&job.desc, &job.published.snapshot);
        if candidate.is_err() {
            metrics.shadow_faulted();
        }
        let agreed = session.record(job, candidate);
        metrics.shadow_compared(agreed);
    }
}

