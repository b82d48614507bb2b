//! Maintenance mode: the view, activate, deactivate, and the eager flip.

use drydock_engine::{ExecutionStatus, MaintenanceState};
use drydock_gate::Admission;

use super::Manager;
use crate::error::{Error, Result};
use crate::store::{Execution, MaintenanceRecord};
use crate::timestamp;

/// A summary of one unfinished execution, enough for `remaining_executions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remaining {
    pub id: String,
    /// For ordering: people read the list oldest first.
    pub created_at: String,
    pub status: ExecutionStatus,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
}

impl Remaining {
    pub(super) fn of(e: &Execution) -> Remaining {
        Remaining {
            id: e.id.clone(),
            created_at: e.created_at.clone(),
            status: e.status,
            deployment_id: e.deployment_id.clone(),
            workflow_id: e.workflow_id.clone(),
        }
    }
}

/// The maintenance state as the API shows it.
#[derive(Debug, Clone)]
pub struct MaintenanceView {
    pub record: Option<MaintenanceRecord>,
    /// Present only while activating.
    pub remaining: Option<Vec<Remaining>>,
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

impl super::Inner {
    fn view(&self) -> MaintenanceView {
        let remaining = (self.maintenance.as_ref().map(|m| m.status) == Some(MaintenanceState::Activating)).then(|| {
            let mut list: Vec<Remaining> = self.unfinished.values().cloned().collect();
            list.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
            list
        });
        MaintenanceView { record: self.maintenance.clone(), remaining }
    }
}

impl Manager {
    pub fn maintenance(&self) -> MaintenanceView {
        self.lock().view()
    }

    /// Request activation. `Err(NotModified)` when already activating or activated.
    pub fn activate(&self, username: &str, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let mut inner = self.admit(admission)?;
        if inner.maintenance.is_some() {
            return Err(Error::NotModified);
        }
        let now = timestamp::now();
        let drained = inner.unfinished.is_empty();
        let rec = MaintenanceRecord {
            status: if drained { MaintenanceState::Activated } else { MaintenanceState::Activating },
            activated_at: drained.then(|| now.clone()),
            activation_requested_at: now,
            requested_by: username.to_string(),
        };
        self.store.set_maintenance(Some(&rec))?;
        inner.maintenance = Some(rec);
        self.publish(&mut inner);
        Ok(inner.view())
    }

    /// Deactivate. Returns the previous record with status `deactivated`;
    /// `Err(NotModified)` when already deactivated.
    pub fn deactivate(&self, admission: Option<&dyn Admission>) -> Result<MaintenanceView> {
        let mut inner = self.admit(admission)?;
        let Some(prev) = inner.maintenance.clone() else {
            return Err(Error::NotModified);
        };
        self.store.set_maintenance(None)?;
        inner.maintenance = None;
        self.publish(&mut inner);
        Ok(MaintenanceView {
            record: Some(MaintenanceRecord { status: MaintenanceState::Deactivated, ..prev }),
            remaining: None,
        })
    }
}
