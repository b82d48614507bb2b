//! Who asks, and what they may see and change: the tenant and visibility rules
//! every read and write of a deployment or an execution goes through. Permissions
//! by role are the API's (`api::tenancy`); here, only what the scope reaches.

use super::not_found;
use crate::error::{Error, Result};
use crate::store::{Scope, Visibility};

/// Who asks the manager to change a deployment or an execution.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// drydock itself (the worker, a deadline, tests): reaches everything, and its
    /// word that an execution runs makes it a parent of child work.
    System,
    /// A request acting in `scope`; `vouches`: a sys_admin, whose word that an
    /// execution runs makes it a parent too.
    Request { scope: &'a Scope, vouches: bool },
}

impl Actor<'_> {
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Actor::System => None,
            Actor::Request { scope, .. } => Some(scope),
        }
    }

    pub fn vouches(&self) -> bool {
        match self {
            Actor::System => true,
            Actor::Request { vouches, .. } => *vouches,
        }
    }
}

/// A resource's owner and reach, for the checks below.
pub struct Owned<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    pub tenant: &'a str,
    pub visibility: Visibility,
    pub created_by: &'a str,
}

/// Readable from `scope`, else not found: another tenant's resource (or a private
/// one of someone else) is answered exactly as one that does not exist.
pub fn seen(scope: Option<&Scope>, r: &Owned<'_>) -> Result<()> {
    match scope {
        Some(s) if !s.sees(r.tenant, r.visibility, r.created_by) => Err(not_found(r.kind, r.id)),
        _ => Ok(()),
    }
}

/// Changeable from `scope`: seen, and of the scope's own tenant (a global resource
/// is read from everywhere but changed only from its tenant, as in Cloudify).
pub fn changeable(scope: Option<&Scope>, r: &Owned<'_>) -> Result<()> {
    seen(scope, r)?;
    match scope {
        Some(s) if s.tenant != r.tenant => Err(Error::BadRequest(format!(
            "Can't modify the global resource `{}` from outside its tenant `{}`",
            r.id, r.tenant
        ))),
        _ => Ok(()),
    }
}
