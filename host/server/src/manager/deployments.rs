//! Deployments: create (admitted), delete (admitted, and only without unfinished
//! work), reads.

use drydock_gate::Admission;

use super::{Manager, not_found};
use crate::error::{Error, Result};
use crate::store::{Deployment, Lock, Page};

impl Manager {
    pub fn create_deployment(&self, d: Deployment, admission: Option<&dyn Admission>) -> Result<Deployment> {
        self.change(admission, Lock::Shared, |tx| {
            if tx.deployment(&d.id)?.is_some() {
                return Err(Error::Conflict(format!("deployment with id `{}` already exists", d.id)));
            }
            Ok(tx.insert_deployment(&d)?)
        })?;
        Ok(d)
    }

    pub fn deployment(&self, id: &str) -> Result<Deployment> {
        self.store.deployment(id)?.ok_or_else(|| not_found("Deployment", id))
    }

    pub fn deployments(&self, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        Ok(self.store.deployments(page)?)
    }

    /// Delete a deployment that has no unfinished execution.
    pub fn delete_deployment(&self, id: &str, admission: Option<&dyn Admission>) -> Result<Deployment> {
        // Alone: no execution of it may be created meanwhile.
        let (d, _) = self.change(admission, Lock::Exclusive, |tx| {
            let d = tx.deployment(id)?.ok_or_else(|| not_found("Deployment", id))?;
            if tx.has_unfinished(id)? {
                return Err(Error::Conflict(format!(
                    "Can't delete deployment {id} - There are running or queued executions for this deployment"
                )));
            }
            tx.delete_deployment(id)?;
            Ok(d)
        })?;
        Ok(d)
    }
}
