//! The gate's observer: metrics for every decision, the shadow candidate's queue,
//! and the decision log's.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use drydock_engine::{Decision, Fault, Policy, Published, RequestView, Slots};
use drydock_gate::Observer;
use drydock_gate::metrics::Metrics;

use super::shadow::{ShadowBoard, ShadowJob};

/// The gate's [`Observer`]: counts each decision, and queues it for the shadow
/// candidate when one is set. Never blocks: a full queue skips the request.
pub struct Recorder {
    pub(super) metrics: Arc<Metrics>,
    pub(super) slots: Arc<Slots>,
    pub(super) board: Arc<ShadowBoard>,
    pub(super) tx: SyncSender<ShadowJob>,
    /// The decision log, when kept.
    pub(super) log: Option<Arc<crate::decisions::DecisionLog>>,
    /// Who signed the versions at hand, for the log's records.
    pub(super) signed: Arc<crate::decisions::Signed>,
}

impl Observer for Recorder {
    fn decided(
        &self,
        policy: &Arc<Policy>,
        desc: &RequestView<'_>,
        published: &Arc<Published>,
        decision: &Decision,
        took: Option<Duration>,
    ) {
        self.metrics.decided(policy, decision, took);
        let Some(candidate) = self.slots.shadow() else { return };
        // Bounded in entries (the channel) and in bytes (the board): a full queue
        // skips the request, and nothing on this path waits.
        let size = ShadowJob::size_of(desc, decision);
        let queued = self.board.reserve(size) && {
            let job = ShadowJob {
                candidate,
                active: policy.clone(),
                desc: desc.to_descriptor(),
                published: published.clone(),
                decision: decision.clone(),
                at: SystemTime::now(),
                size,
                log: self.log.clone(),
                signed: self.signed.clone(),
            };
            match self.tx.try_send(job) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.board.release(size);
                    false
                }
            }
        };
        if !queued {
            self.metrics.shadow_skipped();
            if let Some(session) = self.board.current.load().as_ref() {
                session.skipped.fetch_add(1, Relaxed);
            }
        }
    }

    fn faulted(&self, policy: &Policy, fault: &Fault) {
        self.metrics.faulted(policy, fault);
    }

    fn floor(&self, _desc: &RequestView<'_>) {
        self.metrics.floor();
    }

    fn answered(&self, answer: &drydock_gate::Answered<'_>) -> Option<http::HeaderValue> {
        self.log.as_ref()?.offer(answer, &self.signed)
    }
}

