//! Look inside a component without loading it as a policy (for
//! `drydock policy inspect`), and the import rule that `load` enforces.

use wasmtime::component::{Component, Linker};

use super::load::{self, LoadError};
use super::{Error, runtime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub sha256: String,
    pub size: usize,
    /// Everything the component imports: must be nothing.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// Why it is not a drydock policy, if it is not one.
    pub world_error: Option<String>,
    /// The contract it was built for (`1.0.0` or `2.0.0`), if it is a policy.
    pub contract: Option<&'static str>,
}

impl Inspection {
    /// Imports nothing and exports the `drydock:policy/policy` world.
    pub fn world_ok(&self) -> bool {
        self.world_error.is_none()
    }
}

pub fn inspect(bytes: &[u8]) -> Result<Inspection, Error> {
    load::check_header(bytes)?;
    let engine = wasmtime::Engine::new(&runtime::config()).map_err(|e| Error::Setup(format!("{e:#}")))?;
    let component = Component::new(&engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    let imports = imports(&engine, &component);
    let exports = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let (contract, world_error) = if imports.is_empty() {
        match load::world(&Linker::new(&engine), &component) {
            Ok(pre) => (Some(pre.contract()), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, Some(LoadError::Imports(imports.clone()).to_string()))
    };
    Ok(Inspection {
        sha256: load::sha256_hex(bytes),
        size: bytes.len(),
        imports,
        exports,
        world_error,
        contract,
    })
}

/// Every import, by name. A policy may have none: not a function, not a
/// resource, not even a type (the world defines its own types, so a component
/// built from it imports nothing at all).
pub(super) fn imports(engine: &wasmtime::Engine, component: &Component) -> Vec<String> {
    component.component_type().imports(engine).map(|(name, _)| name.to_owned()).collect()
}
