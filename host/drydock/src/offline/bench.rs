//! `drydock policy bench`: decisions per second and latency percentiles through
//! the real engine, on one thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use drydock_engine::{ExecutionStatus, MaintenanceState};
use serde_json::json;

use super::cases::{self, Case, CaseRequest, Expected};
use super::load;

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
            attributes: Default::default(),
        },
        facts: Default::default(),
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

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
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
