//! Compile a component, or load it precompiled from the cache dir.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use wasmtime::component::Component;

use super::load::LoadError;

/// How many components this engine compiled, and how many it took precompiled from
/// its cache dir instead.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub compiled: AtomicU64,
    pub from_cache: AtomicU64,
}

/// [`Counts`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compilations {
    pub compiled: u64,
    pub from_cache: u64,
}

impl Counts {
    pub(super) fn get(&self) -> Compilations {
        Compilations { compiled: self.compiled.load(Relaxed), from_cache: self.from_cache.load(Relaxed) }
    }
}

pub(super) fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
    counts: &Counts,
) -> Result<Component, LoadError> {
    let compile = || {
        counts.compiled.fetch_add(1, Relaxed);
        Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))
    };
    let Some(dir) = cache_dir else {
        return compile();
    };
    // The compatibility hash changes with the wasmtime version and config:
    // an artifact from another build is simply not found.
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let path = dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()));
    // Read into memory, not mapped: a file truncated or rewritten in place under a
    // running server would fault a mapping (SIGBUS), never a copy.
    if let Ok(artifact) = std::fs::read(&path) {
        // SAFETY: only this function writes into the cache dir, from
        // `Component::serialize` of the same engine configuration.
        if let Ok(component) = unsafe { Component::deserialize(engine, &artifact) } {
            counts.from_cache.fetch_add(1, Relaxed);
            return Ok(component);
        }
    }
    let component = compile()?;
    // Best effort: a cache that cannot be written only costs a compile later.
    if let Ok(artifact) = component.serialize() {
        let _ = write_atomically(dir, &path, &artifact);
    }
    Ok(component)
}

/// Write to a temp file and rename, so a concurrent reader never
/// deserializes half an artifact.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
