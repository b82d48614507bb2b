//! Replay: ask kept decisions again of another version and say what would have
//! changed. The input of a decision is entirely what the host gave the policy (a
//! policy calls nothing outside), so a replay is exact: the candidate sees what the
//! deciding version saw.

use std::collections::HashMap;

use drydock_engine::{Decision, Policy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::record::{Answer, DecisionOrigin, DecisionRecord};

/// Routes reported, at most (the most changed first), and samples of each.
const ROUTES: usize = 10;
const SAMPLES: usize = 3;

/// What a candidate would have answered over a range of kept decisions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ReplayReport {
    /// The candidate's label.
    pub candidate: String,
    /// What it is compared with: `as decided` (the deciding version's answers, as
    /// kept) or another version's label.
    pub against: String,
    /// Decisions replayed (admin-floor passes are not: no policy was asked).
    pub total: u64,
    pub agreements: u64,
    pub allow_to_deny: u64,
    pub deny_to_allow: u64,
    /// Both refused, with another status, error code or Retry-After.
    pub other_changes: u64,
    /// The candidate could not decide (counted as changes, too).
    pub faults: u64,
    /// Admin-floor passes in the range, not replayed.
    pub skipped_floor: u64,
    /// Shadow candidates' disagreements in the range (never served), not replayed.
    #[serde(default)]
    pub skipped_shadow: u64,
    /// More decisions matched than one replay reads; these are the oldest.
    pub truncated: bool,
    /// The routes with the most changes, with samples.
    pub routes: Vec<ChangedRoute>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangedRoute {
    pub method: String,
    pub route: String,
    pub changes: u64,
    pub samples: Vec<ReplaySample>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplaySample {
    /// The kept decision.
    pub id: String,
    pub path: String,
    pub was: Answer,
    /// The candidate's answer (`error_code` `policy_fault` when it could not decide).
    pub now: Answer,
}

impl ReplayReport {
    pub fn changes(&self) -> u64 {
        self.allow_to_deny + self.deny_to_allow + self.other_changes + self.faults
    }

    /// The report in a sentence (the console's notice).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "Replay of {} against {}: {} decisions, {} agree; allow -> deny {}, deny -> allow {}, other changes {}, faults {}.",
            self.candidate, self.against, self.total, self.agreements, self.allow_to_deny, self.deny_to_allow, self.other_changes, self.faults
        );
        if !self.routes.is_empty() {
            let routes: Vec<String> = self.routes.iter().take(3).map(|r| format!("{} {} ({})", r.method, r.route, r.changes)).collect();
            s.push_str(&format!(" Most changed: {}.", routes.join(", ")));
        }
        if self.truncated {
            s.push_str(" Only the oldest decisions of the range were read: narrow it.");
        }
        s
    }
}

/// Decisions one replay reads at most (the oldest in its range).
pub const REPLAY_MAX: u64 = 200_000;

/// Replay what `read` pages through (the records after a cursor, in order; empty
/// at the end), [`REPLAY_MAX`] at most.
pub fn over<E>(
    candidate: &Policy,
    against: Option<&Policy>,
    mut read: impl FnMut(i64) -> Result<Vec<(i64, DecisionRecord)>, E>,
) -> Result<ReplayReport, E> {
    let mut replay = Replay::new(candidate, against);
    let (mut after, mut count) = (0i64, 0u64);
    loop {
        let rows = read(after)?;
        if rows.is_empty() {
            return Ok(replay.finish(false));
        }
        for (seq, record) in &rows {
            if count == REPLAY_MAX {
                return Ok(replay.finish(true));
            }
            replay.add(record);
            after = *seq;
            count += 1;
        }
    }
}

/// Replays records into a report.
pub struct Replay<'a> {
    candidate: &'a Policy,
    against: Option<&'a Policy>,
    report: ReplayReport,
    by_route: HashMap<(String, String), ChangedRoute>,
}

impl<'a> Replay<'a> {
    pub fn new(candidate: &'a Policy, against: Option<&'a Policy>) -> Replay<'a> {
        let report = ReplayReport {
            candidate: candidate.label().to_string(),
            against: against.map_or_else(|| "as decided".to_string(), |p| p.label().to_string()),
            ..ReplayReport::default()
        };
        Replay { candidate, against, report, by_route: HashMap::new() }
    }

    pub fn add(&mut self, r: &DecisionRecord) {
        match r.origin {
            DecisionOrigin::Floor => {
                self.report.skipped_floor += 1;
                return;
            }
            // A candidate's answer, never served: the request itself is replayed
            // when its served decision was kept.
            DecisionOrigin::Shadow => {
                self.report.skipped_shadow += 1;
                return;
            }
            DecisionOrigin::Policy | DecisionOrigin::Memo | DecisionOrigin::FailMode => {}
        }
        let (desc, snap) = (r.input.descriptor(), r.input.snapshot());
        let was = match self.against {
            None => r.answer.clone(),
            Some(p) => answer(p.decide(&desc, &snap)),
        };
        let result = self.candidate.decide(&desc, &snap);
        let faulted = result.is_err();
        let now = answer(result);
        self.report.total += 1;
        let kind = match (was.status.is_some(), now.status.is_some()) {
            _ if faulted => &mut self.report.faults,
            (false, true) => &mut self.report.allow_to_deny,
            (true, false) => &mut self.report.deny_to_allow,
            (true, true) if (was.status, &was.error_code, was.retry_after) != (now.status, &now.error_code, now.retry_after) => {
                &mut self.report.other_changes
            }
            _ => {
                self.report.agreements += 1;
                return;
            }
        };
        *kind += 1;
        let key = (r.input.request.method.clone(), r.input.request.route.clone());
        let route = self.by_route.entry(key).or_insert_with(|| ChangedRoute {
            method: r.input.request.method.clone(),
            route: r.input.request.route.clone(),
            changes: 0,
            samples: Vec::new(),
        });
        route.changes += 1;
        if route.samples.len() < SAMPLES {
            route.samples.push(ReplaySample { id: r.id.clone(), path: r.input.request.path.clone(), was, now });
        }
    }

    pub fn finish(mut self, truncated: bool) -> ReplayReport {
        let mut routes: Vec<ChangedRoute> = self.by_route.into_values().collect();
        routes.sort_by(|a, b| b.changes.cmp(&a.changes).then_with(|| (&a.route, &a.method).cmp(&(&b.route, &b.method))));
        routes.truncate(ROUTES);
        self.report.routes = routes;
        self.report.truncated = truncated;
        self.report
    }
}

fn answer(result: Result<Decision, drydock_engine::Fault>) -> Answer {
    Answer::of_result(&result)
}
