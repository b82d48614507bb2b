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

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption};

use drydock_engine::{DEFAULT_POLICY, Engine, Fault, LoadError, Policy, Slots};
use crate::error::{Error, Result};
use drydock_gate::Observer;
use drydock_gate::{Decision, Published, RequestDescriptor};
use crate::manager::Manager;
use drydock_gate::metrics::Metrics;
use crate::store::{PolicyLogEntry, PolicyRecord, PolicyState};
use crate::timestamp;

/// The id of the embedded default policy.
pub const BUILTIN: &str = "builtin";
/// Disagreements kept per shadow session (the most recent).
pub const RECENT_DISAGREEMENTS: usize = 100;
/// Decisions waiting for the shadow candidate; past this, requests are skipped.
const SHADOW_QUEUE: usize = 4096;
/// Who made changes the server made on its own.
const SYSTEM: &str = "drydock";

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
}

impl Version {
    pub fn is_builtin(&self) -> bool {
        self.id == BUILTIN
    }

    /// `name@version#sha-prefix`, as in `X-Drydock-Policy`.
    pub fn label(&self) -> String {
        format!("{}@{}#{}", self.name, self.version, &self.sha256[..8])
    }

    fn of_policy(id: &str, policy: &Policy, uploaded: Option<(String, String)>) -> Version {
        Version {
            id: id.to_string(),
            name: policy.name().to_string(),
            version: policy.version().to_string(),
            sha256: policy.sha256().to_string(),
            size: policy.size() as u64,
            uploaded,
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

/// A policy file given to `serve --policy`: stored as a version and activated.
pub struct StartupPolicy<'a> {
    pub path: &'a Path,
    pub bytes: Vec<u8>,
}

pub struct Registry {
    engine: Engine,
    manager: Arc<Manager>,
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
    /// Load the builtin, restore the active version (and the shadow candidate)
    /// from the database, or store and activate `startup` when given.
    pub fn open(
        engine: Engine,
        manager: Arc<Manager>,
        metrics: Arc<Metrics>,
        cache_dir: Option<PathBuf>,
        startup: Option<StartupPolicy<'_>>,
    ) -> anyhow::Result<Arc<Registry>> {
        let builtin = engine
            .load(DEFAULT_POLICY)
            .map_err(|e| anyhow::anyhow!("refusing to start: the embedded default policy cannot be used: {e}"))?;
        let builtin = Arc::new(builtin);
        let builtin = (Version::of_policy(BUILTIN, &builtin, None), builtin);
        let now = timestamp::now();
        let stored = manager.with_store(|s| s.read().policy_state())?;
        let mut state = stored.clone().unwrap_or_else(|| PolicyState {
            active_id: BUILTIN.into(),
            active_since: now.clone(),
            activated_by: SYSTEM.into(),
            previous_id: None,
            shadow: None,
        });
        let mut log: Vec<(String, String, String, String)> = Vec::new();
        let mut loaded = HashMap::new();

        let active = match startup {
            Some(file) => {
                let policy = engine.load(&file.bytes).map_err(|e| {
                    anyhow::anyhow!("refusing to start: the policy {} cannot be used: {e}", file.path.display())
                })?;
                let by = "serve --policy";
                let id = if policy.sha256() == builtin.0.sha256 {
                    BUILTIN.to_string()
                } else {
                    let policy_ref = &policy;
                    let bytes = &file.bytes;
                    manager.with_store(|s| store_version(s, policy_ref, bytes, by, &now))?.version.id
                };
                if state.active_id != id {
                    state = PolicyState {
                        previous_id: Some(state.active_id.clone()),
                        active_id: id.clone(),
                        active_since: now.clone(),
                        activated_by: by.into(),
                        shadow: state.shadow.clone(),
                    };
                    log.push((by.into(), "startup".into(), id.clone(), file.path.display().to_string()));
                }
                let policy = Arc::new(policy);
                if id != BUILTIN {
                    loaded.insert(id.clone(), policy.clone());
                }
                policy
            }
            None if state.active_id == BUILTIN => builtin.1.clone(),
            None => match load_stored(&engine, &manager, &state.active_id) {
                Ok(policy) => {
                    loaded.insert(state.active_id.clone(), policy.clone());
                    policy
                }
                Err(e) => {
                    // The builtin is always usable; the failed version stays the
                    // rollback target so the operator sees what happened.
                    tracing::error!(policy = %state.active_id, error = %e, "the active policy cannot be loaded; falling back to the builtin");
                    log.push((SYSTEM.into(), "fallback".into(), BUILTIN.into(), format!("{} cannot be loaded: {e}", state.active_id)));
                    state = PolicyState {
                        previous_id: Some(state.active_id.clone()),
                        active_id: BUILTIN.into(),
                        active_since: now.clone(),
                        activated_by: SYSTEM.into(),
                        shadow: state.shadow.clone(),
                    };
                    builtin.1.clone()
                }
            },
        };

        let mut shadow = None;
        if let Some((id, since, by)) = state.shadow.clone() {
            let candidate = if id == BUILTIN { Ok(builtin.1.clone()) } else { load_stored(&engine, &manager, &id) };
            match candidate {
                Ok(policy) => {
                    let version = match id.as_str() {
                        BUILTIN => builtin.0.clone(),
                        _ => manager.with_store(|s| s.read().policy(&id))?.map(Version::from).context("shadow version vanished")?,
                    };
                    loaded.insert(id.clone(), policy.clone());
                    shadow = Some(Arc::new(ShadowSession::new(version, policy, since, by)));
                }
                Err(e) => {
                    tracing::warn!(policy = %id, error = %e, "the shadow candidate cannot be loaded; shadowing stopped");
                    log.push((SYSTEM.into(), "shadow-stop".into(), id, format!("cannot be loaded: {e}")));
                    state.shadow = None;
                }
            }
        }

        if stored.as_ref() != Some(&state) {
            manager.with_store(|s| {
                s.transaction(|tx| {
                    tx.set_policy_state(&state)?;
                    for (by, action, id, detail) in &log {
                        tx.log_policy(&now, by, action, id, detail)?;
                    }
                    Ok(())
                })
            })?;
        }

        let slots = Arc::new(Slots::new(active));
        let board = Arc::new(ShadowBoard::default());
        if let Some(session) = shadow {
            slots.set_shadow(Some(session.policy.clone()));
            board.current.store(Some(session));
        }
        let (shadow_tx, shadow_rx) = sync_channel(SHADOW_QUEUE);
        {
            let (board, metrics) = (board.clone(), metrics.clone());
            std::thread::Builder::new()
                .name("drydock-shadow".into())
                .spawn(move || shadow_worker(shadow_rx, board, metrics))
                .context("cannot start the shadow evaluation thread")?;
        }
        Ok(Arc::new(Registry {
            engine,
            manager,
            metrics,
            slots,
            cache_dir,
            builtin,
            ops: Mutex::new(loaded),
            state: ArcSwap::from_pointee(state),
            board,
            shadow_tx,
        }))
    }

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
        let stored = self.manager.with_store(|s| s.read().policies())?;
        Ok(std::iter::once(self.builtin.0.clone()).chain(stored.into_iter().map(Version::from)).collect())
    }

    /// One version, by id or by a prefix of its sha256 (at least 8 hex digits).
    pub fn get(&self, id: &str) -> Result<Version> {
        if id == BUILTIN {
            return Ok(self.builtin.0.clone());
        }
        if let Some(rec) = self.manager.with_store(|s| s.read().policy(id))? {
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
        self.manager.with_store(|s| s.read().policy_log(limit))
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
        let mut loaded = self.lock();
        let now = timestamp::now();
        let out = self.manager.with_store(|s| store_version(s, &policy, bytes, by, &now))?;
        if out.created {
            tracing::info!(policy = %out.version.label(), id = %out.version.id, user = %by, "policy uploaded");
            loaded.insert(out.version.id.clone(), Arc::new(policy));
        }
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
        self.manager.with_store(|s| {
            s.transaction(|tx| {
                tx.delete_policy(&version.id)?;
                tx.set_policy_state(&next)?;
                tx.log_policy(&now, by, "delete", &version.id, &version.label())
            })
        })?;
        self.state.store(Arc::new(next));
        loaded.remove(&version.id);
        self.forget_artifacts(&version.sha256);
        tracing::info!(policy = %version.label(), id = %version.id, user = %by, "policy deleted");
        Ok(version)
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
        let policy = load_stored(&self.engine, &self.manager, id).map_err(|e| match e {
            Stored::Missing => Error::NotFound(format!("Requested policy version `{id}` was not found")),
            Stored::Refused(e) => Error::Conflict(format!("The stored policy version {id} can no longer be loaded: {e}")),
            Stored::Db(e) => e,
        })?;
        loaded.insert(id.to_string(), policy.clone());
        Ok(policy)
    }

    fn commit(&self, next: &PolicyState, now: &str, by: &str, action: &str, id: &str, detail: &str) -> Result<()> {
        self.manager.with_store(|s| {
            s.transaction(|tx| {
                tx.set_policy_state(next)?;
                tx.log_policy(now, by, action, id, detail)
            })
        })?;
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

/// Insert a loaded policy's bytes unless the same bytes are stored already.
fn store_version(
    store: &mut crate::store::Store,
    policy: &Policy,
    bytes: &[u8],
    by: &str,
    now: &str,
) -> anyhow::Result<Uploaded> {
    store.transaction(|tx| {
        if let Some(rec) = tx.policy_by_sha256(policy.sha256())? {
            return Ok(Uploaded { version: rec.into(), created: false });
        }
        // 12 hex digits name a version; on the (astronomically unlikely)
        // collision, the full digest does.
        let short = &policy.sha256()[..12];
        let id = if tx.policy(short)?.is_some() { policy.sha256() } else { short };
        let rec = PolicyRecord {
            id: id.to_string(),
            sha256: policy.sha256().to_string(),
            name: policy.name().to_string(),
            version: policy.version().to_string(),
            size: bytes.len() as u64,
            uploaded_by: by.to_string(),
            uploaded_at: now.to_string(),
        };
        tx.insert_policy(&rec, bytes)?;
        tx.log_policy(now, by, "upload", &rec.id, &format!("{}@{}", rec.name, rec.version))?;
        Ok(Uploaded { version: rec.into(), created: true })
    })
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
fn load_stored(engine: &Engine, manager: &Manager, id: &str) -> std::result::Result<Arc<Policy>, Stored> {
    let bytes = manager.with_store(|s| s.read().policy_component(id)).map_err(Stored::Db)?.ok_or(Stored::Missing)?;
    engine.load(&bytes).map(Arc::new).map_err(Stored::Refused)
}

// ---- shadow evaluation ----

/// One request the candidate should see.
struct ShadowJob {
    candidate: Arc<Policy>,
    active: Arc<Policy>,
    desc: RequestDescriptor,
    published: Arc<Published>,
    decision: Decision,
    at: SystemTime,
}

/// One request on which the candidate decided otherwise than the active policy.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub at: String,
    pub request: RequestDescriptor,
    pub published: Arc<Published>,
    pub active_label: String,
    pub active: Decision,
    pub candidate: std::result::Result<Decision, Fault>,
    /// Which parts differ: `verdict`, `status`, `error_code`, `message`, `retry_after`, or `fault`.
    pub differs_in: Vec<&'static str>,
}

/// A shadow candidate and what it has shown so far.
pub struct ShadowSession {
    pub candidate: Version,
    policy: Arc<Policy>,
    started_at: String,
    started_by: String,
    stopped: Mutex<Option<(String, String)>>,
    agreements: AtomicU64,
    disagreements: AtomicU64,
    faults: AtomicU64,
    skipped: AtomicU64,
    recent: Mutex<VecDeque<Disagreement>>,
}

/// A shadow session's figures at one moment.
#[derive(Debug, Clone)]
pub struct ShadowReport {
    pub candidate: Version,
    pub running: bool,
    pub started_at: String,
    pub started_by: String,
    pub stopped: Option<(String, String)>,
    pub agreements: u64,
    /// Including the candidate's faults.
    pub disagreements: u64,
    pub candidate_faults: u64,
    /// Requests the candidate did not see because its queue was full.
    pub skipped: u64,
    /// Newest first.
    pub recent: Vec<Disagreement>,
}

impl ShadowSession {
    fn new(candidate: Version, policy: Arc<Policy>, started_at: String, started_by: String) -> ShadowSession {
        ShadowSession {
            candidate,
            policy,
            started_at,
            started_by,
            stopped: Mutex::new(None),
            agreements: AtomicU64::new(0),
            disagreements: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_DISAGREEMENTS)),
        }
    }

    pub fn report(&self, recent: usize) -> ShadowReport {
        let stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let list = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        ShadowReport {
            candidate: self.candidate.clone(),
            running: stopped.is_none(),
            started_at: self.started_at.clone(),
            started_by: self.started_by.clone(),
            stopped,
            agreements: self.agreements.load(Relaxed),
            disagreements: self.disagreements.load(Relaxed),
            candidate_faults: self.faults.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            recent: list.iter().rev().take(recent).cloned().collect(),
        }
    }

    fn record(&self, job: ShadowJob, candidate: std::result::Result<Decision, Fault>) -> bool {
        let differs_in = differences(&job.decision, &candidate);
        if differs_in.is_empty() {
            self.agreements.fetch_add(1, Relaxed);
            return true;
        }
        if candidate.is_err() {
            self.faults.fetch_add(1, Relaxed);
        }
        self.disagreements.fetch_add(1, Relaxed);
        let entry = Disagreement {
            at: chrono::DateTime::<chrono::Utc>::from(job.at).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            request: job.desc,
            published: job.published,
            active_label: job.active.label().to_string(),
            active: job.decision,
            candidate,
            differs_in,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT_DISAGREEMENTS {
            recent.pop_front();
        }
        recent.push_back(entry);
        false
    }
}

/// What the candidate decided differently; empty when it agreed.
fn differences(active: &Decision, candidate: &std::result::Result<Decision, Fault>) -> Vec<&'static str> {
    match (active, candidate) {
        (_, Err(_)) => vec!["fault"],
        (Decision::Allow, Ok(Decision::Allow)) => vec![],
        (Decision::Deny(a), Ok(Decision::Deny(c))) => {
            let mut out = Vec::new();
            if a.status != c.status {
                out.push("status");
            }
            if a.error_code != c.error_code {
                out.push("error_code");
            }
            if a.message != c.message {
                out.push("message");
            }
            if a.retry_after != c.retry_after {
                out.push("retry_after");
            }
            out
        }
        _ => vec!["verdict"],
    }
}

#[derive(Default)]
struct ShadowBoard {
    current: ArcSwapOption<ShadowSession>,
    last: Mutex<Option<Arc<ShadowSession>>>,
}

impl ShadowBoard {
    fn start(&self, session: Arc<ShadowSession>) {
        let now = timestamp::now();
        if let Some(old) = self.current.swap(Some(session.clone())) {
            *old.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, session.started_by.clone()));
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
    }

    fn stop(&self, at: &str, by: &str) -> Option<Arc<ShadowSession>> {
        let session = self.current.swap(None)?;
        *session.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some((at.to_string(), by.to_string()));
        Some(session)
    }

    fn latest(&self) -> Option<Arc<ShadowSession>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Drain the queue: the candidate decides each request, off the response path.
fn shadow_worker(rx: Receiver<ShadowJob>, board: Arc<ShadowBoard>, metrics: Arc<Metrics>) {
    while let Ok(job) = rx.recv() {
        let Some(session) = board.current.load_full() else { continue };
        // Queued for a candidate that has been replaced or stopped since.
        if !Arc::ptr_eq(&session.policy, &job.candidate) {
            continue;
        }
        let candidate = job.candidate.decide(&job.desc, &job.published.snapshot);
        if candidate.is_err() {
            metrics.shadow_faulted();
        }
        let agreed = session.record(job, candidate);
        metrics.shadow_compared(agreed);
    }
}

/// The gate's [`Observer`]: counts each decision, and queues it for the shadow
/// candidate when one is set. Never blocks: a full queue skips the request.
pub struct Recorder {
    metrics: Arc<Metrics>,
    slots: Arc<Slots>,
    board: Arc<ShadowBoard>,
    tx: SyncSender<ShadowJob>,
}

impl Observer for Recorder {
    fn decided(&self, policy: &Arc<Policy>, desc: &RequestDescriptor, published: &Arc<Published>, decision: &Decision, elapsed: Duration) {
        self.metrics.decided(policy, decision, elapsed);
        let Some(candidate) = self.slots.shadow() else { return };
        let job = ShadowJob {
            candidate,
            active: policy.clone(),
            desc: desc.clone(),
            published: published.clone(),
            decision: decision.clone(),
            at: SystemTime::now(),
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.shadow_skipped();
                if let Some(session) = self.board.current.load().as_ref() {
                    session.skipped.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn faulted(&self, policy: &Policy, fault: &Fault) {
        self.metrics.faulted(policy, fault);
    }

    fn floor(&self, _desc: &RequestDescriptor) {
        self.metrics.floor();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_engine::{Limits, STRICT_POLICY};
    use drydock_gate::{Caller, Denial, ExecutionCounts, Role, Snapshot};
    use drydock_engine::MaintenanceState;
    use crate::store::Store;

    struct Fixture {
        _dir: tempfile_dir::Dir,
        registry: Arc<Registry>,
        manager: Arc<Manager>,
        engine: Engine,
        cache: PathBuf,
    }

    /// A throwaway directory (the host crate has no tempfile dependency).
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!("drydock-policies-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn open(dir: &Path, engine: &Engine, startup: Option<StartupPolicy<'_>>) -> (Arc<Registry>, Arc<Manager>) {
        let (manager, _rx) = Manager::open(Store::open(dir).unwrap()).unwrap();
        let registry =
            Registry::open(engine.clone(), manager.clone(), Arc::new(Metrics::new()), Some(dir.join("cache")), startup).unwrap();
        (registry, manager)
    }

    fn fixture() -> Fixture {
        let dir = tempfile_dir::Dir::new();
        let cache = dir.0.join("cache");
        let engine = Engine::new(Limits::default()).unwrap().with_cache_dir(cache.clone());
        let (registry, manager) = open(&dir.0, &engine, None);
        Fixture { _dir: dir, registry, manager, engine, cache }
    }

    #[test]
    fn builtin_is_active_and_listed_first() {
        let f = fixture();
        let list = f.registry.list().unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].is_builtin());
        assert_eq!(f.registry.active().unwrap().version.id, BUILTIN);
        assert_eq!(f.registry.slots().active().sha256(), list[0].sha256);
        assert!(f.registry.rollback("admin").is_err(), "nothing to roll back to");
    }

    #[test]
    fn upload_is_validated_idempotent_and_addressable() {
        let f = fixture();
        let err = f.registry.upload(b"not wasm at all", "admin").unwrap_err();
        assert!(matches!(&err, Error::BadRequest(m) if m.contains("not a WebAssembly component")), "{err}");
        assert_eq!(f.registry.list().unwrap().len(), 1);

        let up = f.registry.upload(STRICT_POLICY, "admin").unwrap();
        assert!(up.created);
        assert_eq!(up.version.id.len(), 12);
        assert_eq!(up.version.name, "cloudify-strict");
        assert_eq!(up.version.uploaded.as_ref().unwrap().0, "admin");
        let again = f.registry.upload(STRICT_POLICY, "bob").unwrap();
        assert!(!again.created);
        assert_eq!(again.version, up.version);
        // The builtin's bytes are the builtin.
        assert_eq!(f.registry.upload(DEFAULT_POLICY, "admin").unwrap().version.id, BUILTIN);
        assert_eq!(f.registry.get(&up.version.sha256[..16]).unwrap().id, up.version.id);
        assert!(matches!(f.registry.get("nope"), Err(Error::NotFound(_))));
    }

    #[test]
    fn activate_rollback_toggle_and_survive_reopen() {
        let f = fixture();
        let strict = f.registry.upload(STRICT_POLICY, "admin").unwrap().version;
        let swap = f.registry.activate(&strict.id, "admin").unwrap();
        assert!(swap.swapped);
        assert_eq!(swap.previous.unwrap().id, BUILTIN);
        assert_eq!(f.registry.slots().active().sha256(), strict.sha256);
        assert_eq!(f.registry.metrics().swaps(), 1);
        assert!(!f.registry.activate(&strict.id, "admin").unwrap().swapped, "already active");

        let back = f.registry.rollback("admin").unwrap();
        assert_eq!(back.active.id, BUILTIN);
        assert_eq!(back.previous.unwrap().id, strict.id);
        assert_eq!(f.registry.slots().active().sha256(), f.registry.get(BUILTIN).unwrap().sha256);
        let forth = f.registry.rollback("admin").unwrap();
        assert_eq!(forth.active.id, strict.id);

        // Reopen on the same database: the active version is restored, from the
        // compiled cache.
        let artifacts = std::fs::read_dir(&f.cache).unwrap().count();
        assert!(artifacts >= 2, "builtin and strict are cached");
        drop(f.registry);
        let (registry, _) = open(&f._dir.0, &f.engine, None);
        assert_eq!(registry.active().unwrap().version.id, strict.id);
        assert_eq!(registry.slots().active().sha256(), strict.sha256);
        assert_eq!(registry.active().unwrap().previous.unwrap().id, BUILTIN);
        let log = registry.history(10).unwrap();
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["rollback", "rollback", "activate", "upload"]);
        let _ = f.manager;
    }

    #[test]
    fn startup_file_is_stored_and_activated() {
        let dir = tempfile_dir::Dir::new();
        let engine = Engine::new(Limits::default()).unwrap();
        let path = dir.0.join("strict.wasm");
        let (registry, _) = open(&dir.0, &engine, Some(StartupPolicy { path: &path, bytes: STRICT_POLICY.to_vec() }));
        let active = registry.active().unwrap();
        assert_eq!(active.version.name, "cloudify-strict");
        assert_eq!(active.by, "serve --policy");
        assert_eq!(active.previous.unwrap().id, BUILTIN);
        drop(registry);
        let bad = Registry::open(
            engine.clone(),
            Manager::open(Store::open(&dir.0).unwrap()).unwrap().0,
            Arc::new(Metrics::new()),
            None,
            Some(StartupPolicy { path: &path, bytes: b"\0asm\x01\0\0\0".to_vec() }),
        );
        let err = format!("{:#}", bad.err().unwrap());
        assert!(err.contains("refusing to start") && err.contains("core wasm module"), "{err}");
    }

    #[test]
    fn delete_refuses_active_shadow_and_builtin() {
        let f = fixture();
        let strict = f.registry.upload(STRICT_POLICY, "admin").unwrap().version;
        assert!(matches!(f.registry.delete(BUILTIN, "admin"), Err(Error::Conflict(_))));
        f.registry.activate(&strict.id, "admin").unwrap();
        assert!(matches!(f.registry.delete(&strict.id, "admin"), Err(Error::Conflict(_))));
        f.registry.activate(BUILTIN, "admin").unwrap();
        f.registry.shadow(&strict.id, "admin").unwrap();
        assert!(matches!(f.registry.delete(&strict.id, "admin"), Err(Error::Conflict(_))));
        f.registry.stop_shadow("admin").unwrap();
        let gone = f.registry.delete(&strict.id, "admin").unwrap();
        assert_eq!(gone.id, strict.id);
        assert_eq!(f.registry.list().unwrap().len(), 1);
        assert_eq!(f.registry.state().previous_id, None, "the rollback target went with it");
        let prefix = format!("{}-", strict.sha256);
        assert!(
            std::fs::read_dir(&f.cache).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(&prefix)),
            "its compiled artifact is gone"
        );
    }

    fn request(method: &str, route: &str) -> RequestDescriptor {
        RequestDescriptor {
            method: method.into(),
            path: format!("/api/v3.1/{route}"),
            route: route.into(),
            first_segment: route.split('/').next().unwrap().into(),
            caller: Caller { username: "alice".into(), role: Role::User, bypass: false },
            attributes: vec![],
        }
    }

    #[test]
    fn shadow_records_disagreements_off_the_response_path() {
        let f = fixture();
        let strict = f.registry.upload(STRICT_POLICY, "admin").unwrap().version;
        let report = f.registry.shadow(&strict.id, "admin").unwrap();
        assert!(report.running);
        assert_eq!(f.registry.slots().shadow().unwrap().sha256(), strict.sha256);

        let recorder = f.registry.recorder();
        let active = f.registry.slots().active();
        let published = Arc::new(Published {
            version: 1,
            snapshot: Snapshot { state: MaintenanceState::Activated, executions: ExecutionCounts::default() },
        });
        let cases = [("GET", "status"), ("GET", "deployments"), ("POST", "executions"), ("GET", "version")];
        for (m, r) in cases {
            let req = request(m, r);
            let d = active.decide(&req, &published.snapshot).unwrap();
            recorder.decided(&active, &req, &published, &d, Duration::from_micros(1));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let report = loop {
            let r = f.registry.shadow_report(10).unwrap();
            if r.agreements + r.disagreements == 4 || std::time::Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!((report.agreements, report.disagreements), (2, 2));
        let mut routes: Vec<&str> = report.recent.iter().map(|d| d.request.route.as_str()).collect();
        routes.sort();
        assert_eq!(routes, ["deployments", "executions"]);
        assert!(report.recent.iter().all(|d| d.differs_in == ["retry_after"]));

        let last = f.registry.stop_shadow("admin").unwrap();
        assert!(!last.running);
        assert!(f.registry.slots().shadow().is_none());
        assert!(!f.registry.shadow_report(10).unwrap().running);
        assert!(matches!(f.registry.stop_shadow("admin"), Err(Error::Conflict(_))));
    }

    #[test]
    fn differences_name_what_differs() {
        let deny = |retry| Decision::Deny(Denial { status: 503, error_code: "c".into(), message: "m".into(), retry_after: retry });
        assert!(differences(&Decision::Allow, &Ok(Decision::Allow)).is_empty());
        assert!(differences(&deny(None), &Ok(deny(None))).is_empty());
        assert_eq!(differences(&deny(None), &Ok(deny(Some(30)))), ["retry_after"]);
        assert_eq!(differences(&Decision::Allow, &Ok(deny(None))), ["verdict"]);
        assert_eq!(differences(&Decision::Allow, &Err(Fault::Deadline)), ["fault"]);
    }
}
