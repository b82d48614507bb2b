//! Maintenance mode: the view, activate, deactivate, and the eager flip.

use drydock_engine::MaintenanceState;
use drydock_gate::Admission;

use super::Manager;
use crate::error::{Error, Result};
use crate::store::{MaintenanceRecord, ManagerState, Remaining};
use crate::timestamp;

/// The maintenance state as the API shows it.
#[derive(Debug, Clone)]
pub struct MaintenanceView {
    pub record: Option<MaintenanceRecord>,
    /// Present only while activating.
    pub remaining: Option<Vec<Remaining>>,
    /// The database could not be asked: this is the last state this host saw.
    pub stale: bool,
}

impl MaintenanceView {
    pub fn state(&self) -> MaintenanceState {
        self.record.as_ref().map_or(MaintenanceState::Deactivated, |r| r.status)
    }
}

/// The eager transition: activating → activated the moment nothing is unfinished.
/// `now` is the instant of the change that drained the set, so the last execution's
/// `ended_at` and `activated_at` are one clock read. Returns the record to write, if
/// the state flips.
pub(super) fn flip(maintenance: Option<&MaintenanceRecord>, drained: bool, now: &str) -> Option<MaintenanceRecord> {
    match maintenance {
        Some(m) if m.status == MaintenanceState::Activating && drained => Some(MaintenanceRecord {
            status: MaintenanceState::Activated,
            activated_at: Some(now.to_string()),
            ..m.clone()
        }),
        _ => None,
    }
}

impl MaintenanceView {
    fn of(state: &ManagerState) -> MaintenanceView {
        let activating = state.maintenance.as_ref().map(|m| m.status) == Some(MaintenanceState::Activating);
        MaintenanceView {
            record: state.maintenance.clone(),
            remaining: activating.then(|| state.unfinished.clone()),
            stale: false,
        }
    }
}

impl Manager {
    /// The maintenance state as the database has it now (any host's change shows);
    /// when the database cannot answer, the last state seen, marked stale.
    pub fn maintenance(&self) -> MaintenanceView {
        match self.store.manager_state() {
            Ok(state) => MaintenanceView::of(&self.observe(state)),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the maintenance state; answering with the last one seen");
                MaintenanceView { stale: true, ..MaintenanceView::of(&self.seen.load()) }
            }
        }
    }

    /// Request activation. `Err(NotModified)` when already activating or activated.
    pub fn activate(&self, username: &str, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let ((), state) = self.change(admission, |tx| {
            if tx.state().maintenance.is_some() {
                return Err(Error::NotModified);
            }
            let now = timestamp::now();
            let drained = tx.state().unfinished.is_empty();
            tx.set_maintenance(Some(&MaintenanceRecord {
                status: if drained { MaintenanceState::Activated } else { MaintenanceState::Activating },
                activated_at: drained.then(|| now.clone()),
                activation_requested_at: now,
                requested_by: username.to_string(),
            }))?;
            Ok(())
        })?;
        Ok(MaintenanceView::of(&state))
    }

    /// Deactivate. Returns the previous record with status `deactivated`;
    /// `Err(NotModified)` when already deactivated.
    pub fn deactivate(&self, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let (prev, _) = self.change(admission, |tx| {
            let Some(prev) = tx.state().maintenance.clone() else {
                return Err(Error::NotModified);
            };
            tx.set_maintenance(None)?;
            Ok(prev)
        })?;
        Ok(MaintenanceView {
            record: Some(MaintenanceRecord { status: MaintenanceState::Deactivated, ..prev }),
            remaining: None,
            stale: false,
        })
    }
}
