//! The policy registry: versions in the database, which one decides, which one
//! shadows it.
//!
//! Every change goes the same way, one at a time on this host: load the version
//! (validate, compile or take the precompiled artifact from the engine's cache,
//! smoke-test) *before* anything changes; decide the change from the selection as
//! the database holds it, under its lock, and commit it (compare-and-set: several
//! hosts write one selection); then take up what was committed in the slots.
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

pub mod budget;
mod recorder;
#[cfg(test)]
mod several_hosts_tests;
mod shadow;
mod signed;
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
use crate::store::{NewPolicy, PolicyChange, PolicyEdit, PolicyLogEntry, PolicyState, Store};
use crate::timestamp;

pub use recorder::Recorder;
pub use shadow::{Disagreement, ShadowReport, ShadowSession};
pub use signed::Signer;
use shadow::{ShadowBoard, ShadowJob};
pub use startup::StartupPolicy;
pub use version::{Active, BUILTIN, Swap, Uploaded, Version};

/// Disagreements kept per shadow session (the most recent).
pub const RECENT_DISAGREEMENTS: usize = 100;
/// Decisions waiting for the shadow candidate; past this, requests are skipped.
const SHADOW_QUEUE: usize = 4096;
/// Who made changes the server made on its own.
const SYSTEM: &str = "drydock";

/// The loaded versions worth keeping (active, previous, shadow), by id.
type Loaded = HashMap<String, Arc<Policy>>;

/// Decides a change from the committed selection (see [`Registry::change`]).
type Decide<'a> = dyn FnMut(&PolicyState) -> Result<Option<PolicyEdit>> + 'a;

/// What [`Registry::adopt`] did: the selection now in force, and the shadow
/// session it stopped, if any.
struct Adopted {
    state: PolicyState,
    stopped: Option<Arc<ShadowSession>>,
}

pub struct Registry {
    engine: Engine,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    slots: Arc<Slots>,
    cache_dir: Option<PathBuf>,
    builtin: (Version, Arc<Policy>),
    /// Held for the whole of every change, so changes apply one at a time.
    /// Holds the loaded versions worth keeping (active, previous, shadow).
    ops: Mutex<Loaded>,
    /// Mirror of the committed `policy_state` row, for lock-free reads.
    state: ArcSwap<PolicyState>,
    board: Arc<ShadowBoard>,
    shadow_tx: SyncSender<ShadowJob>,
    /// Which signatures a version needs to decide, shadow or start here.
    trust: crate::trust::Trust,
    /// Who signed the active and shadow versions (for the decision log).
    signed: Arc<crate::decisions::Signed>,
    /// The most any version's budget may be.
    ceiling: budget::Ceiling,
}

impl Registry {
    /// The slots the gate reads.
    pub fn slots(&self) -> Arc<Slots> {
        self.slots.clone()
    }

    /// The gate's observer: metrics per decision, and the shadow candidate's queue.
    /// The gate's observer; `log`: where it keeps decisions.
    pub fn recorder(&self, log: Option<Arc<crate::decisions::DecisionLog>>) -> Arc<Recorder> {
        Arc::new(Recorder {
            metrics: self.metrics.clone(),
            slots: self.slots.clone(),
            board: self.board.clone(),
            tx: self.shadow_tx.clone(),
            log,
            signed: self.signed.clone(),
        })
    }

    /// A version, loaded to be asked (a replay): changes nothing, keeps nothing
    /// loaded that was not (the engine's cache makes it a deserialization).
    pub fn policy(&self, id: &str) -> Result<Arc<Policy>> {
        let version = self.get(id)?;
        if version.is_builtin() {
            return Ok(self.builtin.1.clone());
        }
        // The active and shadow versions are at hand without the change lock.
        for loaded in std::iter::once(self.slots.active()).chain(self.slots.shadow()) {
            if loaded.sha256() == version.sha256 {
                return Ok(loaded);
            }
        }
        load_stored(&self.engine, &*self.store, &version.id).map_err(|e| stored_error(id, e))
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The committed state: active, previous, shadow.
    pub fn state(&self) -> Arc<PolicyState> {
        self.state.load_full()
    }

    fn lock(&self) -> MutexGuard<'_, Loaded> {
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
    ///
    /// `signatures` are kept with it, each over exactly these bytes; with
    /// `--require-signed`, bytes not signed by enough trusted keys are refused.
    ///
    /// It runs under its own budget: `asked`, or for what is not asked, what it
    /// needs (see [`budget::load_budgeted`]), within the server's maxima.
    pub fn upload(&self, bytes: &[u8], asked: crate::store::Budget, signatures: &[crate::trust::Signature], by: &str) -> Result<Uploaded> {
        let (policy, budget) = budget::load_budgeted(&self.engine, bytes, asked, &self.ceiling)?;
        if policy.sha256() == self.builtin.0.sha256 {
            return Ok(Uploaded { version: self.builtin.0.clone(), created: false });
        }
        signed::check_sent(&self.trust, policy.sha256(), signatures)?;
        signed::admit_new(&self.trust, &*self.store, policy.label(), policy.sha256(), signatures)?;
        let _one_change_at_a_time = self.lock();
        let now = timestamp::now();
        let out = store_version(&*self.store, &policy, bytes, budget, by, &now)?;
        if !signatures.is_empty() {
            signed::keep(&*self.store, &out.version, signatures, by)?;
        }
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
        self.load(&mut loaded, &version.id)?;
        self.swap_to(&mut loaded, version, by, "activate", None)
    }

    /// Make the previously active version active again (the current one becomes
    /// the previous: rolling back twice returns where you were).
    pub fn rollback(&self, by: &str) -> Result<Swap> {
        let mut loaded = self.lock();
        // What the database says now: another host may have changed it.
        let st = self.store.policy_state()?.unwrap_or_else(|| (*self.state()).clone());
        let Some(previous) = st.previous_id.clone() else {
            self.repair(&mut loaded);
            return Err(Error::Conflict("There is no previously active policy version to roll back to".into()));
        };
        let version = self.get(&previous)?;
        self.load(&mut loaded, &version.id)?;
        self.swap_to(&mut loaded, version, by, "rollback", Some(&previous))
    }

    /// Activate `version` (loaded already); `expect_previous`, for a rollback: the
    /// rollback target it was loaded as, refused if another change came first.
    fn swap_to(&self, loaded: &mut Loaded, version: Version, by: &str, action: &str, expect_previous: Option<&str>) -> Result<Swap> {
        let now = timestamp::now();
        let mut swapped = false;
        let committed = self.change(loaded, by, &mut |current| {
            swapped = false;
            if current.active_id == version.id {
                return Ok(None);
            }
            if expect_previous.is_some_and(|p| current.previous_id.as_deref() != Some(p)) {
                return Err(Error::Conflict(
                    "The policy selection changed meanwhile (on another host?); see `drydock policy list` and roll back again".into(),
                ));
            }
            swapped = true;
            Ok(Some(PolicyEdit {
                state: PolicyState {
                    active_id: version.id.clone(),
                    active_since: now.clone(),
                    activated_by: by.to_string(),
                    previous_id: Some(current.active_id.clone()),
                    shadow: current.shadow.clone(),
                },
                log: vec![change(&now, by, action, &version.id, &format!("was {}", current.active_id))],
                delete: None,
            }))
        })?;
        let previous = committed.state.previous_id.as_deref().and_then(|id| self.get(id).ok());
        Ok(Swap { active: version, previous, swapped })
    }

    /// Start shadowing `id` (replacing any current candidate; counts start at zero).
    pub fn shadow(&self, id: &str, by: &str) -> Result<ShadowReport> {
        let mut loaded = self.lock();
        let version = self.get(id)?;
        self.load(&mut loaded, &version.id)?;
        let now = timestamp::now();
        self.change(&mut loaded, by, &mut |current| {
            Ok(Some(PolicyEdit {
                state: PolicyState { shadow: Some((version.id.clone(), now.clone(), by.to_string())), ..current.clone() },
                log: vec![change(&now, by, "shadow", &version.id, "")],
                delete: None,
            }))
        })?;
        let session = self.board.current.load_full().ok_or_else(|| Error::Conflict("No shadow candidate is set".into()))?;
        tracing::info!(candidate = %version.label(), user = %by, "shadow evaluation started");
        Ok(session.report(RECENT_DISAGREEMENTS))
    }

    /// Stop shadowing; returns the final report.
    pub fn stop_shadow(&self, by: &str) -> Result<ShadowReport> {
        let mut loaded = self.lock();
        // The session to report on may have been started on another host: take it
        // up first (its counts start here).
        self.repair(&mut loaded);
        let now = timestamp::now();
        let mut stopping = None;
        let committed = self.change(&mut loaded, by, &mut |current| {
            let Some((id, _, _)) = current.shadow.clone() else {
                return Err(Error::Conflict("No shadow candidate is set".into()));
            };
            stopping = Some(id.clone());
            Ok(Some(PolicyEdit {
                state: PolicyState { shadow: None, ..current.clone() },
                log: vec![change(&now, by, "shadow-stop", &id, "")],
                delete: None,
            }))
        })?;
        tracing::info!(candidate = ?stopping, user = %by, "shadow evaluation stopped");
        let report = committed.stopped.or_else(|| self.board.latest()).map(|s| s.report(RECENT_DISAGREEMENTS));
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
        if version.is_builtin() {
            return Err(Error::Conflict("The builtin policy is part of drydock and cannot be deleted".into()));
        }
        let now = timestamp::now();
        self.change(&mut loaded, by, &mut |current| {
            if current.active_id == version.id {
                return Err(Error::Conflict(format!(
                    "Policy version {} ({}) is active; activate another version before deleting it",
                    version.id,
                    version.label()
                )));
            }
            if current.shadow.as_ref().is_some_and(|(s, _, _)| *s == version.id) {
                return Err(Error::Conflict(format!(
                    "Policy version {} is the shadow candidate; stop shadowing before deleting it",
                    version.id
                )));
            }
            let mut next = current.clone();
            if next.previous_id.as_deref() == Some(version.id.as_str()) {
                next.previous_id = None;
            }
            Ok(Some(PolicyEdit {
                state: next,
                log: vec![change(&now, by, "delete", &version.id, &version.label())],
                delete: Some(version.id.clone()),
            }))
        })?;
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
        self.adopt(&mut loaded, next, "another host").map(|_| ())
    }

    // ---- the selection ----

    /// Change the selection by compare-and-set: `decide` sees the selection as the
    /// database holds it (not this host's copy, which another host may have made
    /// stale), under the database's policy lock; this host then takes up what was
    /// committed. A refusal still brings this host up to date.
    fn change(&self, loaded: &mut Loaded, by: &str, decide: &mut Decide<'_>) -> Result<Adopted> {
        let fallback = (*self.state()).clone();
        let committed = self.store.edit_policy_state(&mut |current| decide(current.unwrap_or(&fallback)));
        match committed {
            Ok(state) => self.adopt(loaded, state.unwrap_or(fallback), by),
            Err(e) => {
                self.repair(loaded);
                Err(e)
            }
        }
    }

    /// Bring this host's slots to the committed selection, best effort (a failure
    /// is logged; the follower tries again).
    fn repair(&self, loaded: &mut Loaded) {
        let adopted = self.store.policy_state().map_err(Error::from).and_then(|st| match st {
            Some(st) => self.adopt(loaded, st, "another host").map(|_| ()),
            None => Ok(()),
        });
        if let Err(e) = adopted {
            tracing::warn!(error = %e, "cannot bring the policy selection up to date from the database");
        }
    }

    /// Make the slots and the shadow board what `next` says: load and swap in its
    /// active version, start or stop its shadow candidate. `by`: who stopped a
    /// candidate that `next` no longer has.
    fn adopt(&self, loaded: &mut Loaded, next: PolicyState, by: &str) -> Result<Adopted> {
        let current = self.state();
        if *current == next {
            return Ok(Adopted { state: next, stopped: None });
        }
        let active = match current.active_id == next.active_id {
            true => None,
            false => Some(self.load(loaded, &next.active_id).inspect_err(|e| {
                tracing::error!(policy = %next.active_id, error = %e, "the policy version now active cannot be loaded on this host");
            })?),
        };
        let shadow = match (&next.shadow, current.shadow == next.shadow) {
            (_, true) => None,
            (None, false) => Some(None),
            (Some((id, since, by)), false) => {
                let policy = self.load(loaded, id)?;
                let version = self.get(id)?;
                Some(Some(Arc::new(ShadowSession::new(version, policy, since.clone(), by.clone()))))
            }
        };
        if let Some(policy) = active {
            let old = self.slots.set_active(policy);
            self.metrics.swapped();
            tracing::info!(from = %old.label(), to = %next.active_id, by = %next.activated_by, "policy swapped");
        }
        let mut stopped = None;
        match shadow {
            Some(Some(session)) => {
                // The session first, then the slot: every queued decision finds its session.
                self.board.start(session.clone());
                self.slots.set_shadow(Some(session.policy.clone()));
            }
            Some(None) => {
                self.slots.set_shadow(None);
                stopped = self.board.stop(&timestamp::now(), by);
            }
            None => {}
        }
        self.state.store(Arc::new(next.clone()));
        self.prune(loaded);
        self.note_signers();
        Ok(Adopted { state: next, stopped })
    }

    // ---- helpers ----

    /// The loaded policy of `id`, loading it from the database if needed.
    /// Refused unless the version is signed as this host requires (checked each
    /// time: a key removed since it was loaded no longer vouches for it).
    fn load(&self, loaded: &mut Loaded, id: &str) -> Result<Arc<Policy>> {
        if id == BUILTIN {
            return Ok(self.builtin.1.clone());
        }
        if self.trust.required {
            signed::admit(&self.trust, &*self.store, &self.get(id)?)?;
        }
        if let Some(policy) = loaded.get(id) {
            return Ok(policy.clone());
        }
        let policy = load_stored(&self.engine, &*self.store, id).map_err(|e| stored_error(id, e))?;
        loaded.insert(id.to_string(), policy.clone());
        Ok(policy)
    }

    /// Keep loaded only what may be needed at once: active, previous, shadow.
    fn prune(&self, loaded: &mut Loaded) {
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

/// Store a loaded policy's bytes unless the same bytes are stored already.
fn store_version(store: &dyn Store, policy: &Policy, bytes: &[u8], budget: crate::store::Budget, by: &str, now: &str) -> anyhow::Result<Uploaded> {
    let new = NewPolicy {
        sha256: policy.sha256().to_string(),
        name: policy.name().to_string(),
        version: policy.version().to_string(),
        size: bytes.len() as u64,
        uploaded_by: by.to_string(),
        uploaded_at: now.to_string(),
        budget,
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

/// A stored version that cannot be loaded, as the API answers it.
fn stored_error(id: &str, e: Stored) -> Error {
    match e {
        Stored::Missing => Error::NotFound(format!("Requested policy version `{id}` was not found")),
        Stored::Refused(e) => Error::Conflict(format!("The stored policy version {id} can no longer be loaded: {e}")),
        Stored::Db(e) => e,
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
/// Under its own recorded budget.
fn load_stored(engine: &Engine, store: &dyn Store, id: &str) -> std::result::Result<Arc<Policy>, Stored> {
    let record = store.policy(id).map_err(|e| Stored::Db(e.into()))?.ok_or(Stored::Missing)?;
    let bytes = store.policy_component(id).map_err(|e| Stored::Db(e.into()))?.ok_or(Stored::Missing)?;
    engine.load_within(&bytes, &budget::limits_of(engine, &record.budget)).map(Arc::new).map_err(Stored::Refused)
}

