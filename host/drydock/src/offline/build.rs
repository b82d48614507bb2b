//! `drydock policy build`: a policy crate to a checked component, by the one recipe
//! that also built the embedded policies (`policy-wasm/builtin/`), so building
//! `policy-wasm/default` here gives the bytes of `builtin:default`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The policy's directory: a Rust crate (Cargo.toml), Python (app.py) or
    /// JavaScript (policy.js).
    pub dir: PathBuf,
    /// Where to write the component (default: <package or directory name>.wasm here).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The policy's language (default: told by the files in DIR).
    #[arg(long, value_enum)]
    pub lang: Option<super::polyglot::Lang>,
}

const GUEST_TARGET: &str = "wasm32-unknown-unknown";

pub fn run(args: BuildArgs) -> anyhow::Result<i32> {
    use super::polyglot::{Lang, build_js, build_python};
    let lang = match args.lang {
        Some(l) => l,
        None => Lang::detect(&args.dir)?,
    };
    let dir_name = || {
        std::fs::canonicalize(&args.dir).ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_else(|| "policy".into())
    };
    let (out, component) = match lang {
        Lang::Rust => {
            let (name, component) = build(&args.dir)?;
            let out = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.wasm")));
            std::fs::write(&out, &component).with_context(|| format!("cannot write {}", out.display()))?;
            (out, component)
        }
        Lang::Python | Lang::Js => {
            let out = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.wasm", dir_name())));
            let out = std::path::absolute(&out)?;
            let component = if lang == Lang::Python { build_python(&args.dir, &out)? } else { build_js(&args.dir, &out)? };
            let imports = drydock_engine::inspect(&component)?.imports;
            if !imports.is_empty() {
                bail!("built {}, but it imports {}: a policy imports nothing", out.display(), imports.join(", "));
            }
            eprintln!("Checking it as an upload is checked (the first compile takes a while)...");
            (out, component)
        }
    };
    let policy = super::load_bytes(&component)
        .map_err(|e| anyhow::anyhow!("built {}, but it cannot be used as a policy: {e}", out.display()))?;
    println!("Built {} ({} bytes): {}", out.display(), component.len(), policy.label());
    Ok(0)
}

/// The crate in `dir`, built for the guest target and componentized: its package
/// name and the component's bytes.
///
/// Reproducible: the crate builds alone in a target dir of its own (another
/// policy's features never unify with its), with the small-guest settings given to
/// the release profile from the environment (so any crate builds the same way,
/// in this workspace or not), and with the workspace and cargo's registry
/// remapped out of every path the compiler records.
pub fn build(dir: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let manifest = dir.join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !meta.status.success() {
        bail!("{} is not a cargo crate: {}", dir.display(), String::from_utf8_lossy(&meta.stderr).trim());
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let manifest_abs = std::fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["manifest_path"].as_str().map(PathBuf::from) == Some(manifest_abs.clone())))
        .context("cargo metadata does not list the crate")?;
    let name = package["name"].as_str().context("package without a name")?.to_string();
    let workspace = PathBuf::from(meta["workspace_root"].as_str().context("no workspace root")?);
    let target_dir = PathBuf::from(meta["target_directory"].as_str().context("no target directory")?)
        .join("policy-build")
        .join(&name);

    ensure_guest_target()?;
    eprintln!("Building {name} for {GUEST_TARGET}...");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
        .context("cannot tell where cargo keeps its registry (set CARGO_HOME)")?;
    let rustflags = [
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/policy", workspace.display()),
    ]
    .join("\x1f");
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--quiet", "--release", "--target", GUEST_TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        // Fast, stripped guests (about 30 KB instead of 2 MB); panics abort. Speed,
        // not size: `opt-level = 3` decides the 960-request mix ~10 % faster than
        // `s` for 1.5 KB more (BENCHMARKS.md).
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .stdout(Stdio::null());
    // Settings meant for the host (a target-cpu, a coverage wrapper, clippy, another
    // target dir) would break the guest or change its bytes.
    for var in ["RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER", "RUSTC_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo build of {name} for {GUEST_TARGET} failed ({status})");
    }
    let module_path = target_dir.join(GUEST_TARGET).join("release").join(format!("{}.wasm", name.replace('-', "_")));
    let module = std::fs::read(&module_path)
        .with_context(|| format!("no module at {} (is the crate a cdylib?)", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
        .with_context(|| format!("{name} does not carry the drydock:policy world (does it call export_policy!?)"))?;
    Ok((name, component))
}

/// A fresh machine may lack the guest target's standard library; rustup adds it.
fn ensure_guest_target() -> anyhow::Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().with_context(|| format!("cannot run {rustc}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(GUEST_TARGET).exists() {
        return Ok(());
    }
    eprintln!("Adding the {GUEST_TARGET} target (rustup target add {GUEST_TARGET})...");
    match Command::new("rustup").args(["target", "add", GUEST_TARGET]).stdout(Stdio::null()).status() {
        Ok(s) if s.success() => Ok(()),
        _ => bail!("the {GUEST_TARGET} target is missing and `rustup target add {GUEST_TARGET}` failed; add it and retry"),
    }
}
