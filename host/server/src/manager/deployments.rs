//! Deployments: create (admitted), delete (admitted, and only without unfinished
//! work), reads; each within what the caller's scope reaches (see `access`).

use drydock_gate::Admission;

use super::access::{Actor, Owned, changeable, seen};
use super::{Manager, not_found};
use crate::error::{Error, Result};
use crate::store::{Deployment, Lock, Page, Scope};

pub(super) fn owned(d: &Deployment) -> Owned<'_> {
    Owned { kind: "Deployment", id: &d.id, tenant: &d.tenant_name, visibility: d.visibility, created_by: &d.created_by }
}

impl Manager {
    pub fn create_deployment(&self, d: Deployment, admission: Option<&dyn Admission>) -> Result<Deployment> {
        self.change(admission, Lock::Shared, |tx| {
            // Ids are unique across tenants (a difference from Cloudify's per-tenant ids).
            if tx.deployment(&d.id)?.is_some() {
                return Err(Error::Conflict(format!("deployment with id `{}` already exists", d.id)));
            }
            Ok(tx.insert_deployment(&d)?)
        })?;
        Ok(d)
    }

    pub fn deployment(&self, id: &str, scope: Option<&Scope>) -> Result<Deployment> {
        let d = self.store.deployment(id)?.ok_or_else(|| not_found("Deployment", id))?;
        seen(scope, &owned(&d))?;
        Ok(d)
    }

    pub fn deployments(&self, scope: Option<&Scope>, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        Ok(self.store.deployments(scope, page)?)
    }

    /// Delete a deployment that has no unfinished execution.
    pub fn delete_deployment(&self, id: &str, actor: Actor<'_>, admission: Option<&dyn Admission>) -> Result<Deployment> {
        // Alone: no execution of it may be created meanwhile.
        let (d, _) = self.change(admission, Lock::Exclusive, |tx| {
            let d = tx.deployment(id)?.ok_or_else(|| not_found("Deployment", id))?;
            changeable(actor.scope(), &owned(&d))?;
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
