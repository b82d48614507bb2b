//! The decision log: what the gate answered, kept in the database beside the state
//! (so several hosts share one log), bounded, and never on a request's way.
//!
//! Every refusal, fail-mode verdict and admin-floor pass is kept, and a sample of
//! allows (`serve --decision-log-sample`). The gate's observer hands each verdict to
//! [`DecisionLog::offer`], which only queues it (a bounded queue; full, the record is
//! counted and dropped); one thread writes what is queued in batches and prunes
//! the table to its bounds (`--decision-log-max-rows`, `--decision-log-max-age`).
//! Whatever is not kept is counted by reason (`drydock_decisions_not_kept_total`).
//!
//! `record` is one decision; `replay` asks a kept decision again of another version.

pub mod record;
pub mod replay;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use drydock_engine::{Decision, Fault, Policy, Published, RequestDescriptor, RequestView};
use drydock_gate::{Answered, Origin};
use http::HeaderValue;
use sha2::{Digest, Sha256};

pub use record::{Answer, DecidingPolicy, DecisionInput, DecisionOrigin, DecisionRecord, RequestInput, Served, Signed, Verdict};

use crate::store::Store;
use crate::timestamp;

/// Records waiting to be written, at most; past this a record is counted and dropped.
const QUEUE: usize = 4096;
/// Records written in one batch, at most.
const BATCH: usize = 256;
/// How long a record may wait for its batch.
const FLUSH: Duration = Duration::from_millis(200);
/// How often the table is pruned to its bounds.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// A record's input larger than this (a huge path or attributes) is not kept.
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Which allows are kept (refusals, faults and floor passes always are).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    Off,
    All,
    /// This share of allows, 0 < share < 1 (every n-th, deterministically).
    Share(f64),
}

impl Sample {
    /// `off`, `all`, `N%` or a fraction (`0.01`).
    pub fn parse(s: &str) -> Result<Sample, String> {
        let share = match s.trim() {
            "off" | "0" | "0%" => return Ok(Sample::Off),
            "all" | "100%" | "1" => return Ok(Sample::All),
            p if p.ends_with('%') => p[..p.len() - 1].trim().parse::<f64>().map(|v| v / 100.0),
            f => f.parse::<f64>(),
        }
        .map_err(|_| format!("`{s}` is not a share of allows: use off, all, a percentage (1%) or a fraction (0.01)"))?;
        match share {
            s if s <= 0.0 => Ok(Sample::Off),
            s if s >= 1.0 => Ok(Sample::All),
            s if s.is_finite() => Ok(Sample::Share(s)),
            _ => Err(format!("`{s}` is not a share of allows")),
        }
    }

    /// Keep the `n`-th allow (counting from 0)?
    fn keeps(self, n: u64) -> bool {
        match self {
            Sample::Off => false,
            Sample::All => true,
            // Every 1/share-th: n·share crosses an integer.
            Sample::Share(s) => ((n + 1) as f64 * s).floor() > (n as f64 * s).floor(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub sample: Sample,
    /// Replace user names with a digest (records can still be grouped by user).
    pub mask_users: bool,
    pub max_rows: u64,
    pub max_age: Duration,
    /// This host's name in each record.
    pub host: String,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions { sample: Sample::Share(0.01), mask_users: false, max_rows: 1_000_000, max_age: Duration::from_secs(7 * 86_400), host: String::new() }
    }
}

/// Why a record was not kept (each counted in `/metrics`).
#[derive(Debug, Default)]
pub struct NotKept {
    pub sampled_out: AtomicU64,
    pub queue_full: AtomicU64,
    pub too_big: AtomicU64,
    pub write_failed: AtomicU64,
    /// Kept once, removed later by the bounds.
    pub pruned: AtomicU64,
}

/// A shadow candidate's disagreement, as [`DecisionLog::offer_shadow`] keeps it.
pub struct ShadowDisagreement<'a> {
    pub candidate: &'a Policy,
    pub active: &'a Policy,
    pub desc: &'a RequestDescriptor,
    pub published: &'a Published,
    /// What the active version answered.
    pub served: &'a Decision,
    pub candidate_answer: &'a Result<Decision, Fault>,
    pub at: std::time::SystemTime,
    pub signed: &'a Signed,
}

pub struct DecisionLog {
    options: LogOptions,
    tx: SyncSender<DecisionRecord>,
    allows: AtomicU64,
    serial: AtomicU64,
    /// Unique per process, so ids from several hosts never collide.
    prefix: String,
    pub kept: AtomicU64,
    pub not_kept: NotKept,
}

impl DecisionLog {
    /// Start the log and its writer thread.
    pub fn start(store: Arc<dyn Store>, options: LogOptions) -> anyhow::Result<Arc<DecisionLog>> {
        let (tx, rx) = sync_channel(QUEUE);
        let prefix = format!("{:08x}", rand::random::<u32>());
        let log = Arc::new(DecisionLog {
            options,
            tx,
            allows: AtomicU64::new(0),
            serial: AtomicU64::new(0),
            prefix,
            kept: AtomicU64::new(0),
            not_kept: NotKept::default(),
        });
        let writer = log.clone();
        std::thread::Builder::new().name("drydock-decisions".into()).spawn(move || writer.write(store, rx))?;
        Ok(log)
    }

    /// Queue the record of one verdict, if it is one to keep; its id.
    pub fn offer(&self, a: &Answered<'_>, signed: &Signed) -> Option<HeaderValue> {
        let allowed = matches!(a.verdict, Decision::Allow);
        let always = !allowed || matches!(a.origin, None | Some(Origin::FailMode));
        if !always && !self.options.sample.keeps(self.allows.fetch_add(1, Relaxed)) {
            self.not_kept.sampled_out.fetch_add(1, Relaxed);
            return None;
        }
        let id = self.next_id();
        self.queue(self.record(&id, a, signed))
    }

    fn record(&self, id: &str, a: &Answered<'_>, signed: &Signed) -> DecisionRecord {
        let answer = Answer::of(a.verdict);
        let snap = &a.published.snapshot;
        let (origin, took) = match a.origin {
            None => (DecisionOrigin::Floor, None),
            Some(Origin::Policy(took)) => (DecisionOrigin::Policy, Some(took.as_micros() as u64)),
            Some(Origin::Memo) => (DecisionOrigin::Memo, None),
            Some(Origin::FailMode) => (DecisionOrigin::FailMode, None),
        };
        DecisionRecord {
            id: id.to_string(),
            at: timestamp::now(),
            host: self.options.host.clone(),
            verdict: answer.verdict(),
            origin,
            policy: a.policy.map(|p| DecidingPolicy::of(p, signed)),
            took_micros: took,
            input: self.input(snap, a.desc),
            answer,
            traceparent: a.traceparent.map(str::to_owned),
            served: None,
        }
    }

    /// Queue the record of a shadow candidate's disagreement: the candidate's answer
    /// (or fault), beside what the active version served. Always kept (bounds and
    /// queue permitting), like a refusal.
    pub fn offer_shadow(&self, s: ShadowDisagreement<'_>) {
        let answer = Answer::of_result(s.candidate_answer);
        let record = DecisionRecord {
            id: self.next_id(),
            at: timestamp::format(s.at),
            host: self.options.host.clone(),
            verdict: answer.verdict(),
            origin: DecisionOrigin::Shadow,
            policy: Some(DecidingPolicy::of(s.candidate, s.signed)),
            took_micros: None,
            input: self.input(&s.published.snapshot, &s.desc.view()),
            answer,
            traceparent: None,
            served: Some(Served { policy: DecidingPolicy::of(s.active, s.signed), answer: Answer::of(s.served) }),
        };
        self.queue(record);
    }

    /// Queue a record unless it is too big or the queue is full (each counted).
    fn queue(&self, record: DecisionRecord) -> Option<HeaderValue> {
        let size: usize = record.input.request.path.len()
            + record.input.request.attributes.iter().chain(&record.input.facts).map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + record.answer.message.as_ref().map_or(0, String::len);
        if size > MAX_RECORD_BYTES {
            self.not_kept.too_big.fetch_add(1, Relaxed);
            return None;
        }
        let id = HeaderValue::from_str(&record.id).ok();
        match self.tx.try_send(record) {
            Ok(()) => id,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.not_kept.queue_full.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// A new record's id: unique per process, and across hosts by the prefix.
    fn next_id(&self) -> String {
        format!("{}-{:x}", self.prefix, self.serial.fetch_add(1, Relaxed))
    }

    /// What the policy saw: the state and the request.
    fn input(&self, snap: &drydock_engine::Snapshot, d: &RequestView<'_>) -> DecisionInput {
        DecisionInput {
            state: snap.state,
            executions: snap.executions.by_status.iter().copied().collect(),
            facts: snap.facts.clone(),
            request: self.request(d),
        }
    }

    fn request(&self, d: &RequestView<'_>) -> RequestInput {
        let user = match self.options.mask_users && !d.caller.username.is_empty() {
            true => format!("user-{}", &hex::encode(Sha256::digest(d.caller.username.as_bytes()))[..12]),
            false => d.caller.username.to_string(),
        };
        RequestInput {
            method: d.method.to_string(),
            path: d.path.to_string(),
            route: d.route.to_string(),
            first_segment: d.first_segment.to_string(),
            user,
            role: d.caller.role.as_str().to_string(),
            bypass: d.caller.bypass,
            attributes: d.attributes.to_vec(),
        }
    }

    /// The writer thread: batches to the store, and the bounds kept.
    fn write(&self, store: Arc<dyn Store>, rx: Receiver<DecisionRecord>) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut pruned_at = Instant::now();
        loop {
            let first = match rx.recv_timeout(PRUNE_EVERY) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            batch.extend(first);
            let deadline = Instant::now() + FLUSH;
            while batch.len() < BATCH && !batch.is_empty() {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                match store.insert_decisions(&batch) {
                    Ok(()) => self.kept.fetch_add(batch.len() as u64, Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), records = batch.len(), "cannot write decisions to the log");
                        self.not_kept.write_failed.fetch_add(batch.len() as u64, Relaxed)
                    }
                };
                batch.clear();
            }
            if pruned_at.elapsed() >= PRUNE_EVERY {
                pruned_at = Instant::now();
                let oldest = chrono::Utc::now() - chrono::Duration::from_std(self.options.max_age).unwrap_or(chrono::Duration::days(7));
                let cutoff = oldest.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                match store.prune_decisions(self.options.max_rows, &cutoff) {
                    Ok(n) => self.not_kept.pruned.fetch_add(n, Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "cannot prune the decision log");
                        0
                    }
                };
            }
        }
    }

    /// The log's counters, in Prometheus' text format.
    pub fn metrics(&self) -> String {
        let n = &self.not_kept;
        let mut out = String::new();
        out.push_str("# HELP drydock_decisions_kept_total Decisions written to the decision log.\n");
        out.push_str("# TYPE drydock_decisions_kept_total counter\n");
        out.push_str(&format!("drydock_decisions_kept_total {}\n", self.kept.load(Relaxed)));
        out.push_str("# HELP drydock_decisions_not_kept_total Decisions not in the log, by reason (pruned: kept, then removed by the bounds).\n");
        out.push_str("# TYPE drydock_decisions_not_kept_total counter\n");
        for (reason, v) in [
            ("sampled_out", &n.sampled_out),
            ("queue_full", &n.queue_full),
            ("too_big", &n.too_big),
            ("write_failed", &n.write_failed),
            ("pruned", &n.pruned),
        ] {
            out.push_str(&format!("drydock_decisions_not_kept_total{{reason=\"{reason}\"}} {}\n", v.load(Relaxed)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Sample;

    #[test]
    fn a_share_keeps_that_share_of_allows_evenly() {
        let kept = |s: Sample| (0..1000).filter(|n| s.keeps(*n)).count();
        assert_eq!(kept(Sample::parse("1%").unwrap()), 10);
        assert_eq!(kept(Sample::parse("0.25").unwrap()), 250);
        assert_eq!(kept(Sample::parse("all").unwrap()), 1000);
        assert_eq!(kept(Sample::parse("off").unwrap()), 0);
        assert!(Sample::parse("lots").is_err());
    }
}
