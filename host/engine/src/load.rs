//! Loading a policy: everything that can fail, fails here, before the policy
//! may decide anything.

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::types::ExecutionStatus;
use crate::types::{Caller, ExecutionCounts, RequestDescriptor, Role, Snapshot};
use crate::types::MaintenanceState;

use super::bindings::{v1, v2};
use super::policy::{Policy, Pre};
use super::runtime::Engine;
use super::{cache, inspect};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("a policy may import nothing callable, this one imports: {}", .0.join(", "))]
    Imports(Vec<String>),
    #[error("does not export the drydock:policy/policy world: {0}")]
    WrongWorld(String),
    #[error("does not compile: {0}")]
    Compile(String),
    #[error("smoke test failed on {case}: {reason}")]
    SmokeFailed { case: String, reason: String },
    #[error("cannot read the policy's name and version: {0}")]
    Metadata(String),
}

impl Engine {
    /// Validate, compile (or load precompiled), type-check, and smoke-test.
    pub fn load(&self, bytes: &[u8]) -> Result<Policy, LoadError> {
        self.load_within(bytes, &self.shared.limits)
    }

    /// [`Engine::load`] with this version's own limits (its memory and deadline
    /// budget) instead of the engine's.
    pub fn load_within(&self, bytes: &[u8], limits: &crate::Limits) -> Result<Policy, LoadError> {
        check_header(bytes)?;
        // Before the compilation (half a minute for a Python component): what it imports.
        let imports = top_level_imports(bytes);
        if !imports.is_empty() {
            return Err(LoadError::Imports(imports));
        }
        let sha256 = sha256_hex(bytes);
        let engine = &self.shared.wasmtime;
        let component = cache::compile(engine, bytes, &sha256, self.cache.as_ref(), &self.shared.compilations)?;
        let imports = inspect::imports(engine, &component);
        if !imports.is_empty() {
            return Err(LoadError::Imports(imports));
        }
        let pre = world(&self.shared.linker, &component)?;
        let policy = Policy::new(pre, sha256, bytes.len(), limits, self.shared.ticker.clone())?;
        smoke(&policy)?;
        Ok(policy)
    }
}

/// The exports, type-checked against either contract's world (2.0.0 first; when
/// neither fits, names the missing or mistyped export against both).
pub(super) fn world(
    linker: &wasmtime::component::Linker<super::limits::StoreState>,
    component: &Component,
) -> Result<Pre, LoadError> {
    let wrong = |e: wasmtime::Error| LoadError::WrongWorld(format!("{e:#}"));
    let pre = linker.instantiate_pre(component).map_err(wrong)?;
    let v2 = match v2::PolicyPre::new(pre.clone()) {
        Ok(pre) => return Ok(Pre::V2(pre)),
        Err(e) => e,
    };
    match v1::PolicyPre::new(pre) {
        Ok(pre) => Ok(Pre::V1(pre)),
        Err(v1) => Err(LoadError::WrongWorld(format!(
            "as drydock:policy@2.0.0: {v2:#}; as drydock:policy@1.0.0: {v1:#}"
        ))),
    }
}

/// Tell a component from a core module or from anything else before handing
/// the bytes to the compiler, whose errors would be less to the point.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    let not = |why: String| Err(LoadError::NotAComponent(why));
    match bytes.get(..8) {
        Some(h) if &h[..4] == MAGIC && h[4..] == [0x0d, 0, 1, 0] => Ok(()),
        Some(h) if &h[..4] == MAGIC && h[4..] == [1, 0, 0, 0] => {
            not("this is a core wasm module; a policy is a component (componentize it with wit-component or `wasm-tools component new`)".into())
        }
        Some(h) if &h[..4] == MAGIC => not(format!("unknown wasm version/layer {:02x?}", &h[4..])),
        _ => not(format!("no wasm magic number at the start of these {} bytes", bytes.len())),
    }
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Each state × a few route classes × a bypassing admin and a plain user,
/// through the real hot path: any fault or garbage answer refuses the policy.
pub(super) fn smoke(policy: &Policy) -> Result<(), LoadError> {
    const ROUTES: [(&str, &str); 5] = [
        ("GET", "status"),
        ("GET", "executions"),
        ("POST", "executions"),
        ("PUT", "deployments/{id}"),
        ("POST", "snapshots/{id}/restore"),
    ];
    for state in [
        MaintenanceState::Deactivated,
        MaintenanceState::Activating,
        MaintenanceState::Activated,
    ] {
        let running = if state == MaintenanceState::Activating {
            vec![(ExecutionStatus::Started, 1)]
        } else {
            vec![]
        };
        let snap = Snapshot { facts: Vec::new(),
            state,
            executions: ExecutionCounts { by_status: running },
        };
        for (method, route) in ROUTES {
            for (role, bypass) in [(Role::SysAdmin, true), (Role::User, false)] {
                let req = smoke_request(method, route, role, bypass);
                policy
                    .decide(&req, &snap)
                    .map_err(|fault| LoadError::SmokeFailed {
                        case: format!(
                            "{method} {route} as {} ({})",
                            req.caller.role.as_str(),
                            state.as_str()
                        ),
                        reason: fault.to_string(),
                    })?;
            }
        }
    }
    Ok(())
}

fn smoke_request(method: &str, route: &str, role: Role, bypass: bool) -> RequestDescriptor {
    RequestDescriptor {
        method: method.into(),
        path: format!("/api/v3.1/{}", route.replace("{id}", "smoke")),
        route: route.into(),
        first_segment: route.split('/').next().unwrap_or_default().into(),
        caller: Caller {
            username: "smoke".into(),
            role,
            bypass,
        },
        attributes: vec![],
    }
}

/// The names a component's top level imports, read without compiling (nested
/// modules' and components' own imports are satisfied inside it). A component the
/// parser cannot read is left to the compiler, which says why.
fn top_level_imports(bytes: &[u8]) -> Vec<String> {
    let mut depth = 0usize;
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::Version { .. }) => depth += 1,
            Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(wasmparser::Payload::ComponentImportSection(reader)) if depth == 1 => {
                // A type import is no runtime import (wasmtime lists it not either).
                let real = |i: &wasmparser::ComponentImport<'_>| !matches!(i.ty, wasmparser::ComponentTypeRef::Type(_));
                names.extend(reader.into_iter().flatten().filter(real).map(|i| i.name.name.to_string()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    names
}
