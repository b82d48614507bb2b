//! Opening the registry: the builtin, the active version and the shadow candidate
//! restored from the database (or a `serve --policy` file stored and activated),
//! and a fallback to the builtin when a stored version no longer loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arc_swap::ArcSwap;
use drydock_engine::{DEFAULT_POLICY, Engine, Slots};
use drydock_gate::metrics::Metrics;

use super::shadow::{ShadowBoard, ShadowSession, shadow_worker};
use super::{BUILTIN, Registry, SHADOW_QUEUE, SYSTEM, Stored, Version, change, load_stored, signed, store_version};
use crate::store::{PolicyChange, PolicyState, Store};
use crate::timestamp;

/// A policy file given to `serve --policy`: stored as a version and activated.
pub struct StartupPolicy<'a> {
    pub path: &'a Path,
    pub bytes: Vec<u8>,
    /// Its signatures (the `.sig` file beside it), kept with it.
    pub signatures: Vec<crate::trust::Signature>,
}

impl Registry {
    /// Load the builtin, restore the active version (and the shadow candidate)
    /// from the database, or store and activate `startup` when given.
    pub fn open(
        engine: Engine,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        cache_dir: Option<PathBuf>,
        startup: Option<StartupPolicy<'_>>,
        trust: crate::trust::Trust,
        ceiling: super::budget::Ceiling,
    ) -> anyhow::Result<Arc<Registry>> {
        let builtin = engine
            .load(DEFAULT_POLICY)
            .map_err(|e| anyhow::anyhow!("refusing to start: the embedded default policy cannot be used: {e}"))?;
        let builtin = Arc::new(builtin);
        let builtin = (Version::of_policy(BUILTIN, &builtin, None), builtin);
        let now = timestamp::now();
        let stored = store.policy_state()?;
        let mut state = stored.clone().unwrap_or_else(|| PolicyState {
            active_id: BUILTIN.into(),
            active_since: now.clone(),
            activated_by: SYSTEM.into(),
            previous_id: None,
            shadow: None,
        });
        let mut log: Vec<PolicyChange> = Vec::new();
        let mut loaded = HashMap::new();

        let active = match startup {
            Some(file) => {
                let (policy, budget) = super::budget::load_budgeted(&engine, &file.bytes, Default::default(), &ceiling).map_err(|e| {
                    anyhow::anyhow!("refusing to start: the policy {} cannot be used: {e}", file.path.display())
                })?;
                let by = "serve --policy";
                let id = if policy.sha256() == builtin.0.sha256 {
                    BUILTIN.to_string()
                } else {
                    // Signed as this host requires, or no start: the operator named this file.
                    let refuse = |e: crate::error::Error| anyhow::anyhow!("refusing to start: the policy {} cannot be used: {e}", file.path.display());
                    signed::check_sent(&trust, policy.sha256(), &file.signatures).map_err(refuse)?;
                    signed::admit_new(&trust, &*store, policy.label(), policy.sha256(), &file.signatures).map_err(refuse)?;
                    let version = store_version(&*store, &policy, &file.bytes, budget, by, &now)?.version;
                    if !file.signatures.is_empty() {
                        signed::keep(&*store, &version, &file.signatures, by)?;
                    }
                    version.id
                };
                if state.active_id != id {
                    state = PolicyState {
                        previous_id: Some(state.active_id.clone()),
                        active_id: id.clone(),
                        active_since: now.clone(),
                        activated_by: by.into(),
                        shadow: state.shadow.clone(),
                    };
                    log.push(change(&now, by, "startup", &id, &file.path.display().to_string()));
                }
                let policy = Arc::new(policy);
                if id != BUILTIN {
                    loaded.insert(id.clone(), policy.clone());
                }
                policy
            }
            None if state.active_id == BUILTIN => builtin.1.clone(),
            None => match admitted(&trust, &*store, &state.active_id).and_then(|()| load_stored(&engine, &*store, &state.active_id)) {
                Ok(policy) => {
                    loaded.insert(state.active_id.clone(), policy.clone());
                    policy
                }
                Err(e) => {
                    // The builtin is always usable; the failed version stays the
                    // rollback target so the operator sees what happened.
                    tracing::error!(policy = %state.active_id, error = %e, "the active policy cannot be loaded; falling back to the builtin");
                    log.push(change(&now, SYSTEM, "fallback", BUILTIN, &format!("{} cannot be loaded: {e}", state.active_id)));
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
            let candidate = if id == BUILTIN {
                Ok(builtin.1.clone())
            } else {
                admitted(&trust, &*store, &id).and_then(|()| load_stored(&engine, &*store, &id))
            };
            match candidate {
                Ok(policy) => {
                    let version = match id.as_str() {
                        BUILTIN => builtin.0.clone(),
                        _ => store.policy(&id)?.map(Version::from).context("shadow version vanished")?,
                    };
                    loaded.insert(id.clone(), policy.clone());
                    shadow = Some(Arc::new(ShadowSession::new(version, policy, since, by)));
                }
                Err(e) => {
                    tracing::warn!(policy = %id, error = %e, "the shadow candidate cannot be loaded; shadowing stopped");
                    log.push(change(&now, SYSTEM, "shadow-stop", &id, &format!("cannot be loaded: {e}")));
                    state.shadow = None;
                }
            }
        }

        if stored.as_ref() != Some(&state) {
            store.set_policy_state(&state, &log)?;
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
        let registry = Arc::new(Registry {
            engine,
            store,
            metrics,
            slots,
            cache_dir,
            builtin,
            ops: Mutex::new(loaded),
            state: ArcSwap::from_pointee(state),
            board,
            shadow_tx,
            trust,
            signed: Default::default(),
            ceiling,
        });
        registry.note_signers();
        Ok(registry)
    }

}

/// Is the stored version `id` signed as this host requires? (`Stored::Refused`
/// carries no trust error, so a refusal is a database-kind error with its words.)
fn admitted(trust: &crate::trust::Trust, store: &dyn Store, id: &str) -> std::result::Result<(), Stored> {
    if !trust.required {
        return Ok(());
    }
    let version: Version = store.policy(id).map_err(|e| Stored::Db(e.into()))?.ok_or(Stored::Missing)?.into();
    signed::admit(trust, store, &version).map(|_| ()).map_err(Stored::Db)
}
