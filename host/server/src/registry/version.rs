//! What the registry lists: policy versions, and the outcomes of its changes.

use drydock_engine::Policy;

use crate::store::PolicyRecord;

/// The id of the embedded default policy.
pub const BUILTIN: &str = crate::store::BUILTIN_POLICY_ID;

/// One policy version, as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    /// `None` for the builtin.
    pub uploaded: Option<(String, String)>,
    /// Its own limits (the builtin's: the server's defaults).
    pub budget: crate::store::Budget,
}

impl Version {
    pub fn is_builtin(&self) -> bool {
        self.id == BUILTIN
    }

    /// `name@version#sha-prefix`, as in `X-Drydock-Policy`.
    pub fn label(&self) -> String {
        format!("{}@{}#{}", self.name, self.version, &self.sha256[..8])
    }

    pub(super) fn of_policy(id: &str, policy: &Policy, uploaded: Option<(String, String)>) -> Version {
        Version {
            id: id.to_string(),
            name: policy.name().to_string(),
            version: policy.version().to_string(),
            sha256: policy.sha256().to_string(),
            size: policy.size() as u64,
            uploaded,
            budget: Default::default(),
        }
    }
}

impl From<PolicyRecord> for Version {
    fn from(r: PolicyRecord) -> Version {
        Version {
            id: r.id,
            name: r.name,
            version: r.version,
            sha256: r.sha256,
            size: r.size,
            uploaded: Some((r.uploaded_by, r.uploaded_at)),
            budget: r.budget,
        }
    }
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub version: Version,
    /// False when the same bytes were already stored (the upload is idempotent).
    pub created: bool,
}

/// The outcome of activate or rollback.
#[derive(Debug, Clone)]
pub struct Swap {
    pub active: Version,
    /// What a rollback would return to now.
    pub previous: Option<Version>,
    /// False when the version was already active (nothing changed).
    pub swapped: bool,
}

/// The active version and how it got there.
#[derive(Debug, Clone)]
pub struct Active {
    pub version: Version,
    pub since: String,
    pub by: String,
    pub previous: Option<Version>,
}

