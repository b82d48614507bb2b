//! What the manager does by the clock: scheduled windows (activate at the start,
//! deactivate at the end) and an activation's deadline (wait, cancel, force-cancel or
//! revert). Every host runs the same clock; the state transaction makes each step
//! happen once, whichever host gets there first.

use std::time::Duration;

use drydock_engine::{CancelKind, MaintenanceState};

use super::maintenance::{Plan, activate_in, deactivate_in, flip, record};
use super::{Manager, executions::apply_status};
use crate::error::{Error, Result};
use crate::store::{Lock, OnDeadline, StateTx, Window, WindowStatus};
use crate::timestamp;

/// Who acts when a window starts or ends, or a deadline passes.
pub const SCHEDULE: &str = "schedule";
pub const DEADLINE: &str = "deadline";

fn due(at: &str) -> bool {
    timestamp::seconds_until(at).is_some_and(|s| s <= 0.0)
}

impl Manager {
    /// Schedule a window: maintenance from `start_at` (activating, as a person would
    /// start it) until `end_at` (deactivated), if given.
    pub fn schedule(&self, by: &str, start_at: String, end_at: Option<String>, reason: Option<String>) -> Result<Window> {
        if end_at.as_deref().is_some_and(|end| end <= start_at.as_str()) {
            return Err(Error::BadRequest(format!("the window must end after it starts ({start_at})")));
        }
        let window = Window {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            start_at,
            end_at,
            reason,
            created_by: by.to_string(),
            created_at: timestamp::now(),
            status: WindowStatus::Scheduled,
        };
        self.change(None, Lock::Exclusive, |tx| {
            // Windows may not overlap: the first one's end would end the maintenance
            // the other still needs. Refused, saying which, rather than merged
            // silently. Checked under the lock, so two hosts cannot both add one.
            if let Some(w) = tx.state().windows.iter().find(|w| overlaps(w, &window)) {
                return Err(Error::Conflict(format!(
                    "The window overlaps window {} ({} to {}); windows may not overlap: cancel that one or choose other times",
                    w.id,
                    w.start_at,
                    w.end_at.as_deref().unwrap_or("its end, none set")
                )));
            }
            Ok(tx.insert_window(&window)?)
        })?;
        tracing::info!(id = %window.id, start = %window.start_at, end = ?window.end_at, user = %by, "maintenance window scheduled");
        Ok(window)
    }

    /// Every window, past ones too, by start.
    pub fn windows(&self) -> Result<Vec<Window>> {
        Ok(self.store.all_windows()?)
    }

    /// Cancel a window: one that has not started never will; one under way ends
    /// now (and with it the maintenance it began).
    pub fn cancel_window(&self, id: &str, by: &str) -> Result<Window> {
        let (window, _) = self.change(None, Lock::Exclusive, |tx| {
            let Some(w) = tx.state().windows.iter().find(|w| w.id == id).cloned() else {
                return Err(Error::NotFound(format!("Requested `Window` with ID `{id}` was not found (or it has ended)")));
            };
            if w.status == WindowStatus::Started {
                finish_window(tx, &w, by, &format!("window {id} cancelled while under way"))?;
                return Ok(Window { status: WindowStatus::Ended, ..w });
            }
            tx.set_window_status(id, WindowStatus::Cancelled)?;
            Ok(Window { status: WindowStatus::Cancelled, ..w })
        })?;
        tracing::info!(%id, user = %by, "maintenance window cancelled");
        Ok(window)
    }

    /// Do what is due now (window starts and ends, a passed deadline), each in its own
    /// transaction; returns how long until the next thing is due (`None`: nothing is).
    pub fn run_clock(&self) -> Result<Option<Duration>> {
        let state = self.seen();
        for w in &state.windows {
            if w.status == WindowStatus::Scheduled && due(&w.start_at) {
                self.change(None, Lock::Exclusive, |tx| start_window(tx, &w.id))?;
            } else if w.status == WindowStatus::Started && w.end_at.as_deref().is_some_and(due) {
                self.change(None, Lock::Exclusive, |tx| end_window(tx, &w.id))?;
            }
        }
        if let Some((at, _)) = state.maintenance.as_ref().and_then(|m| m.deadline.clone())
            && due(&at)
        {
            let (cancelled, _) = self.change(None, Lock::Exclusive, deadline_passed)?;
            self.wake(&cancelled);
        }
        let state = self.seen();
        let mut next: Vec<&str> = Vec::new();
        for w in &state.windows {
            match w.status {
                WindowStatus::Scheduled => next.push(&w.start_at),
                WindowStatus::Started => next.extend(w.end_at.as_deref()),
                _ => {}
            }
        }
        if let Some(m) = &state.maintenance {
            next.extend(m.deadline.as_ref().map(|(at, _)| at.as_str()));
        }
        let soonest = next.iter().filter_map(|at| timestamp::seconds_until(at)).fold(None, |min: Option<f64>, s| {
            Some(min.map_or(s, |m| m.min(s)))
        });
        Ok(soonest.map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0))))
    }
}

/// A window's start: maintenance begins (unless it already has), with the window's
/// reason and end.
fn start_window(tx: &mut dyn StateTx, id: &str) -> Result<()> {
    let Some(w) = tx.state().windows.iter().find(|w| w.id == id && w.status == WindowStatus::Scheduled).cloned() else {
        return Ok(()); // another host started it
    };
    if tx.state().maintenance.is_none() {
        let plan = Plan { reason: w.reason.clone(), until: w.end_at.clone(), deadline: None };
        activate_in(tx, SCHEDULE, &plan, &format!("window {id} started"))?;
    }
    tx.set_window_status(id, WindowStatus::Started)?;
    Ok(())
}

/// A window's end.
fn end_window(tx: &mut dyn StateTx, id: &str) -> Result<()> {
    let Some(w) = tx.state().windows.iter().find(|w| w.id == id && w.status == WindowStatus::Started).cloned() else {
        return Ok(()); // another host ended it
    };
    finish_window(tx, &w, SCHEDULE, &format!("window {id} ended"))
}

/// End a window under way, and the maintenance it began — not maintenance someone
/// started by hand meanwhile, nor another window's (which has its own end).
fn finish_window(tx: &mut dyn StateTx, w: &Window, by: &str, detail: &str) -> Result<()> {
    let began_it = tx.state().maintenance.as_ref().is_some_and(|m| m.requested_by == SCHEDULE && m.until == w.end_at);
    if began_it {
        deactivate_in(tx, by, detail)?;
    }
    // Deactivating ends every window under way; make sure this one is.
    if tx.state().windows.iter().any(|x| x.id == w.id) {
        tx.set_window_status(&w.id, WindowStatus::Ended)?;
    }
    Ok(())
}

/// The deadline passed while activating: do what was asked, and record it. Returns
/// the executions it moved (their workers are woken).
fn deadline_passed(tx: &mut dyn StateTx) -> Result<Vec<String>> {
    let Some(m) = tx.state().maintenance.clone() else { return Ok(Vec::new()) };
    let Some((at, on)) = m.deadline.clone() else { return Ok(Vec::new()) };
    if m.status != MaintenanceState::Activating || !due(&at) {
        return Ok(Vec::new());
    }
    let left: Vec<String> = tx.unfinished_ids()?;
    let detail = format!("the deadline ({at}) passed with {} unfinished; {}", left.len(), on.as_str());
    let mut moved = Vec::new();
    match on {
        OnDeadline::Revert => {
            deactivate_in(tx, DEADLINE, &detail)?;
            return Ok(moved);
        }
        OnDeadline::Wait => {
            record(tx, MaintenanceState::Activating, DEADLINE, m.reason.as_deref(), &detail)?;
        }
        OnDeadline::Cancel | OnDeadline::ForceCancel => {
            record(tx, MaintenanceState::Activating, DEADLINE, m.reason.as_deref(), &detail)?;
            let kind = if on == OnDeadline::Cancel { CancelKind::Cancel } else { CancelKind::ForceCancel };
            let now = timestamp::now();
            for id in left {
                let Some(mut exec) = tx.execution(&id)? else { continue };
                let Some(to) = exec.status.after_cancel(kind).filter(|to| *to != exec.status) else { continue };
                let from = exec.status;
                let event = apply_status(&mut exec, to, None, &now);
                tx.update_execution(&exec, from, &event)?;
                moved.push(id);
            }
        }
    }
    // The deadline is spent; what is left of the record stays.
    let mut rec = tx.state().maintenance.clone().unwrap_or(m);
    rec.deadline = None;
    tx.set_maintenance(Some(&rec))?;
    let drained = tx.state().counts.total() == 0;
    flip(tx, drained, &timestamp::now(), "the deadline's cancellations ended the last unfinished execution")?;
    Ok(moved)
}

/// Whether two windows share a moment (an end is exclusive; no end is forever).
/// Timestamps are UTC in one format, so they compare as strings.
fn overlaps(a: &Window, b: &Window) -> bool {
    let before_end = |start: &str, w: &Window| w.end_at.as_deref().is_none_or(|end| start < end);
    before_end(&a.start_at, b) && before_end(&b.start_at, a)
}
