//! Builds the bundled policies (`policy-wasm/default`, `policy-wasm/strict`)
//! for wasm32-unknown-unknown, turns each core module into a component, and
//! leaves them in OUT_DIR for `engine::{DEFAULT_POLICY, STRICT_POLICY}`.
//!
//! The nested cargo uses its own target dirs (`<target>/wasm-guest/<package>`):
//! the outer build holds the lock on its own dir, and dirs outside OUT_DIR
//! keep the guest builds incremental across host rebuilds and profiles.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

const GUEST_TARGET: &str = "wasm32-unknown-unknown";

/// (package, artifact stem, file written to OUT_DIR)
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "drydock-policy-default",
        "drydock_policy_default",
        "cloudify-default.wasm",
    ),
    (
        "drydock-policy-strict",
        "drydock_policy_strict",
        "cloudify-strict.wasm",
    ),
];

fn main() -> Result<()> {
    let host = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = host
        .parent()
        .context("host crate has no parent dir")?
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for dir in ["wit", "policy-wasm", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-changed=src/engine/testdata");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| {
            if d.is_relative() {
                workspace.join(d)
            } else {
                d
            }
        })
        .unwrap_or_else(|| workspace.join("target"))
        .join("wasm-guest");

    ensure_guest_target()?;
    // One cargo run and target dir per policy: the strict policy links the
    // default's rules with its `component` feature off. In one run features
    // would unify (exporting `decide` twice); in one dir the two builds of the
    // default cdylib would overwrite each other and rebuild every time.
    for (package, stem, file) in POLICIES {
        let target_dir = target_dir.join(package);
        cargo_build(&workspace, &target_dir, package)?;
        let module = target_dir
            .join(GUEST_TARGET)
            .join("wasm-guest")
            .join(format!("{stem}.wasm"));
        let module =
            std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)?
            .validate(true)
            .encode()
            .with_context(|| format!("componentizing {package}"))?;
        std::fs::write(out_dir.join(file), component)?;
    }

    fixtures(&workspace, &out_dir)
}

/// A fresh machine may lack the guest target's std; rustup can add it.
fn ensure_guest_target() -> Result<()> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output()?;
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout)?.trim());
    if sysroot.join("lib/rustlib").join(GUEST_TARGET).exists() {
        return Ok(());
    }
    let added = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .stdout(Stdio::null())
        .status();
    match added {
        Ok(s) if s.success() => Ok(()),
        _ => bail!(
            "the {GUEST_TARGET} target is missing and `rustup target add {GUEST_TARGET}` failed"
        ),
    }
}

fn cargo_build(workspace: &Path, target_dir: &Path, package: &str) -> Result<()> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--package",
            package,
            "--target",
            GUEST_TARGET,
        ])
        .args(["--profile", "wasm-guest", "--target-dir"])
        .arg(target_dir)
        // Never let the nested build's output reach stdout: cargo reads
        // `cargo:` directives there.
        .stdout(Stdio::null());
    // Flags meant for the host (e.g. `-C target-cpu=native`, a coverage
    // wrapper, clippy) break or slow the guest; the outer jobserver and target
    // settings are not the nested build's either.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running cargo to build {package}"))?;
    if !status.success() {
        bail!("building policy {package} for {GUEST_TARGET} failed ({status})");
    }
    Ok(())
}

/// Test fixtures: each `src/engine/testdata/<name>.wat` becomes
/// `OUT_DIR/testdata/<name>.wasm`. A core module there is a hand-written
/// policy: it gets the policy world embedded and is componentized, so the
/// engine's fault handling is tested against a real component.
fn fixtures(workspace: &Path, out_dir: &Path) -> Result<()> {
    let dir = workspace.join("host/src/engine/testdata");
    let out = out_dir.join("testdata");
    std::fs::create_dir_all(&out)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wat") {
            continue;
        }
        let mut wasm = wat::parse_file(&path)?;
        if wasm.get(4..8) == Some(&[1, 0, 0, 0]) {
            let mut resolve = wit_parser::Resolve::default();
            let (package, _) = resolve.push_dir(workspace.join("wit"))?;
            let world = resolve.select_world(&[package], Some("policy"))?;
            wit_component::embed_component_metadata(
                &mut wasm,
                &resolve,
                world,
                wit_component::StringEncoding::UTF8,
                false,
            )?;
            wasm = wit_component::ComponentEncoder::default()
                .module(&wasm)?
                .validate(true)
                .encode()?;
        }
        let name = path.file_stem().context("fixture without a name")?;
        std::fs::write(out.join(name).with_extension("wasm"), wasm)?;
    }
    Ok(())
}
