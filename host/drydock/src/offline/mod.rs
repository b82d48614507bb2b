//! `drydock policy test|eval|inspect|bench|build`: a policy on its own, with the
//! server's engine, limits, route table and admin floor, but no server and no
//! database.

mod bench;
mod build;
pub mod cases;
mod eval;
mod inspect;
mod new;
pub mod polyglot;
pub mod sign;
mod test;

use anyhow::Context;
use clap::Subcommand;
use drydock_engine::{self as engine, Engine, Limits, Policy};

#[derive(Debug, Subcommand)]
pub enum Offline {
    /// Run a policy against case tables (YAML or JSON) and report pass/fail.
    #[command(after_help = "Example:\n  drydock policy test builtin:default policy-wasm/default/cases/*.yaml\n\n\
        POLICY is a .wasm component file, or builtin:default / builtin:strict.\n\
        Exit code: 0 when every case passes, 1 when any fails, 2 on a bad case file.")]
    Test(test::TestArgs),
    /// Ask a policy about one request and print its decision.
    #[command(after_help = "Example:\n  drydock policy eval builtin:default --state activating --executions 2 \\\n    --method POST --path /api/v3.1/executions")]
    Eval(eval::EvalArgs),
    /// Show what a component is: name, version, sha256, size, world, imports.
    #[command(after_help = "Example:\n  drydock policy inspect target/my_policy.wasm")]
    Inspect(inspect::InspectArgs),
    /// Start a policy: Cloudify's default rules in Rust, Python or JavaScript, with
    /// their case tables.
    #[command(after_help = "Examples:\n  drydock policy new my-policy --lang python\n  drydock policy build my-policy && drydock policy test my-policy.wasm my-policy/cases/*.yaml")]
    New(new::NewArgs),
    /// Build a policy (a Rust crate, Python or JavaScript) into a component (.wasm) that imports nothing.
    #[command(after_help = "Example:\n  drydock policy build policy-wasm/my-policy -o my-policy.wasm\n\n\
        Runs `cargo build --target wasm32-unknown-unknown --release` on the crate (a cdylib\n\
        using drydock-policy-sdk), turns the module into a component, and checks that this\n\
        host can load it.")]
    Build(build::BuildArgs),
    /// Measure decisions per second and latency percentiles through the real engine.
    #[command(after_help = "Example:\n  drydock policy bench builtin:default policy-wasm/default/cases/activating.yaml")]
    Bench(bench::BenchArgs),
    /// Make an Ed25519 key pair for signing policies (NAME, mode 0600, and NAME.pub).
    #[command(after_help = "Example:\n  drydock policy keygen -o ~/.drydock/alice\n  # then give alice.pub to the servers: drydock serve --trusted-keys DIR --require-signed")]
    Keygen(sign::KeygenArgs),
    /// Sign a component: adds this key's signature over its sha256 to FILE.sig.
    #[command(after_help = "Example:\n  drydock policy sign my.wasm --key ~/.drydock/alice\n  drydock policy sign my.wasm --key ~/.drydock/bob      # a second signer, same my.wasm.sig")]
    Sign(sign::SignArgs),
    /// Check a component's signatures against trusted keys, offline (exit 1 if not enough).
    #[command(after_help = "Example:\n  drydock policy verify my.wasm --trusted-keys /etc/drydock/keys --min-signers 2")]
    Verify(sign::VerifyArgs),
}

pub fn run(cmd: Offline) -> anyhow::Result<i32> {
    match cmd {
        Offline::Test(a) => test::run(a),
        Offline::Eval(a) => eval::run(a),
        Offline::Inspect(a) => inspect::run(a),
        Offline::Bench(a) => bench::run(a),
        Offline::Build(a) => build::run(a),
        Offline::New(a) => new::run(a),
        Offline::Keygen(a) => sign::keygen(a),
        Offline::Sign(a) => sign::sign(a),
        Offline::Verify(a) => sign::verify(a),
    }
}

/// The bytes of `builtin:default`, `builtin:strict`, or a file.
pub fn policy_bytes(spec: &str) -> anyhow::Result<Vec<u8>> {
    match spec {
        "builtin:default" => Ok(engine::DEFAULT_POLICY.to_vec()),
        "builtin:strict" => Ok(engine::STRICT_POLICY.to_vec()),
        path => std::fs::read(path).with_context(|| format!("cannot read policy {path}")),
    }
}

/// Loaded as a server with its default flags would run it: under the budget an
/// upload would give it (what it needs at start, within the default maxima).
pub fn load(spec: &str) -> anyhow::Result<Policy> {
    let bytes = policy_bytes(spec)?;
    load_bytes(&bytes).map_err(|e| anyhow::anyhow!("{spec} cannot be used as a policy: {e}"))
}

/// [`load`] of bytes at hand.
pub fn load_bytes(bytes: &[u8]) -> Result<Policy, drydock_server::error::Error> {
    let engine = Engine::new(Limits::default()).map_err(|e| drydock_server::error::Error::Internal(e.into()))?;
    let engine = match polyglot::tools_dir() {
        Ok(tools) if std::fs::create_dir_all(tools.join("artifacts")).is_ok() => {
            let dir = tools.join("artifacts");
            engine.with_cache(dir.clone(), std::sync::Arc::new(FileLedger(dir.join("ledger"))))
        }
        _ => engine,
    };
    let ceiling = drydock_server::registry::budget::Ceiling::default();
    drydock_server::registry::budget::load_budgeted(&engine, bytes, Default::default(), &ceiling).map(|(p, _)| p)
}


/// The offline commands' compiled artifacts are kept beside the tools
/// (`DRYDOCK_TOOLS_DIR/artifacts`), so `policy test` after `policy build` does not
/// compile a Python component again (half a minute). Each artifact is used only if
/// its digest is the one this ledger recorded when it was written; the ledger is
/// trusted as much as the tools in the same folder, which `policy build` runs (a
/// user's own cache). The server keeps its own, with the database as its ledger.
struct FileLedger(std::path::PathBuf);

impl engine::ArtifactLedger for FileLedger {
    fn recorded(&self, component_sha256: &str, engine: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        text.lines()
            .rev()
            .filter_map(|l| {
                let mut w = l.split(' ');
                Some((w.next()?, w.next()?, w.next()?))
            })
            .find(|(c, e, _)| *c == component_sha256 && *e == engine)
            .map(|(_, _, digest)| digest.to_string())
    }

    fn record(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) {
        use std::io::Write;
        // One short line per append: concurrent writers do not interleave within it.
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&self.0) {
            let _ = f.write_all(format!("{component_sha256} {engine} {artifact_sha256}\n").as_bytes());
        }
    }
}
