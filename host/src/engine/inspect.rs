//! Look inside a component without loading it as a policy (for
//! `drydock policy inspect`), and the import rule that `load` enforces.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use super::load::{self, LoadError};
use super::runtime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub sha256: String,
    pub size: usize,
    /// Imports that would give the policy something to call: must be none.
    pub imports: Vec<String>,
    /// Imports of type names only (e.g. `drydock:policy/types@1.0.0`, which
    /// every policy has: the world `use`s its records). They grant nothing.
    pub type_imports: Vec<String>,
    pub exports: Vec<String>,
    /// Why it is not a drydock policy, if it is not one.
    pub world_error: Option<String>,
}

impl Inspection {
    /// Imports nothing callable and exports the `drydock:policy/policy` world.
    pub fn world_ok(&self) -> bool {
        self.world_error.is_none()
    }
}

pub fn inspect(bytes: &[u8]) -> anyhow::Result<Inspection> {
    load::check_header(bytes)?;
    let engine = wasmtime::Engine::new(&runtime::config())?;
    let component = Component::new(&engine, bytes)?;
    let (imports, type_imports) = imports(&engine, &component);
    let exports = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let world_error = if imports.is_empty() {
        load::world(&Linker::new(&engine), &component)
            .err()
            .map(|e| e.to_string())
    } else {
        Some(LoadError::Imports(imports.clone()).to_string())
    };
    Ok(Inspection {
        sha256: load::sha256_hex(bytes),
        size: bytes.len(),
        imports,
        type_imports,
        exports,
        world_error,
    })
}

/// (capability imports, type-only imports), by name. A component naming a
/// record type imports it (`eq`-bounded), and a world that `use`s an
/// interface's types imports that interface as an instance of types only;
/// neither can be called, so neither counts against "a policy imports
/// nothing". Functions, modules, components and resources do.
pub(super) fn imports(
    engine: &wasmtime::Engine,
    component: &Component,
) -> (Vec<String>, Vec<String>) {
    let (mut callable, mut types) = (vec![], vec![]);
    for (name, item) in component.component_type().imports(engine) {
        if types_only(engine, &item.ty) {
            &mut types
        } else {
            &mut callable
        }
        .push(name.to_owned());
    }
    (callable, types)
}

fn types_only(engine: &wasmtime::Engine, item: &ComponentItem) -> bool {
    match item {
        ComponentItem::Type(_) => true,
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .all(|(_, item)| types_only(engine, &item.ty)),
        _ => false,
    }
}
