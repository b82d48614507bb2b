//! The policy registry: versions in the database, which one decides, which one
//! shadows it.
//!
//! Every change goes the same way, one at a time: load the version (validate,
//! compile or take the precompiled artifact from the engine's cache, smoke-test)
//! *before* anything changes; commit the new state to SQLite; then swap the slot.
//! A request reads the slot once, so it is decided by exactly one version, and no
//! request ever waits for a compilation.
//!
//! The embedded default policy is version [`BUILTIN`]: always present, never
//! stored (its bytes ship in the binary), never deleted.
//!
//! Shadow evaluation: while a candidate is set, the gate's [`Recorder`] queues
//! each decision of the active policy for the candidate (a bounded queue; when it
//! is full the request is skipped and counted). One thread drains the queue, asks
//! the candidate, and records agreements and disagreements in the current
//! [`ShadowSession`]. Nothing of this is on the response path.
//!
//! `version` names what the registry lists, `shadow` holds the sessions and their
//! worker, `recorder` is the gate's observer.

mod recorder;
mod shadow;
mod startup;
#[cfg(test)]
mod tests;
mod version;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use drydock_engine::{Engine, LoadError, Policy, Slots};
use drydock_gate::metrics::Metrics;

use crate::error::{Error, Result};
use crate::store::{NewPolicy, PolicyChange, PolicyLogEntry, PolicyState, Store};
use crate::timestamp;

pub use recorder::Recorder;
pub use shadow::{Disagreement, ShadowReport, ShadowSession};
use shadow::{ShadowBoard, ShadowJob};
pub use startup::StartupPolicy;
pub use version::{Active, BUILTIN, Swap, Uploaded, Version};

/// Disagreements kept per shadow session (the most recent).
pub const RECENT_DISAGREEMENTS: usize = 100;
/// Decisions waiting for the shadow candidate; past this, requests are skipped.
const SHADOW_QUEUE: usize = 4096;
/// Who made changes the server made on its own.
const SYSTEM: &str = "drydock";

pub struct Registry {
    engine: Engine,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    slots: Arc<Slots>,
    cache_dir: Option<PathBuf>,
    builtin: (Version, Arc<Policy>),
    /// Held for the whole of every change, so changes apply one at a time.
    /// Holds the loaded versions worth keeping (active, previous, shadow).
    ops: Mutex<HashMap<String, Arc<Policy>>>,
    /// Mirror of the committed `policy_state` row, for lock-free reads.
    state: ArcSwap<PolicyState>,
    board: Arc<ShadowBoard>,
    shadow_tx: SyncSender<ShadowJob>,
}

impl Registry {
    /// The slots the gate reads.
    pub fn slots(&self) -> Arc<Slots> {
        self.slots.clone()
    }

    /// The gate's observer: metrics per decision, and the shadow candidate's queue.
    pub fn recorder(&self) -> Arc<Recorder> {
        Arc::new(Recorder {
            metrics: self.metrics.clone(),
            slots: self.slots.clone(),
            board: self.board.clone(),
            tx: self.shadow_tx.clone(),
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The committed state: active, previous, shadow.
    pub fn state(&self) -> Arc<PolicyState> {
        self.state.load_full()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Policy>>> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- reads ----

    /// Every version: the builtin first, then uploads, oldest first.
    pub fn list(&self) -> Result<Vec<Version>> {
        let stored = self.store.policies()?;
        Ok(std::iter::once(self.builtin.0.clone()).chain(stored.into_iter().map(Version::from)).collect())
    }

    /// One version, by id or by a prefix of its sha256 (at least 8 hex digits).
    pub fn get(&self, id: &str) -> Result<Version> {
        if id == BUILTIN {
            return Ok(self.builtin.0.clone());
        }
        if let Some(rec) = self.store.policy(id)? {
            return Ok(rec.into());
        }
        if id.len() >= 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let id = id.to_ascii_lowercase();
            let matches: Vec<Version> = self.list()?.into_iter().filter(|v| v.sha256.starts_with(&id)).collect();
            match matches.len() {
                1 => return Ok(matches.into_iter().next().unwrap()),
                n if n > 1 => return Err(Error::BadRequest(format!("`{id}` is the prefix of {n} policy versions; give more of the sha256"))),
                _ => {}
            }
        }
        Err(Error::NotFound(format!("Requested policy version `{id}` was not found")))
    }

    pub fn active(&self) -> Result<Active> {
        let st = self.state();
        Ok(Active {
            version: self.get(&st.active_id)?,
            since: st.active_since.clone(),
            by: st.activated_by.clone(),
            previous: st.previous_id.as_deref().and_then(|id| self.get(id).ok()),
        })
    }

    /// The audit log, newest first.
    pub fn history(&self, limit: u32) -> Result<Vec<PolicyLogEntry>> {
        Ok(self.store.policy_log(limit)?)
    }

    // ---- changes ----

    /// Validate `bytes` completely (component, world, no imports, compiles,
    /// answers the smoke set within the limits), then store them. A refusal
    /// changes nothing. Uploading stored bytes again returns the stored version.
    pub fn upload(&self, bytes: &[u8], by: &str) -> Result<Uploaded> {
        let policy = self.engine.load(bytes).map_err(refused)?;
        if policy.sha256() == self.builtin.0.sha256 {
            return Ok(Uploaded { version: self.builtin.0.clone(), created: false });
        }
        let _one_change_at_a_time = self.lock();
        let now = timestamp::now();
        let out = store_version(&*self.store, &policy, bytes, by, &now)?;
        if out.created {
            tracing::info!(policy = %out.version.label(), id = %out.version.id, user = %by, "policy uploaded");
        }
        // Not kept loaded: only the active, previous and shadow versions are. Its
        // compiled artifact is in the engine's cache, so activating it later is a
        // deserialization, not a compilation.
        Ok(out)
    }

    /// Make `id` active. It is loaded (and compiled, if the cache has no
    /// artifact) before the swap; the swap itself is one pointer store.
    pub fn activate(&self, id: &str, by: &str) -> Result<Swap> {
        let mut loaded = self.lock();
        let version = self.get(id)?;
        self.swap_to(&mut loaded, version, by, "activate")
    }

    /// Make the previously active version active again (the current one becomes
    /// the previous: rolling back twice returns where you were).
    pub fn rollback(&self, by: &str) -> Result<Swap> {
        let mut loaded = self.lock();
        let st = self.state();
        let Some(previous) = st.previous_id.clone() else {
            return Err(Error::Conflict("There is no previously active policy version to roll back to".into()));
        };
        let version = self.get(&previous)?;
        self.swap_to(&mut loaded, version, by, "rollback")
    }

    fn swap_to(&self, loaded: &mut HashMap<String, Arc<Policy>>, version: Version, by: &str, action: &str) -> Result<Swap> {
        let st = self.state();
        if st.active_id == version.id {
            let previous = st.previous_id.as_deref().and_then(|id| self.get(id).ok());
            return Ok(Swap { active: version, previous, swapped: false });
        }
        let policy = self.load(loaded, &version.id)?;
        let now = timestamp::now();
        let next = PolicyState {
            active_id: version.id.clone(),
            active_since: now.clone(),
            activated_by: by.to_string(),
            previous_id: Some(st.active_id.clone()),
            shadow: st.shadow.clone(),
        };
        self.commit(&next, &now, by, action, &version.id, &format!("was {}", st.active_id))?;
        let old = self.slots.set_active(policy);
        self.metrics.swapped();
        tracing::info!(from = %old.label(), to = %version.label(), user = %by, %action, "policy swapped");
        self.prune(loaded);
        let previous = self.get(&st.active_id).ok();
        Ok(Swap { active: version, previous, swapped: true })
    }

    /// Start shadowing `id` (replacing any current candidate; counts start at zero).
    pub fn shadow(&self, id: &str, by: &str) -> Result<ShadowReport> {
        let mut loaded = self.lock();
        let version = self.get(id)?;
        let policy = self.load(&mut loaded, &version.id)?;
        let st = self.state();
        let now = timestamp::now();
        let next = PolicyState { shadow: Some((version.id.clone(), now.clone(), by.to_string())), ..(*st).clone() };
        self.commit(&next, &now, by, "shadow", &version.id, "")?;
        let session = Arc::new(ShadowSession::new(version.clone(), policy.clone(), now, by.to_string()));
        // The session first, then the slot: every queued decision finds its session.
        self.board.start(session.clone());
        self.slots.set_shadow(Some(policy));
        tracing::info!(candidate = %version.label(), user = %by, "shadow evaluation started");
        self.prune(&mut loaded);
        Ok(session.report(RECENT_DISAGREEMENTS))
    }

    /// Stop shadowing; returns the final report.
    pub fn stop_shadow(&self, by: &str) -> Result<ShadowReport> {
        let mut loaded = self.lock();
        let st = self.state();
        let Some((id, _, _)) = st.shadow.clone() else {
            return Err(Error::Conflict("No shadow candidate is set".into()));
        };
        let now = timestamp::now();
        let next = PolicyState { shadow: None, ..(*st).clone() };
        self.commit(&next, &now, by, "shadow-stop", &id, "")?;
        self.slots.set_shadow(None);
        let report = self.board.stop(&now, by).map(|s| s.report(RECENT_DISAGREEMENTS));
        tracing::info!(candidate = %id, user = %by, "shadow evaluation stopped");
        self.prune(&mut loaded);
        report.ok_or_else(|| Error::Conflict("No shadow candidate is set".into()))
    }

    /// The current shadow session, else the last one; `None` if there never was one.
    pub fn shadow_report(&self, recent: usize) -> Option<ShadowReport> {
        self.board.latest().map(|s| s.report(recent))
    }

    /// Delete a version that is neither active, nor the shadow candidate, nor the builtin.
    pub fn delete(&self, id: &str, by: &str) -> Result<Version> {
        let mut loaded = self.lock();
        let version = self.get(id)?;
        let st = self.state();
        if version.is_builtin() {
            return Err(Error::Conflict("The builtin policy is part of drydock and cannot be deleted".into()));
        }
        if st.active_id == version.id {
            return Err(Error::Conflict(format!(
                "Policy version {} ({}) is active; activate another version before deleting it",
                version.id,
                version.label()
            )));
        }
        if st.shadow.as_ref().is_some_and(|(s, _, _)| *s == version.id) {
            return Err(Error::Conflict(format!(
                "Policy version {} is the shadow candidate; stop shadowing before deleting it",
                version.id
            )));
        }
        let now = timestamp::now();
        let mut next = (*st).clone();
        if next.previous_id.as_deref() == Some(version.id.as_str()) {
            next.previous_id = None;
        }
        self.store.delete_policy(&version.id, &next, &change(&now, by, "delete", &version.id, &version.label()))?;
        self.state.store(Arc::new(next));
        loaded.remove(&version.id);
        self.forget_artifacts(&version.sha256);
        tracing::info!(policy = %version.label(), id = %version.id, user = %by, "policy deleted");
        Ok(version)
    }

    /// Take up the selection another host committed: load and swap in its active
    /// version, start or stop its shadow candidate. Nothing is written. A version
    /// that cannot be loaded here leaves this host as it was (and says so); the
    /// next poll tries again.
    pub fn follow(&self) -> Result<()> {
        let Some(next) = self.store.policy_state()? else { return Ok(()) };
        let mut loaded = self.lock();
        let current = self.state();
        if *current == next {
            return Ok(());
        }
        let active = match current.active_id == next.active_id {
            true => None,
            false => Some(self.load(&mut loaded, &next.active_id).inspect_err(|e| {
                tracing::error!(policy = %next.active_id, error = %e, "another host activated a policy version this host cannot load");
            })?),
        };
        let shadow = match (&next.shadow, current.shadow == next.shadow) {
            (_, true) => None,
            (None, false) => Some(None),
            (Some((id, since, by)), false) => {
                let policy = self.load(&mut loaded, id)?;
                let version = self.get(id)?;
                Some(Some(Arc::new(ShadowSession::new(version, policy, since.clone(), by.clone()))))
            }
        };
        if let Some(policy) = active {
            let old = self.slots.set_active(policy);
            self.metrics.swapped();
            tracing::info!(from = %old.label(), to = %next.active_id, by = %next.activated_by, "policy swapped (changed on another host)");
        }
        match shadow {
            Some(Some(session)) => {
                self.board.start(session.clone());
                self.slots.set_shadow(Some(session.policy.clone()));
            }
            Some(None) => {
                self.slots.set_shadow(None);
                self.board.stop(&timestamp::now(), "another host");
            }
            None => {}
        }
        self.state.store(Arc::new(next));
        self.prune(&mut loaded);
        Ok(())
    }

    // ---- helpers ----

    /// The loaded policy of `id`, loading it from the database if needed.
    fn load(&self, loaded: &mut HashMap<String, Arc<Policy>>, id: &str) -> Result<Arc<Policy>> {
        if id == BUILTIN {
            return Ok(self.builtin.1.clone());
        }
        if let Some(policy) = loaded.get(id) {
            return Ok(policy.clone());
        }
        let policy = load_stored(&self.engine, &*self.store, id).map_err(|e| match e {
            Stored::Missing => Error::NotFound(format!("Requested policy version `{id}` was not found")),
            Stored::Refused(e) => Error::Conflict(format!("The stored policy version {id} can no longer be loaded: {e}")),
            Stored::Db(e) => e,
        })?;
        loaded.insert(id.to_string(), policy.clone());
        Ok(policy)
    }

    fn commit(&self, next: &PolicyState, now: &str, by: &str, action: &str, id: &str, detail: &str) -> Result<()> {
        self.store.set_policy_state(next, &[change(now, by, action, id, detail)])?;
        self.state.store(Arc::new(next.clone()));
        Ok(())
    }

    /// Keep loaded only what may be needed at once: active, previous, shadow.
    fn prune(&self, loaded: &mut HashMap<String, Arc<Policy>>) {
        let st = self.state();
        let shadow = st.shadow.as_ref().map(|(id, _, _)| id.as_str());
        loaded.retain(|id, _| *id == st.active_id || st.previous_id.as_deref() == Some(id) || shadow == Some(id));
    }

    /// Remove the compiled artifacts of a deleted version from the engine's cache.
    fn forget_artifacts(&self, sha256: &str) {
        let Some(dir) = &self.cache_dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let prefix = format!("{sha256}-");
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn refused(e: LoadError) -> Error {
    Error::BadRequest(format!("The policy component was refused: {e}"))
}

/// Store a loaded policy's bytes unless the same bytes are stored already.
fn store_version(store: &dyn Store, policy: &Policy, bytes: &[u8], by: &str, now: &str) -> anyhow::Result<Uploaded> {
    let new = NewPolicy {
        sha256: policy.sha256().to_string(),
        name: policy.name().to_string(),
        version: policy.version().to_string(),
        size: bytes.len() as u64,
        uploaded_by: by.to_string(),
        uploaded_at: now.to_string(),
    };
    let (rec, created) = store.insert_policy(&new, bytes)?;
    Ok(Uploaded { version: rec.into(), created })
}

/// One audit line.
fn change(at: &str, by: &str, action: &str, policy_id: &str, detail: &str) -> PolicyChange {
    PolicyChange {
        at: at.to_string(),
        username: by.to_string(),
        action: action.to_string(),
        policy_id: policy_id.to_string(),
        detail: detail.to_string(),
    }
}

enum Stored {
    Missing,
    Refused(LoadError),
    Db(Error),
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Missing => f.write_str("it is not in the database"),
            Stored::Refused(e) => e.fmt(f),
            Stored::Db(e) => e.fmt(f),
        }
    }
}

/// Load a stored version (the engine's cache makes this a deserialization,
/// not a compilation, for any version loaded before).
fn load_stored(engine: &Engine, store: &dyn Store, id: &str) -> std::result::Result<Arc<Policy>, Stored> {
    let bytes = store.policy_component(id).map_err(|e| Stored::Db(e.into()))?.ok_or(Stored::Missing)?;
    engine.load(&bytes).map(Arc::new).map_err(Stored::Refused)
}

