//! `drydock policy test|eval|inspect|bench`: a policy on its own, with the server's
//! engine, limits, route table and admin floor, but no server and no database.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::cases::{self, Case, CaseRequest, Expected};
use crate::engine::{self, Engine, Limits, Policy};
use crate::executions::ExecutionStatus;
use crate::gate::{FailMode, GateConfig};
use crate::maintenance::MaintenanceState;

#[derive(Debug, Subcommand)]
pub enum Offline {
    /// Run a policy against case tables (YAML or JSON) and report pass/fail.
    #[command(after_help = "Example:\n  drydock policy test builtin:default policy-wasm/default/cases/*.yaml\n\n\
        POLICY is a .wasm component file, or builtin:default / builtin:strict.\n\
        Exit code: 0 when every case passes, 1 when any fails, 2 on a bad case file.")]
    Test(TestArgs),
    /// Ask a policy about one request and print its decision.
    #[command(after_help = "Example:\n  drydock policy eval builtin:default --state activating --executions 2 \\\n    --method POST --path /api/v3.1/executions")]
    Eval(EvalArgs),
    /// Show what a component is: name, version, sha256, size, world, imports.
    #[command(after_help = "Example:\n  drydock policy inspect target/my_policy.wasm")]
    Inspect(InspectArgs),
    /// Build a policy crate into a component (.wasm) that imports nothing.
    #[command(after_help = "Example:\n  drydock policy build policy-wasm/my-policy -o my-policy.wasm\n\n\
        Runs `cargo build --target wasm32-unknown-unknown --release` on the crate (a cdylib\n\
        using drydock-policy-sdk), turns the module into a component, and checks that this\n\
        host can load it.")]
    Build(BuildArgs),
    /// Measure decisions per second and latency percentiles through the real engine.
    #[command(after_help = "Example:\n  drydock policy bench builtin:default policy-wasm/default/cases/activating.yaml")]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy: a component file, or builtin:default / builtin:strict.
    pub policy: String,
    /// Case files.
    #[arg(required = true)]
    pub cases: Vec<PathBuf>,
    /// Output: text for people, json for tools.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    pub policy: String,
    #[arg(long, default_value = "deactivated", value_parser = ["deactivated", "activating", "activated"])]
    pub state: String,
    /// Unfinished executions (counted as `started`).
    #[arg(long, default_value_t = 0)]
    pub executions: u32,
    #[arg(long, default_value = "GET")]
    pub method: String,
    #[arg(long)]
    pub path: String,
    /// Route template below the API version; resolved from --path if omitted.
    #[arg(long)]
    pub route: Option<String>,
    #[arg(long, default_value = "user")]
    pub user: String,
    #[arg(long, default_value = "user", value_parser = ["sys_admin", "user", "default"])]
    pub role: String,
    /// Send X-BYPASS-MAINTENANCE.
    #[arg(long)]
    pub bypass: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    pub policy: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The policy crate's directory (with its Cargo.toml).
    pub dir: PathBuf,
    /// Where to write the component (default: <package>.wasm here).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    pub policy: String,
    /// Case files whose requests make the workload (a built-in mix if none).
    pub cases: Vec<PathBuf>,
    /// Measured decisions.
    #[arg(long, default_value_t = 200_000)]
    pub iterations: u32,
    /// Decisions before measuring.
    #[arg(long, default_value_t = 20_000)]
    pub warmup: u32,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: Offline) -> anyhow::Result<i32> {
    match cmd {
        Offline::Test(a) => test(a),
        Offline::Eval(a) => eval(a),
        Offline::Inspect(a) => inspect(a),
        Offline::Bench(a) => bench(a),
        Offline::Build(a) => build(a),
    }
}

const GUEST_TARGET: &str = "wasm32-unknown-unknown";

fn build(args: BuildArgs) -> anyhow::Result<i32> {
    let manifest = args.dir.join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = std::process::Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !meta.status.success() {
        anyhow::bail!("{} is not a cargo crate: {}", args.dir.display(), String::from_utf8_lossy(&meta.stderr).trim());
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let manifest_abs = std::fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["manifest_path"].as_str().map(PathBuf::from) == Some(manifest_abs.clone())))
        .context("cargo metadata does not list the crate")?;
    let name = package["name"].as_str().context("package without a name")?.to_string();
    let target_dir = PathBuf::from(meta["target_directory"].as_str().context("no target directory")?);

    eprintln!("Building {name} for {GUEST_TARGET}...");
    let _ = std::process::Command::new("rustup").args(["target", "add", GUEST_TARGET]).output();
    let status = std::process::Command::new(&cargo)
        .args(["build", "--release", "--target", GUEST_TARGET, "--manifest-path"])
        .arg(&manifest)
        // Small, stripped guests (16 KB instead of 2 MB); panics abort.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .status()?;
    if !status.success() {
        anyhow::bail!("cargo build of {name} failed");
    }
    let module_path = target_dir.join(GUEST_TARGET).join("release").join(format!("{}.wasm", name.replace('-', "_")));
    let module = std::fs::read(&module_path)
        .with_context(|| format!("no module at {} (is the crate a cdylib?)", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
        .with_context(|| format!("{name} does not carry the drydock:policy world (does it call export_policy!?)"))?;
    let out = args.output.unwrap_or_else(|| PathBuf::from(format!("{name}.wasm")));
    std::fs::write(&out, &component).with_context(|| format!("cannot write {}", out.display()))?;
    let policy = Engine::new(Limits::default())?
        .load(&component)
        .map_err(|e| anyhow::anyhow!("built {}, but it cannot be used as a policy: {e}", out.display()))?;
    println!("Built {} ({} bytes): {}", out.display(), component.len(), policy.label());
    Ok(0)
}

/// The bytes of `builtin:default`, `builtin:strict`, or a file.
pub fn policy_bytes(spec: &str) -> anyhow::Result<Vec<u8>> {
    match spec {
        "builtin:default" => Ok(engine::DEFAULT_POLICY.to_vec()),
        "builtin:strict" => Ok(engine::STRICT_POLICY.to_vec()),
        path => std::fs::read(path).with_context(|| format!("cannot read policy {path}")),
    }
}

fn load(spec: &str) -> anyhow::Result<Policy> {
    let bytes = policy_bytes(spec)?;
    Engine::new(Limits::default())?
        .load(&bytes)
        .map_err(|e| anyhow::anyhow!("{spec} cannot be used as a policy: {e}"))
}

fn test(args: TestArgs) -> anyhow::Result<i32> {
    let mut files = Vec::new();
    for path in &args.cases {
        match cases::load(path) {
            Ok(c) => files.push((path.clone(), c)),
            Err(e) => {
                eprintln!("Error: {e}");
                return Ok(2);
            }
        }
    }
    let policy = load(&args.policy)?;
    let config = GateConfig::server(FailMode::Closed);
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut failures = Vec::new();
    for (path, list) in &files {
        for case in list {
            let actual = cases::evaluate(&policy, &config, case);
            if cases::matches(&case.expect, &actual) {
                passed += 1;
            } else {
                failed += 1;
                failures.push((path.display().to_string(), case.name.clone(), case.expect.clone(), actual));
            }
        }
    }
    if args.format == "json" {
        let out = json!({
            "policy": policy.label(),
            "passed": passed,
            "failed": failed,
            "failures": failures.iter().map(|(f, n, e, a)| json!({"file": f, "case": n, "expected": e, "actual": a})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("policy {}", policy.label());
        for (file, name, expected, actual) in &failures {
            println!("FAIL {file}: {name}\n     expected: {expected}\n     actual:   {actual}");
        }
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn eval(args: EvalArgs) -> anyhow::Result<i32> {
    let policy = load(&args.policy)?;
    let case = Case {
        name: "eval".into(),
        state: MaintenanceState::parse(&args.state).unwrap_or(MaintenanceState::Deactivated),
        executions: if args.executions > 0 {
            [(ExecutionStatus::Started, args.executions)].into_iter().collect()
        } else {
            Default::default()
        },
        request: CaseRequest {
            method: args.method,
            path: args.path,
            route: args.route,
            user: args.user,
            role: args.role,
            bypass: args.bypass,
        },
        expect: Expected::Allow,
    };
    let (desc, _) = case.descriptor();
    let actual = cases::evaluate(&policy, &GateConfig::server(FailMode::Closed), &case);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"policy": policy.label(), "route": desc.route, "decision": actual}))?);
    } else {
        println!("policy:   {}", policy.label());
        println!("request:  {} {} (route {}, first segment {})", desc.method, desc.path, desc.route, desc.first_segment);
        println!("decision: {actual}");
    }
    Ok(0)
}

fn inspect(args: InspectArgs) -> anyhow::Result<i32> {
    let bytes = policy_bytes(&args.policy)?;
    let info = engine::inspect(&bytes).with_context(|| format!("{} is not a WebAssembly component", args.policy))?;
    let loaded = Engine::new(Limits::default())?.load(&bytes);
    let (name, version, loadable) = match &loaded {
        Ok(p) => (p.name().to_string(), p.version().to_string(), "yes".to_string()),
        Err(e) => ("?".into(), "?".into(), format!("no: {e}")),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": name, "version": version, "sha256": info.sha256, "size": info.size,
                "exports": info.exports, "imports": info.imports,
                "world": "drydock:policy/policy@1.0.0", "world_ok": info.world_ok(),
                "loadable": loaded.is_ok(), "load_error": loaded.as_ref().err().map(|e| e.to_string()),
            }))?
        );
    } else {
        println!("name:      {name}");
        println!("version:   {version}");
        println!("sha256:    {}", info.sha256);
        println!("size:      {} bytes", info.size);
        println!("world:     drydock:policy/policy@1.0.0 ({})", if info.world_ok() { "exported" } else { "NOT exported" });
        println!("exports:   {}", if info.exports.is_empty() { "none".into() } else { info.exports.join(", ") });
        println!("imports:   {}", if info.imports.is_empty() { "none".into() } else { info.imports.join(", ") });
        println!("loadable:  {loadable}");
    }
    Ok(if loaded.is_ok() { 0 } else { 1 })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// A representative mix when no case files are given.
fn default_workload() -> Vec<Case> {
    let mk = |state: MaintenanceState, method: &str, path: &str| Case {
        name: String::new(),
        state,
        executions: [(ExecutionStatus::Started, 1)].into_iter().collect(),
        request: CaseRequest {
            method: method.into(),
            path: path.into(),
            route: None,
            user: "alice".into(),
            role: "user".into(),
            bypass: false,
        },
        expect: Expected::Allow,
    };
    vec![
        mk(MaintenanceState::Deactivated, "GET", "/api/v3.1/deployments"),
        mk(MaintenanceState::Activating, "POST", "/api/v3.1/executions"),
        mk(MaintenanceState::Activating, "GET", "/api/v3.1/executions/42"),
        mk(MaintenanceState::Activated, "GET", "/api/v3.1/status"),
        mk(MaintenanceState::Activated, "PUT", "/api/v3.1/deployments/web"),
    ]
}

fn bench(args: BenchArgs) -> anyhow::Result<i32> {
    let policy = load(&args.policy)?;
    let mut workload = Vec::new();
    for path in &args.cases {
        workload.extend(cases::load(path).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    if workload.is_empty() {
        workload = default_workload();
    }
    let inputs: Vec<_> = workload.iter().map(Case::descriptor).collect();
    let mut faults = 0u32;
    for i in 0..args.warmup as usize {
        let (d, s) = &inputs[i % inputs.len()];
        faults += policy.decide(d, s).is_err() as u32;
    }
    let n = args.iterations.max(1) as usize;
    let mut samples = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let (d, s) = &inputs[i % inputs.len()];
        let t = Instant::now();
        faults += policy.decide(d, s).is_err() as u32;
        samples.push(t.elapsed());
    }
    let wall = started.elapsed();
    samples.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (p50, p99, p999) = (percentile(&samples, 0.50), percentile(&samples, 0.99), percentile(&samples, 0.999));
    let per_sec = n as f64 / wall.as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "policy": policy.label(), "decisions": n, "requests_in_mix": inputs.len(),
                "decisions_per_second": per_sec, "p50_us": us(p50), "p99_us": us(p99), "p999_us": us(p999),
                "max_us": us(*samples.last().unwrap()), "faults": faults,
            }))?
        );
    } else {
        println!("policy:     {}", policy.label());
        println!("decisions:  {n} ({} distinct requests, {} warm-up)", inputs.len(), args.warmup);
        println!("throughput: {per_sec:.0} decisions/s on one thread");
        println!("latency:    p50 {:.2} µs   p99 {:.2} µs   p99.9 {:.2} µs   max {:.2} µs", us(p50), us(p99), us(p999), us(*samples.last().unwrap()));
        if faults > 0 {
            println!("faults:     {faults}");
        }
    }
    Ok(0)
}
