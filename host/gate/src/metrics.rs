//! Counters for `GET /metrics`, in the Prometheus text format.
//!
//! The hot path (one call per decision) touches only atomics and one lock-free
//! map load: per-policy counters are found by the policy's sha256 in an
//! `ArcSwap`ped map that changes only when a policy decides for the first time.
//! Everything else (labels, the maintenance state, formatting) happens at scrape
//! time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use arc_swap::ArcSwap;

use drydock_engine::{Decision, ExecutionStatus, Fault, MaintenanceState, Policy, Snapshot};

/// Upper bounds of the decision latency buckets, in microseconds. A warm
/// decision takes a few µs; the default deadline is 5 ms.
pub const LATENCY_BUCKETS_US: [u64; 14] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000];

/// Counters of one policy version (keyed by its sha256).
pub struct PolicyStats {
    label: String,
    allow: AtomicU64,
    deny: AtomicU64,
    /// Decisions answered from the gate's memo, without a policy call (also in
    /// `allow`/`deny`, never in the latency histogram).
    remembered: AtomicU64,
    /// By kind, indexed as [`Fault::KINDS`].
    faults: [AtomicU64; Fault::KINDS.len()],
    /// Cumulative at render time; here one counter per bucket plus +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
}

impl PolicyStats {
    fn new(label: String) -> PolicyStats {
        PolicyStats {
            label,
            allow: AtomicU64::new(0),
            deny: AtomicU64::new(0),
            remembered: AtomicU64::new(0),
            faults: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }

    fn observe(&self, decision: &Decision, took: Option<Duration>) {
        match decision {
            Decision::Allow => &self.allow,
            Decision::Deny(_) => &self.deny,
        }
        .fetch_add(1, Relaxed);
        let Some(elapsed) = took else {
            self.remembered.fetch_add(1, Relaxed);
            return;
        };
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_US.iter().position(|&le| us <= le).unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    pub fn decisions(&self) -> (u64, u64) {
        (self.allow.load(Relaxed), self.deny.load(Relaxed))
    }
}

/// Every counter drydock exports. One per server, shared as `Arc<Metrics>`.
#[derive(Default)]
pub struct Metrics {
    policies: ArcSwap<HashMap<String, Arc<PolicyStats>>>,
    floor: AtomicU64,
    swaps: AtomicU64,
    shadow_agreements: AtomicU64,
    shadow_disagreements: AtomicU64,
    shadow_faults: AtomicU64,
    shadow_skipped: AtomicU64,
}

/// What only the caller knows at scrape time.
pub struct Scrape<'a> {
    pub snapshot: &'a Snapshot,
    pub active: &'a Policy,
    pub shadow: Option<&'a Policy>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Every version's label with its decisions and faults so far (for a chart).
    pub fn totals(&self) -> Vec<(String, u64, u64)> {
        let mut out: Vec<(String, u64, u64)> = self
            .policies
            .load()
            .values()
            .map(|s| {
                let (allow, deny) = s.decisions();
                (s.label.clone(), allow + deny, s.faults.iter().map(|f| f.load(Relaxed)).sum())
            })
            .collect();
        out.sort();
        out
    }

    /// The counters of `policy`, created on first use.
    pub fn policy(&self, policy: &Policy) -> Arc<PolicyStats> {
        if let Some(stats) = self.policies.load().get(policy.sha256()) {
            return stats.clone();
        }
        let fresh = Arc::new(PolicyStats::new(policy.label().to_string()));
        let mut out = fresh.clone();
        self.policies.rcu(|map| {
            let mut map = HashMap::clone(map);
            out = map.entry(policy.sha256().to_string()).or_insert_with(|| fresh.clone()).clone();
            map
        });
        out
    }

    /// One decision by the active policy: `took` is how long the policy took, `None`
    /// when the gate answered from its memo.
    pub fn decided(&self, policy: &Policy, decision: &Decision, took: Option<Duration>) {
        match self.policies.load().get(policy.sha256()) {
            Some(stats) => stats.observe(decision, took),
            None => self.policy(policy).observe(decision, took),
        }
    }

    /// The policy could not decide (trap, deadline, memory, garbage).
    pub fn faulted(&self, policy: &Policy, fault: &Fault) {
        self.policy(policy).faults[fault.kind_index()].fetch_add(1, Relaxed);
    }

    /// A sys_admin request admitted by the host's floor, without asking the policy.
    pub fn floor(&self) {
        self.floor.fetch_add(1, Relaxed);
    }

    /// The active policy was replaced (activate or rollback).
    pub fn swapped(&self) {
        self.swaps.fetch_add(1, Relaxed);
    }

    pub fn swaps(&self) -> u64 {
        self.swaps.load(Relaxed)
    }

    pub fn shadow_compared(&self, agreed: bool) {
        if agreed { &self.shadow_agreements } else { &self.shadow_disagreements }.fetch_add(1, Relaxed);
    }

    pub fn shadow_faulted(&self) {
        self.shadow_faults.fetch_add(1, Relaxed);
    }

    /// A request the shadow candidate did not see (its queue was full).
    pub fn shadow_skipped(&self) {
        self.shadow_skipped.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, scrape: &Scrape<'_>) -> String {
        let mut out = String::with_capacity(4096);
        let mut stats: Vec<Arc<PolicyStats>> = self.policies.load().values().cloned().collect();
        stats.sort_by(|a, b| a.label.cmp(&b.label));

        header(&mut out, "drydock_decisions_total", "counter", "Admission decisions by the active policy, by policy version and verdict.");
        for s in &stats {
            let p = escape(&s.label);
            let _ = writeln!(out, "drydock_decisions_total{{policy=\"{p}\",verdict=\"allow\"}} {}", s.allow.load(Relaxed));
            let _ = writeln!(out, "drydock_decisions_total{{policy=\"{p}\",verdict=\"deny\"}} {}", s.deny.load(Relaxed));
        }

        header(
            &mut out,
            "drydock_decisions_remembered_total",
            "counter",
            "Of drydock_decisions_total, those the gate answered from its memo of the same request under the same state and policy (no policy call, not in the latency histogram).",
        );
        for s in &stats {
            let p = escape(&s.label);
            let _ = writeln!(out, "drydock_decisions_remembered_total{{policy=\"{p}\"}} {}", s.remembered.load(Relaxed));
        }

        header(&mut out, "drydock_decision_duration_seconds", "histogram", "Time the active policy took to decide (buckets from 1 µs to 50 ms).");
        for s in &stats {
            let p = escape(&s.label);
            let mut cumulative = 0;
            for (i, le) in LATENCY_BUCKETS_US.iter().enumerate() {
                cumulative += s.buckets[i].load(Relaxed);
                let le = *le as f64 / 1e6;
                let _ = writeln!(out, "drydock_decision_duration_seconds_bucket{{policy=\"{p}\",le=\"{le}\"}} {cumulative}");
            }
            cumulative += s.buckets[LATENCY_BUCKETS_US.len()].load(Relaxed);
            let _ = writeln!(out, "drydock_decision_duration_seconds_bucket{{policy=\"{p}\",le=\"+Inf\"}} {cumulative}");
            let sum = s.sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "drydock_decision_duration_seconds_sum{{policy=\"{p}\"}} {sum}");
            let _ = writeln!(out, "drydock_decision_duration_seconds_count{{policy=\"{p}\"}} {cumulative}");
        }

        header(&mut out, "drydock_policy_faults_total", "counter", "Decisions the policy could not make, by policy version and kind (trap, deadline, memory, garbage); the fail mode decided instead.");
        for s in &stats {
            let p = escape(&s.label);
            for (kind, n) in Fault::KINDS.iter().zip(&s.faults) {
                let _ = writeln!(out, "drydock_policy_faults_total{{policy=\"{p}\",kind=\"{kind}\"}} {}", n.load(Relaxed));
            }
        }

        counter(&mut out, "drydock_floor_admissions_total", "sys_admin requests to /maintenance* or /policies* admitted by the host without asking the policy.", self.floor.load(Relaxed));
        counter(&mut out, "drydock_policy_swaps_total", "Times the active policy was replaced (activate or rollback).", self.swaps.load(Relaxed));

        header(&mut out, "drydock_policy_active", "gauge", "The active policy version (always 1).");
        let _ = writeln!(out, "drydock_policy_active{{policy=\"{}\"}} 1", escape(scrape.active.label()));
        header(&mut out, "drydock_policy_shadow", "gauge", "The shadow candidate, while one is set (always 1).");
        if let Some(shadow) = scrape.shadow {
            let _ = writeln!(out, "drydock_policy_shadow{{policy=\"{}\"}} 1", escape(shadow.label()));
        }

        counter(&mut out, "drydock_shadow_agreements_total", "Requests on which the shadow candidate decided as the active policy did.", self.shadow_agreements.load(Relaxed));
        counter(&mut out, "drydock_shadow_disagreements_total", "Requests on which the shadow candidate decided otherwise (including its faults).", self.shadow_disagreements.load(Relaxed));
        counter(&mut out, "drydock_shadow_faults_total", "Requests the shadow candidate could not decide.", self.shadow_faults.load(Relaxed));
        counter(&mut out, "drydock_shadow_skipped_total", "Requests not shown to the shadow candidate because its queue was full.", self.shadow_skipped.load(Relaxed));

        header(&mut out, "drydock_maintenance_state", "gauge", "The maintenance mode: 1 for the current state, 0 for the others.");
        for state in [MaintenanceState::Deactivated, MaintenanceState::Activating, MaintenanceState::Activated] {
            let v = u8::from(scrape.snapshot.state == state);
            let _ = writeln!(out, "drydock_maintenance_state{{state=\"{}\"}} {v}", state.as_str());
        }
        header(&mut out, "drydock_unfinished_executions", "gauge", "Executions not in an end state, by status.");
        for status in ExecutionStatus::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let n = scrape.snapshot.executions.by_status.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "drydock_unfinished_executions{{status=\"{}\"}} {n}", status.as_str());
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value: backslash, double quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_engine::{DEFAULT_POLICY, Denial, Engine, ExecutionCounts, Limits};

    fn policy() -> Policy {
        Engine::new(Limits::default()).unwrap().load(DEFAULT_POLICY).unwrap()
    }

    #[test]
    fn counts_render_by_version_and_verdict() {
        let p = policy();
        let m = Metrics::new();
        let deny = Decision::Deny(Denial { status: 503, error_code: "x".into(), message: "m".into(), retry_after: None });
        m.decided(&p, &Decision::Allow, Some(Duration::from_micros(3)));
        m.decided(&p, &Decision::Allow, Some(Duration::from_micros(700)));
        m.decided(&p, &deny, Some(Duration::from_secs(1)));
        m.decided(&p, &deny, None);
        m.faulted(&p, &Fault::Deadline);
        m.faulted(&p, &Fault::Deadline);
        m.faulted(&p, &Fault::Garbage("x".into()));
        m.swapped();
        m.shadow_compared(true);
        m.shadow_compared(false);
        let snapshot = Snapshot { facts: Vec::new(),
            state: MaintenanceState::Activating,
            executions: ExecutionCounts { by_status: vec![(ExecutionStatus::Started, 2)] },
        };
        let text = m.render(&Scrape { snapshot: &snapshot, active: &p, shadow: None });
        let label = p.label();
        for line in [
            format!("drydock_decisions_total{{policy=\"{label}\",verdict=\"allow\"}} 2"),
            format!("drydock_decisions_total{{policy=\"{label}\",verdict=\"deny\"}} 2"),
            format!("drydock_decisions_remembered_total{{policy=\"{label}\"}} 1"),
            format!("drydock_decision_duration_seconds_bucket{{policy=\"{label}\",le=\"0.000005\"}} 1"),
            format!("drydock_decision_duration_seconds_bucket{{policy=\"{label}\",le=\"0.001\"}} 2"),
            format!("drydock_decision_duration_seconds_bucket{{policy=\"{label}\",le=\"0.05\"}} 2"),
            format!("drydock_decision_duration_seconds_bucket{{policy=\"{label}\",le=\"+Inf\"}} 3"),
            format!("drydock_decision_duration_seconds_count{{policy=\"{label}\"}} 3"),
            format!("drydock_policy_faults_total{{policy=\"{label}\",kind=\"deadline\"}} 2"),
            format!("drydock_policy_faults_total{{policy=\"{label}\",kind=\"garbage\"}} 1"),
            format!("drydock_policy_faults_total{{policy=\"{label}\",kind=\"trap\"}} 0"),
            format!("drydock_policy_faults_total{{policy=\"{label}\",kind=\"memory\"}} 0"),
            format!("drydock_policy_active{{policy=\"{label}\"}} 1"),
            "drydock_policy_swaps_total 1".to_string(),
            "drydock_shadow_agreements_total 1".to_string(),
            "drydock_shadow_disagreements_total 1".to_string(),
            "drydock_maintenance_state{state=\"activating\"} 1".to_string(),
            "drydock_maintenance_state{state=\"activated\"} 0".to_string(),
            "drydock_unfinished_executions{status=\"started\"} 2".to_string(),
            "drydock_unfinished_executions{status=\"pending\"} 0".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("status=\"terminated\""));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
