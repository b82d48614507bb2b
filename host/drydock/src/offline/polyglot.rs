//! Python and JavaScript policies: built by the Bytecode Alliance's componentizers
//! against drydock's contract 1.0.0 (a record of strings, no packing helper
//! needed), with every WASI import stubbed out or left out, so the component
//! imports nothing. The tools come from PyPI and npm into a cache of drydock's own
//! on first use (`DRYDOCK_TOOLS_DIR`, else `~/.cache/drydock/tools`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The contract the componentizers build against: the 1.0.0 world, embedded.
const CONTRACT: &str = include_str!("../../../../wit/policy.wit");
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The language of the policy in `dir`, from what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    #[value(alias = "javascript")]
    Js,
}

impl Lang {
    pub fn detect(dir: &Path) -> anyhow::Result<Lang> {
        if dir.join("Cargo.toml").is_file() {
            Ok(Lang::Rust)
        } else if dir.join("app.py").is_file() {
            Ok(Lang::Python)
        } else if dir.join("policy.js").is_file() {
            Ok(Lang::Js)
        } else {
            bail!("{} holds no Cargo.toml (Rust), app.py (Python) or policy.js (JavaScript): say which with --lang", dir.display())
        }
    }
}

/// Where the tools are kept.
pub(super) fn tools_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("DRYDOCK_TOOLS_DIR") {
        return Ok(PathBuf::from(d));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| dirs::home_dir().map(|h| h.join(".cache")));
    Ok(cache.context("no cache directory: set DRYDOCK_TOOLS_DIR")?.join("drydock").join("tools"))
}

/// Hold `home`'s lock while installing into it: two builds at once (two terminals,
/// two tests) must not install one tool over the other.
fn install_lock(home: &Path) -> anyhow::Result<std::fs::File> {
    let parent = home.parent().context("a tools folder has a parent")?;
    std::fs::create_dir_all(parent)?;
    let lock = std::fs::File::create(home.with_extension("lock"))?;
    lock.lock()?;
    Ok(lock)
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}):\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// componentize-py, installed into a virtualenv of its own on first use.
fn componentize_py() -> anyhow::Result<PathBuf> {
    let home = tools_dir()?.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let exe = home.join("bin").join("componentize-py");
    if exe.is_file() {
        return Ok(exe);
    }
    let _lock = install_lock(&home)?;
    if exe.is_file() {
        return Ok(exe);
    }
    eprintln!("Installing componentize-py {COMPONENTIZE_PY} from PyPI into {} (once)...", home.display());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(&home), &format!("{python} -m venv (is python3-venv installed?)"))?;
    run(
        Command::new(home.join("bin").join("pip")).args(["install", "--quiet", "--disable-pip-version-check", &format!("componentize-py=={COMPONENTIZE_PY}")]),
        "pip install componentize-py",
    )?;
    Ok(exe)
}

/// componentize-js, installed with npm into a folder of its own on first use.
fn componentize_js() -> anyhow::Result<PathBuf> {
    let home = tools_dir()?.join(format!("componentize-js-{COMPONENTIZE_JS}"));
    let exe = home.join("node_modules").join(".bin").join("componentize-js");
    if exe.is_file() {
        return Ok(exe);
    }
    let _lock = install_lock(&home)?;
    if exe.is_file() {
        return Ok(exe);
    }
    eprintln!("Installing @bytecodealliance/componentize-js {COMPONENTIZE_JS} from npm into {} (once)...", home.display());
    std::fs::create_dir_all(&home)?;
    run(
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&home)
            .arg(format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS}")),
        "npm install @bytecodealliance/componentize-js (is npm installed?)",
    )?;
    Ok(exe)
}

/// The contract, written where a componentizer reads it.
fn contract_dir() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("policy.wit"), CONTRACT)?;
    Ok(dir)
}

/// Build `dir/app.py` (module `app`, defining `WitWorld`) into a component.
pub fn build_python(dir: &Path, out: &Path) -> anyhow::Result<Vec<u8>> {
    let dir = &std::path::absolute(dir)?;
    let tool = componentize_py()?;
    let wit = contract_dir()?;
    eprintln!("Building {} with componentize-py {COMPONENTIZE_PY} (every WASI import stubbed)...", dir.join("app.py").display());
    run(
        Command::new(&tool)
            .arg("-d")
            .arg(wit.path())
            .args(["-w", "policy", "componentize", "--stub-wasi", "-p"])
            .arg(dir)
            .arg("app")
            .arg("-o")
            .arg(out)
            .current_dir(dir),
        "componentize-py",
    )?;
    std::fs::read(out).with_context(|| format!("componentize-py wrote no {}", out.display()))
}

/// Build `dir/policy.js` (exporting `name`, `version`, `decide`) into a component.
pub fn build_js(dir: &Path, out: &Path) -> anyhow::Result<Vec<u8>> {
    let dir = &std::path::absolute(dir)?;
    let tool = componentize_js()?;
    let wit = contract_dir()?;
    eprintln!("Building {} with componentize-js {COMPONENTIZE_JS} (no WASI features)...", dir.join("policy.js").display());
    run(
        Command::new(&tool)
            .arg("--wit")
            .arg(wit.path().join("policy.wit"))
            .args(["--world-name", "policy", "-d", "stdio", "random", "clocks", "http", "fetch-event", "-o"])
            .arg(out)
            .arg(dir.join("policy.js"))
            .current_dir(dir),
        "componentize-js",
    )?;
    std::fs::read(out).with_context(|| format!("componentize-js wrote no {}", out.display()))
}
