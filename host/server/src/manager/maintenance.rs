//! Maintenance mode: the view, activate (with a reason, an expected end and a
//! deadline), deactivate, the eager flip, and the history of every transition.

use std::sync::Arc;

use drydock_engine::MaintenanceState;
use drydock_gate::Admission;

use super::Manager;
use crate::error::{Error, Result};
use crate::store::{Lock, MaintenanceRecord, ManagerState, OnDeadline, Page, Remaining, StateTx, Transition, Window, WindowStatus};
use crate::timestamp;

/// Who made a change the manager made on its own.
pub const SYSTEM: &str = "drydock";

/// The maintenance state as the API shows it.
#[derive(Debug, Clone)]
pub struct MaintenanceView {
    pub record: Option<MaintenanceRecord>,
    /// Present only while activating: the oldest of them (all of them, unless the
    /// reader asked for fewer).
    pub remaining: Option<Arc<Vec<Remaining>>>,
    /// How many executions are unfinished (however many `remaining` lists).
    pub unfinished: u64,
    /// The next window scheduled (or the one under way).
    pub next_window: Option<Window>,
    /// The database could not be asked: this is the last state this host saw.
    pub stale: bool,
}

impl MaintenanceView {
    pub fn state(&self) -> MaintenanceState {
        self.record.as_ref().map_or(MaintenanceState::Deactivated, |r| r.status)
    }

    /// The view of `state` with `remaining` (when activating) as given.
    fn of(state: &ManagerState, remaining: Option<Arc<Vec<Remaining>>>) -> MaintenanceView {
        let activating = state.maintenance.as_ref().map(|m| m.status) == Some(MaintenanceState::Activating);
        MaintenanceView {
            record: state.maintenance.clone(),
            remaining: if activating { Some(remaining.unwrap_or_default()) } else { None },
            unfinished: state.counts.total(),
            next_window: state.windows.first().cloned(),
            stale: false,
        }
    }
}

/// What an operator plans with an activation; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub reason: Option<String>,
    /// The expected end, a timestamp.
    pub until: Option<String>,
    /// While activating: when to stop waiting (a timestamp), and what to do then.
    pub deadline: Option<(String, OnDeadline)>,
}

fn state_of(m: Option<&MaintenanceRecord>) -> MaintenanceState {
    m.map_or(MaintenanceState::Deactivated, |m| m.status)
}

/// Record a transition from what `tx` holds now to `to`.
pub(super) fn record(tx: &mut dyn StateTx, to: MaintenanceState, by: &str, reason: Option<&str>, detail: &str) -> Result<()> {
    let from = state_of(tx.state().maintenance.as_ref());
    tx.record_transition(&Transition {
        at: timestamp::now(),
        by: by.to_string(),
        from,
        to,
        reason: reason.map(str::to_string),
        detail: detail.to_string(),
    })?;
    Ok(())
}

/// The eager transition: activating → activated the moment nothing is unfinished,
/// written (with its history line) in the transaction that drained the set. `now`
/// is the instant of the change that drained it, so the last execution's `ended_at`
/// and `activated_at` are one clock read.
pub(super) fn flip(tx: &mut dyn StateTx, drained: bool, now: &str, detail: &str) -> Result<()> {
    let Some(m) = tx.state().maintenance.clone() else { return Ok(()) };
    if m.status != MaintenanceState::Activating || !drained {
        return Ok(());
    }
    let rec = MaintenanceRecord { status: MaintenanceState::Activated, activated_at: Some(now.to_string()), deadline: None, ..m };
    record(tx, MaintenanceState::Activated, SYSTEM, rec.reason.as_deref(), detail)?;
    tx.set_maintenance(Some(&rec))?;
    Ok(())
}

/// Activate in `tx`: activating, or activated at once when nothing is unfinished.
pub(super) fn activate_in(tx: &mut dyn StateTx, by: &str, plan: &Plan, detail: &str) -> Result<()> {
    if tx.state().maintenance.is_some() {
        return Err(Error::NotModified);
    }
    let now = timestamp::now();
    let drained = tx.state().counts.total() == 0;
    let status = if drained { MaintenanceState::Activated } else { MaintenanceState::Activating };
    let rec = MaintenanceRecord {
        reason: plan.reason.clone(),
        until: plan.until.clone(),
        deadline: if drained { None } else { plan.deadline.clone() },
        ..MaintenanceRecord::requested(status, &now, by)
    };
    record(tx, status, by, plan.reason.as_deref(), detail)?;
    tx.set_maintenance(Some(&rec))?;
    Ok(())
}

/// Deactivate in `tx`; returns the record as it was. A window under way ends with
/// it (its own end would otherwise turn off a later maintenance).
pub(super) fn deactivate_in(tx: &mut dyn StateTx, by: &str, detail: &str) -> Result<MaintenanceRecord> {
    let Some(prev) = tx.state().maintenance.clone() else {
        return Err(Error::NotModified);
    };
    record(tx, MaintenanceState::Deactivated, by, prev.reason.as_deref(), detail)?;
    tx.set_maintenance(None)?;
    let under_way: Vec<String> =
        tx.state().windows.iter().filter(|w| w.status == WindowStatus::Started).map(|w| w.id.clone()).collect();
    for id in under_way {
        tx.set_window_status(&id, WindowStatus::Ended)?;
    }
    Ok(prev)
}

impl Manager {
    /// The maintenance state as the database has it now (any host's change shows);
    /// when the database cannot answer, the last state seen, marked stale.
    pub fn maintenance(&self) -> MaintenanceView {
        self.maintenance_listing(usize::MAX)
    }

    /// [`Manager::maintenance`], listing at most `limit` remaining executions.
    pub fn maintenance_listing(&self, limit: usize) -> MaintenanceView {
        match self.read_and_publish() {
            Ok(state) => self.view(&state, limit),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the maintenance state; answering with the last one seen");
                MaintenanceView { stale: true, ..self.view(&self.seen.load(), limit) }
            }
        }
    }

    /// The view of `state`, listing at most `limit` remaining executions while
    /// activating (read once per published state, see [`Manager::remaining`]). If
    /// they cannot be read, the list is empty and the view says it is stale.
    pub fn view(&self, state: &ManagerState, limit: usize) -> MaintenanceView {
        let activating = state.maintenance.as_ref().is_some_and(|m| m.status == MaintenanceState::Activating);
        if !activating {
            return MaintenanceView::of(state, None);
        }
        match self.remaining(limit) {
            Ok(list) => MaintenanceView::of(state, Some(list)),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the remaining executions");
                MaintenanceView { stale: true, ..MaintenanceView::of(state, None) }
            }
        }
    }

    /// Request activation. `Err(NotModified)` when already activating or activated.
    pub fn activate(&self, username: &str, plan: &Plan, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let ((), state) = self.change(admission, Lock::Exclusive, |tx| activate_in(tx, username, plan, ""))?;
        Ok(self.view(&state, usize::MAX))
    }

    /// Deactivate. Returns the previous record with status `deactivated`;
    /// `Err(NotModified)` when already deactivated.
    pub fn deactivate(&self, username: &str, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let (prev, state) = self.change(admission, Lock::Exclusive, |tx| deactivate_in(tx, username, ""))?;
        Ok(MaintenanceView {
            record: Some(MaintenanceRecord { status: MaintenanceState::Deactivated, ..prev }),
            remaining: None,
            unfinished: state.counts.total(),
            next_window: state.windows.first().cloned(),
            stale: false,
        })
    }

    /// Come up in maintenance (`serve --start-in-maintenance`): activate as `serve`,
    /// unless maintenance is on already. Returns the state it is in.
    pub fn start_in_maintenance(&self, reason: Option<String>) -> Result<MaintenanceState> {
        let plan = Plan { reason, ..Plan::default() };
        match self.change(None, Lock::Exclusive, |tx| activate_in(tx, "serve", &plan, "started with --start-in-maintenance")) {
            Ok(((), state)) => Ok(state_of(state.maintenance.as_ref())),
            Err(Error::NotModified) => Ok(self.seen().maintenance.as_ref().map_or(MaintenanceState::Deactivated, |m| m.status)),
            Err(e) => Err(e),
        }
    }

    /// Every transition, newest first.
    pub fn history(&self, page: &Page) -> Result<(Vec<Transition>, u64)> {
        Ok(self.store.history(page)?)
    }
}
