//! Signatures on versions: kept with the bytes they sign, checked against the
//! trusted keys at every door. A version may be activated, shadowed or started
//! (and followed from another host) only when [`Trust::admit`] says so; the
//! builtin is trusted as part of the binary.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Registry, Version, change};
use crate::error::{Error, Result};
use crate::store::{Store, StoredSignature};
use crate::timestamp;
use crate::trust::{Signature, Signers, Trust, TrustError};

/// One signer of a version, as the policy list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key_id: String,
    /// The trusted key's name on this host (`None`: not trusted here).
    pub trusted_as: Option<String>,
    pub added_by: String,
    pub added_at: String,
}

pub(super) fn trust_error(e: TrustError) -> Error {
    match e {
        TrustError::Untrusted(m) | TrustError::Keys(m) => Error::Untrusted(m),
        TrustError::Malformed(m) | TrustError::Invalid(m) | TrustError::Key(m) => Error::BadRequest(m),
    }
}

/// The kept signatures over `sha256` (a line that no longer parses is skipped).
fn kept(store: &dyn Store, sha256: &str) -> Result<Vec<Signature>> {
    Ok(store.signatures(sha256)?.iter().filter_map(|s| Signature::parse(&s.line).ok()).collect())
}

/// Keep `sent` with `version`'s bytes, each a line in the policy history.
pub(super) fn keep(store: &dyn Store, version: &Version, sent: &[Signature], by: &str) -> anyhow::Result<()> {
    let now = timestamp::now();
    let rows: Vec<StoredSignature> = sent
        .iter()
        .map(|s| StoredSignature { sha256: version.sha256.clone(), key_id: s.key_id.clone(), line: s.line(), added_by: by.into(), added_at: now.clone() })
        .collect();
    let log: Vec<_> = sent.iter().map(|s| change(&now, by, "sign", &version.id, &format!("signed by key {}", s.key_id))).collect();
    store.add_signatures(&rows, &log)
}

/// May the stored version `v` decide, shadow or start here?
pub(super) fn admit(trust: &Trust, store: &dyn Store, v: &Version) -> Result<Signers> {
    if v.is_builtin() || !trust.required {
        return Ok(Signers::default());
    }
    trust.admit(&v.label(), &v.sha256, &kept(store, &v.sha256)?).map_err(trust_error)
}

/// May bytes about to be stored (an upload, `serve --policy FILE`) be taken up, with
/// the signatures sent and those kept for the same bytes already?
pub(super) fn admit_new(trust: &Trust, store: &dyn Store, label: &str, sha256: &str, sent: &[Signature]) -> Result<()> {
    if !trust.required {
        return Ok(());
    }
    let mut all = kept(store, sha256)?;
    all.extend(sent.iter().cloned());
    trust.admit(label, sha256, &all).map(|_| ()).map_err(trust_error)
}

/// Signatures sent for the component `sha256`: each over exactly these bytes, and
/// each by a trusted key verified (one by a key not trusted here is kept unverified:
/// it counts only once its key is trusted, and is verified then).
pub(super) fn check_sent(trust: &Trust, sha256: &str, sent: &[Signature]) -> Result<()> {
    for s in sent {
        if s.sha256 != sha256 {
            return Err(Error::BadRequest(format!(
                "The signature by key {} is over other bytes (sha256 {}), not this component ({sha256}): were the bytes changed after signing?",
                s.key_id, s.sha256
            )));
        }
    }
    let signers = trust.signers(sha256, sent).map_err(trust_error)?;
    if let Some(key) = signers.invalid.first() {
        return Err(Error::BadRequest(format!("The signature by trusted key {key} does not verify over this component's bytes")));
    }
    Ok(())
}

impl Registry {
    /// Add signatures to a stored version (a second signer, or a new key's after a
    /// rotation). Each must be over exactly its bytes.
    pub fn add_signatures(&self, id: &str, sent: &[Signature], by: &str) -> Result<Version> {
        let version = self.get(id)?;
        if version.is_builtin() {
            return Err(Error::BadRequest("The builtin policy is trusted as part of drydock; it takes no signatures".into()));
        }
        if sent.is_empty() {
            return Err(Error::BadRequest("No signatures were sent".into()));
        }
        check_sent(&self.trust, &version.sha256, sent)?;
        keep(&*self.store, &version, sent, by)?;
        self.note_signers();
        Ok(version)
    }

    /// Note who signed the active and shadow versions, as the decision log names
    /// them (read on changes only, never on a request's way).
    pub(super) fn note_signers(&self) {
        if self.trust.keys.is_none() {
            return;
        }
        let st = self.state();
        let ids = std::iter::once(st.active_id.as_str()).chain(st.shadow.as_ref().map(|(id, _, _)| id.as_str()));
        let mut map = HashMap::new();
        for id in ids.filter(|id| *id != super::BUILTIN) {
            let noted = self.get(id).and_then(|v| {
                let signers = self.trust.signers(&v.sha256, &kept(&*self.store, &v.sha256)?).map_err(trust_error)?;
                Ok((v.sha256, signers.trusted.iter().map(|(id, name)| format!("{name} ({id})")).collect::<Vec<_>>()))
            });
            match noted {
                Ok((sha, names)) => {
                    map.insert(sha, names.into());
                }
                Err(e) => tracing::warn!(policy = %id, error = %e, "cannot read who signed the policy version"),
            }
        }
        self.signed.store(Arc::new(map));
    }

    /// Every version's signers, by sha256, against the keys trusted now.
    pub fn signers(&self) -> Result<HashMap<String, Vec<Signer>>> {
        let keys = match &self.trust.keys {
            Some(source) => source.keys().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the trusted keys");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let mut out: HashMap<String, Vec<Signer>> = HashMap::new();
        for s in self.store.all_signatures()? {
            let Ok(sig) = Signature::parse(&s.line) else { continue };
            let trusted_as = keys.iter().find(|k| sig.verifies(k, &s.sha256)).map(|k| k.name.clone());
            out.entry(s.sha256.clone()).or_default().push(Signer { key_id: s.key_id, trusted_as, added_by: s.added_by, added_at: s.added_at });
        }
        Ok(out)
    }
}
