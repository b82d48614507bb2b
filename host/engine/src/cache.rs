//! Compile a component, or load it precompiled from the cache dir.
//!
//! A precompiled artifact is native code: deserializing one runs it outside the
//! sandbox. So an artifact is used only if its sha256 is the one the
//! [`ArtifactLedger`] recorded when this engine wrote it; anything else in the cache
//! dir (a tampered file, another component's artifact renamed) is compiled anew from
//! the component, and the mismatch logged.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use wasmtime::component::Component;

use super::load::LoadError;

/// Where the digests of written artifacts are kept: somewhere whoever can write the
/// cache dir cannot (the server keeps them in its database). Keyed by the
/// component's sha256 and the engine's compatibility hash.
pub trait ArtifactLedger: Send + Sync {
    /// The sha256 (hex) recorded for this component's artifact, if any.
    fn recorded(&self, component_sha256: &str, engine: &str) -> Option<String>;
    /// Record the sha256 of an artifact just written.
    fn record(&self, component_sha256: &str, engine: &str, artifact_sha256: &str);
}

/// A ledger in memory: artifacts written by this process are trusted, anything
/// found on disk from before is compiled again (the default with a cache dir).
#[derive(Default)]
pub struct MemoryLedger(Mutex<HashMap<(String, String), String>>);

impl ArtifactLedger for MemoryLedger {
    fn recorded(&self, component_sha256: &str, engine: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(component_sha256.to_string(), engine.to_string())).cloned()
    }

    fn record(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((component_sha256.to_string(), engine.to_string()), artifact_sha256.to_string());
    }
}

/// How many components this engine compiled, how many it took precompiled from its
/// cache dir instead, and how many cached artifacts it refused (digest mismatch).
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub compiled: AtomicU64,
    pub from_cache: AtomicU64,
    pub refused: AtomicU64,
}

/// [`Counts`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compilations {
    pub compiled: u64,
    pub from_cache: u64,
    /// Artifacts in the cache dir whose digest was not the recorded one.
    pub refused: u64,
}

impl Counts {
    pub(super) fn get(&self) -> Compilations {
        Compilations {
            compiled: self.compiled.load(Relaxed),
            from_cache: self.from_cache.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }
}

/// The cache dir and the ledger that vouches for what is in it.
#[derive(Clone)]
pub(super) struct Cache {
    pub dir: PathBuf,
    pub ledger: Arc<dyn ArtifactLedger>,
}

pub(super) fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    sha256: &str,
    cache: Option<&Cache>,
    counts: &Counts,
) -> Result<Component, LoadError> {
    let compile = || {
        counts.compiled.fetch_add(1, Relaxed);
        Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))
    };
    let Some(cache) = cache else {
        return compile();
    };
    // The compatibility hash changes with the wasmtime version and config:
    // an artifact from another build is simply not found.
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_id = format!("{:016x}", hasher.finish());
    let path = cache.dir.join(format!("{sha256}-{engine_id}.cwasm"));
    // Read into memory, not mapped: a file truncated or rewritten in place under a
    // running server would fault a mapping (SIGBUS), never a copy.
    if let Ok(artifact) = std::fs::read(&path) {
        let digest = hex::encode(Sha256::digest(&artifact));
        if cache.ledger.recorded(sha256, &engine_id).as_deref() == Some(digest.as_str()) {
            // SAFETY: the bytes are exactly what `Component::serialize` of this
            // engine configuration wrote (the ledger's digest says so).
            if let Ok(component) = unsafe { Component::deserialize(engine, &artifact) } {
                counts.from_cache.fetch_add(1, Relaxed);
                return Ok(component);
            }
        } else {
            counts.refused.fetch_add(1, Relaxed);
            tracing::warn!(
                artifact = %path.display(),
                component = %sha256,
                "a cached compiled policy does not match the digest recorded when it was written; compiling it again instead"
            );
        }
    }
    let component = compile()?;
    // Best effort: a cache that cannot be written only costs a compile later.
    if let Ok(artifact) = component.serialize()
        && write_atomically(&cache.dir, &path, &artifact).is_ok()
    {
        cache.ledger.record(sha256, &engine_id, &hex::encode(Sha256::digest(&artifact)));
    }
    Ok(component)
}

/// Write to a temp file of this writer's own and rename, so a concurrent reader
/// never deserializes half an artifact and two writers never share a temp file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp.{}.{}", std::process::id(), NEXT.fetch_add(1, Relaxed)));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
