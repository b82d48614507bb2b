//! drydock's sandboxed policy beside Cedar, Rego (regorus) and the same rules in
//! plain Rust: the same 960-request mix, in one process, one after another.
//!
//!     scripts/bench.sh (step 0), or on its own:
//!     cargo run --release --manifest-path bench/peers/Cargo.toml --target-dir target
//!
//! First every decider decides every request and all must agree (allow, or the
//! same error code); then each is timed, one decision at a time (`Instant` pairs,
//! their cost printed and not subtracted: it is in every row alike), over rounds of
//! the mix, and once more untimed for decisions per second, in three passes of
//! rotating order (samples merged; the median pass's rate). Knob:
//! `DRYDOCK_BENCH_SCALE` multiplies the rounds (1.0). Lines starting with `|` are
//! the table for BENCHMARKS.md.

mod mix;
mod peers;

use std::hint::black_box;
use std::time::{Duration, Instant};

use drydock_engine::{DEFAULT_POLICY, Engine, Limits};
use peers::{Cedar, Component, Decider, Native, Rego};

/// The default policy as built for contract 1.0.0 (every string its own copy into
/// the guest), kept by the engine's tests: the "before" of contract 2.0.0.
const DEFAULT_POLICY_CONTRACT_1: &[u8] =
    include_bytes!("../../../host/engine/testdata/cloudify-default-1.1.0-contract-1.0.0.wasm");

struct Timing {
    name: String,
    what: String,
    p50: f64,
    p99: f64,
    per_second: f64,
}

fn scale() -> f64 {
    std::env::var("DRYDOCK_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

/// Passes over every decider, in rotating order, so that no decider is always
/// the one timed first (or right after the slowest).
const PASSES: usize = 3;

/// Time `rounds` rounds of the mix on `d` (one pass's share), one decision at a time.
fn sample(d: &mut dyn Decider, n: usize, rounds: usize, ns: &mut Vec<u64>) {
    for _ in 0..rounds.div_ceil(10) {
        for i in 0..n {
            black_box(d.decide(i));
        }
    }
    for _ in 0..rounds {
        for i in 0..n {
            let t = Instant::now();
            black_box(d.decide(black_box(i)));
            ns.push(t.elapsed().as_nanos() as u64);
        }
    }
}

/// Decisions per second over `rounds` untimed rounds of the mix.
fn throughput(d: &mut dyn Decider, n: usize, rounds: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..rounds {
        for i in 0..n {
            black_box(d.decide(black_box(i)));
        }
    }
    (rounds * n) as f64 / t.elapsed().as_secs_f64()
}

fn time_all(deciders: &mut [(Box<dyn Decider>, usize)], n: usize) -> Vec<Timing> {
    let rounds: Vec<usize> =
        deciders.iter().map(|(_, r)| ((*r as f64 * scale() / PASSES as f64) as usize).max(1)).collect();
    let mut samples: Vec<Vec<u64>> = deciders.iter().map(|_| Vec::new()).collect();
    let mut rates: Vec<Vec<f64>> = deciders.iter().map(|_| Vec::new()).collect();
    for pass in 0..PASSES {
        for k in 0..deciders.len() {
            let j = (k + pass) % deciders.len();
            let d = deciders[j].0.as_mut();
            sample(d, n, rounds[j], &mut samples[j]);
            rates[j].push(throughput(d, n, rounds[j]));
        }
    }
    deciders
        .iter()
        .zip(samples)
        .zip(rates)
        .map(|(((d, _), mut ns), mut rate)| {
            ns.sort_unstable();
            rate.sort_by(f64::total_cmp);
            let at = |q: f64| ns[((ns.len() as f64 * q) as usize).min(ns.len() - 1)] as f64;
            Timing { name: d.name().into(), what: d.what(), p50: at(0.50), p99: at(0.99), per_second: rate[rate.len() / 2] }
        })
        .collect()
}

fn main() {
    let cases = mix::cases();
    let n = cases.len();
    // A generous deadline: a descheduled thread measures a slow call, not a fault.
    let engine = Engine::new(Limits { deadline: Duration::from_secs(1), ..Limits::default() }).expect("engine");
    let v2 = Component::new("drydock", engine.load(DEFAULT_POLICY).expect("default policy"), mix::cases());
    let v1 = Component::new(
        "drydock, contract 1.0.0",
        engine.load(DEFAULT_POLICY_CONTRACT_1).expect("default policy, contract 1.0.0"),
        mix::cases(),
    );
    let mut deciders: Vec<(Box<dyn Decider>, usize)> = vec![
        (Box::new(Native::new(&cases)), 2000),
        (Box::new(v2), 1000),
        (Box::new(v1), 300),
        (Box::new(Cedar::new(&cases)), 60),
        (Box::new(Rego::new(&cases)), 60),
    ];

    // `DRYDOCK_BENCH_ONLY=drydock` times only the deciders whose name contains it
    // (and native Rust, the reference), e.g. under a profiler.
    if let Ok(only) = std::env::var("DRYDOCK_BENCH_ONLY") {
        let mut k = 0;
        deciders.retain(|(d, _)| {
            k += 1;
            k == 1 || d.name().contains(only.as_str())
        });
    }
    // `DRYDOCK_BENCH_POLICY=FILE` times that component as "drydock" (say, a build of
    // your own policy with the same rules, or the default built another way).
    if let Ok(file) = std::env::var("DRYDOCK_BENCH_POLICY") {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let policy = engine.load(&bytes).unwrap_or_else(|e| panic!("{file} does not load: {e}"));
        deciders[1] = (Box::new(Component::new("drydock", policy, mix::cases())), 1000);
    }

    // Agreement first: a fast wrong answer is no answer.
    let mut refused = 0;
    for i in 0..n {
        let want = deciders[0].0.verdict(i);
        refused += usize::from(want.is_some());
        for (d, _) in deciders.iter_mut().skip(1) {
            let got = d.verdict(i);
            assert_eq!(
                got,
                want,
                "{} disagrees with the native rules on {} {} ({:?}, {} {})",
                d.name(),
                cases[i].desc.method,
                cases[i].desc.route,
                cases[i].state,
                cases[i].desc.caller.role.as_str(),
                cases[i].desc.caller.bypass
            );
        }
    }
    println!("All {} deciders agree on all {n} requests ({refused} refused, {} allowed).", deciders.len(), n - refused);

    let timer = {
        let mut ns: Vec<u64> = (0..200_000)
            .map(|_| {
                let t = Instant::now();
                t.elapsed().as_nanos() as u64
            })
            .collect();
        ns.sort_unstable();
        ns[ns.len() / 2]
    };
    let timings = time_all(&mut deciders, n);
    let native = &timings[0];

    println!();
    println!("| decider | what is timed | p50 | p99 | decisions/s | p50 − native | p50 ÷ native |");
    println!("|---|---|---|---|---|---|---|");
    for t in &timings {
        println!(
            "| {} | {} | {:.2} µs | {:.2} µs | {:.0} | {:+.2} µs | {:.0}× |",
            t.name,
            t.what,
            t.p50 / 1000.0,
            t.p99 / 1000.0,
            t.per_second,
            (t.p50 - native.p50) / 1000.0,
            t.p50 / native.p50
        );
    }
    let drydock = timings.iter().find(|t| t.name == "drydock").unwrap_or(&timings[0]);
    let gap = (drydock.p50 - native.p50) / 1000.0;
    println!(
        "| **drydock p50 − native p50** (target ≤ 1 µs) | | **{gap:.2} µs** | | | {} | |",
        if gap <= 1.0 { "met" } else { "**missed**" }
    );
    println!("| timer (an `Instant` pair, in every row alike, not subtracted) | | {timer} ns | | | | |");
    for t in timings.iter().filter(|t| t.name != "drydock" && t.name != native.name) {
        println!(
            "@@ {} p50 {:.0} ns = {:.1}× drydock's",
            t.name,
            t.p50,
            t.p50 / drydock.p50
        );
    }
}
