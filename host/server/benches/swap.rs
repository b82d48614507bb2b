//! Live policy swaps through the whole server: the REST activate call, the
//! registry, the slots, the gate, over real HTTP on 127.0.0.1.
//!
//! 1. Time from `POST /policies/{id}/activate` returning to the first response
//!    decided by the new version (and how many responses after the return still
//!    named the old one: must be 0).
//! 2. Request latency percentiles under steady load without swaps, and with the
//!    active policy swapped back and forth continuously.
//!
//! `cargo bench -p drydock-server --bench swap` (release build). Knobs (environment):
//! `DRYDOCK_BENCH_SECONDS` per load run (5), `DRYDOCK_BENCH_CLIENTS` load
//! threads (2), `DRYDOCK_BENCH_SWAP_MS` pause between swaps (5),
//! `DRYDOCK_BENCH_PROBES` activate→first-decision samples (200).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drydock_engine::STRICT_POLICY;

mod support;

use support::{Http, env, json_field, start};

/// Percentile (nearest rank) of sorted microseconds.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut us: Vec<u64>, seconds: f64) -> String {
    us.sort_unstable();
    format!(
        "| {name} | {} | {:.0} | {} | {} | {} | {} | {} |",
        us.len(),
        us.len() as f64 / seconds,
        pct(&us, 50.0),
        pct(&us, 90.0),
        pct(&us, 99.0),
        pct(&us, 99.9),
        us.last().copied().unwrap_or(0)
    )
}

/// `clients` threads send GET /version for `seconds`; returns the latencies (µs)
/// and the responses seen per policy label.
fn load(base: &str, clients: usize, seconds: f64, failures: &AtomicU64) -> (Vec<u64>, Vec<(String, u64)>) {
    let stop = Arc::new(AtomicBool::new(false));
    let all = Arc::new(Mutex::new((Vec::new(), std::collections::BTreeMap::<String, u64>::new())));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, all, http) = (stop.clone(), all.clone(), Http::new(base));
            std::thread::spawn(move || {
                let mut mine = Vec::with_capacity(200_000);
                let mut labels = std::collections::BTreeMap::<String, u64>::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let a = http.get("/api/v3.1/version");
                    mine.push(t.elapsed().as_micros() as u64);
                    // Every answer is counted: a non-200 under its own key, so none hides.
                    let key = if a.status == 200 { a.label } else { format!("status {}", a.status) };
                    *labels.entry(key).or_default() += 1;
                }
                let mut all = all.lock().unwrap();
                all.0.extend(mine);
                for (k, v) in labels {
                    *all.1.entry(k).or_default() += v;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if t.join().is_err() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (lat, labels) = Arc::try_unwrap(all).ok().unwrap().into_inner().unwrap();
    (lat, labels.into_iter().collect())
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let seconds: f64 = env("DRYDOCK_BENCH_SECONDS", 5.0);
    let clients: usize = env("DRYDOCK_BENCH_CLIENTS", 2);
    let swap_ms: u64 = env("DRYDOCK_BENCH_SWAP_MS", 5);
    let probes: usize = env("DRYDOCK_BENCH_PROBES", 200);

    let dir = std::env::temp_dir().join(format!("drydock-bench-swap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_rt, base) = start(&dir, None);
    let admin = Http::new(&base);
    let default = json_field(&admin.get("/api/v3.1/policies/builtin").body, "/label");
    let up = admin.send("POST", "/api/v3.1/policies", STRICT_POLICY.to_vec(), "application/wasm");
    assert_eq!(up.status, 201, "{}", up.body);
    let strict_id = json_field(&up.body, "/id");
    let strict = json_field(&up.body, "/label");
    let failures = AtomicU64::new(0);
    // Warm both versions (first activation loads; later ones reuse).
    for path in [format!("/api/v3.1/policies/{strict_id}/activate"), "/api/v3.1/policies/builtin/activate".into()] {
        assert_eq!(admin.post(&path).status, 200);
    }
    load(&base, clients, 1.0, &failures);

    // 1. activate returns → first response decided by the new version.
    let background = {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (stop, http) = (stop.clone(), Http::new(&base));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        http.get("/api/v3.1/version");
                    }
                })
            })
            .collect();
        (stop, handles)
    };
    let (mut to_first, mut activate_us, mut stale) = (Vec::new(), Vec::new(), 0u64);
    for k in 0..probes {
        let (path, want) = if k % 2 == 0 {
            (format!("/api/v3.1/policies/{strict_id}/activate"), &strict)
        } else {
            ("/api/v3.1/policies/builtin/activate".to_string(), &default)
        };
        let t = Instant::now();
        let r = admin.post(&path);
        let returned = Instant::now();
        assert_eq!(r.status, 200, "{}", r.body);
        activate_us.push(returned.duration_since(t).as_micros() as u64);
        loop {
            let a = admin.get("/api/v3.1/version");
            if a.label == *want {
                to_first.push(returned.elapsed().as_micros() as u64);
                break;
            }
            stale += 1;
        }
    }
    background.0.store(true, Ordering::Relaxed);
    for h in background.1 {
        h.join().unwrap();
    }

    // 2. latency without swaps, then while swapping.
    let (steady, steady_labels) = load(&base, clients, seconds, &failures);
    let swapping = Arc::new(AtomicBool::new(true));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (swapping, swaps, http, strict_id) = (swapping.clone(), swaps.clone(), Http::new(&base), strict_id.clone());
        std::thread::spawn(move || {
            let mut k = 0u64;
            while swapping.load(Ordering::Relaxed) {
                let path = if k.is_multiple_of(2) {
                    format!("/api/v3.1/policies/{strict_id}/activate")
                } else {
                    "/api/v3.1/policies/builtin/activate".to_string()
                };
                assert_eq!(http.post(&path).status, 200);
                swaps.fetch_add(1, Ordering::Relaxed);
                k += 1;
                std::thread::sleep(Duration::from_millis(swap_ms));
            }
        })
    };
    let (during, during_labels) = load(&base, clients, seconds, &failures);
    swapping.store(false, Ordering::Relaxed);
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);

    activate_us.sort_unstable();
    to_first.sort_unstable();
    println!("## drydock policy swap benchmark\n");
    println!("{clients} load clients (GET /api/v3.1/version, keep-alive, sys_admin Basic auth), {seconds} s per run, 127.0.0.1, {} CPUs.\n", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("### activate returns → first request decided by the new version ({probes} swaps, under load)\n");
    println!("| | p50 µs | p90 µs | p99 µs | max µs |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, v: &[u64]| {
        println!("| {name} | {} | {} | {} | {} |", pct(v, 50.0), pct(v, 90.0), pct(v, 99.0), v.last().copied().unwrap_or(0))
    };
    row("POST /policies/{id}/activate round trip", &activate_us);
    row("activate returned → first response by the new version", &to_first);
    println!("\nResponses after an activate returned that named the old version: {stale}.\n");
    println!("### request latency, without and during swaps\n");
    println!("| run | requests | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---|---|---|---|---|---|---|");
    println!("{}", summary("no swaps", steady, seconds));
    println!("{}", summary(&format!("swapping ({swaps} swaps, {:.0}/s)", swaps as f64 / seconds), during, seconds));
    let not_ok = |labels: &[(String, u64)]| labels.iter().filter(|(k, _)| k.starts_with("status ")).map(|(_, n)| n).sum::<u64>();
    println!("\nResponses by version (non-200 answers as `status N`), no swaps: {steady_labels:?}");
    println!("Responses by version (non-200 answers as `status N`), swapping: {during_labels:?}");
    println!("Answers other than 200: {} without swaps, {} while swapping", not_ok(&steady_labels), not_ok(&during_labels));
    println!("Client threads that failed: {}", failures.load(Ordering::Relaxed));
    let _ = std::fs::remove_dir_all(&dir);
}
