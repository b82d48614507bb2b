//! HTTP throughput and latency of one route with and without the gate, and with the
//! gate during continuous policy swaps; resident memory idle and under load.
//!
//! `cargo bench -p drydock-gate --bench http_load` (or `scripts/bench.sh`, which installs
//! Debian's `wrk` first). One process serves the same todo route twice on 127.0.0.1,
//! gated and ungated, from the same build and the same runtime; `wrk` (a separate
//! process, one thread) loads them in turns, so every ratio comes from one run. Each
//! is loaded twice: with the same request over and over (which the gate answers from
//! its per-thread memo of recent decisions) and with 8192 distinct paths in turn
//! (which the memo cannot hold, so the policy component decides nearly every one).
//!
//! On a machine with two cores or more the server is pinned to CPU 0 (one runtime
//! worker) and `wrk` to CPU 1, so neither steals the other's core and the server's
//! throughput is bounded by its own CPU cost per request; the server's CPU time per
//! request (from `/proc/self/stat`) is reported beside throughput, as the figure
//! least disturbed by anything else running on the machine.
//!
//! A third copy of the route sits behind a route layer that does nothing: the cost of
//! any layer in axum, the floor under the gate's.
//!
//! Each comparison (ungated → gated; the same with 8192 paths; gated → gated while
//! swapping; ungated → the layer that does nothing) runs its two scenarios back to
//! back, order alternating, `PAIRS` times; the table reports medians of the per-pair
//! ratios and differences, so a burst of other work on the machine weighs on both
//! sides of a pair alike.
//!
//! Knobs (environment): `DRYDOCK_BENCH_SECONDS` per run (2), `DRYDOCK_BENCH_PAIRS`
//! (7), `DRYDOCK_BENCH_CONNECTIONS` for the saturated runs (8), `DRYDOCK_BENCH_SWAP_MS`
//! between swaps (2), `DRYDOCK_BENCH_PIN=0` to not pin.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use drydock_engine::{DEFAULT_POLICY, Engine, Limits, Policy, STRICT_POLICY, Slots};
use drydock_gate::{Caller, Gate, GateConfig, POLICY_HEADER, Role, SharedState};
use serde::Serialize;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------------------
// The server: a todo route, served gated and ungated

#[derive(Clone, Serialize)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

type Todos = Arc<RwLock<BTreeMap<u64, Todo>>>;

async fn show(State(todos): State<Todos>, Path(id): Path<u64>) -> Result<Json<Todo>, StatusCode> {
    todos.read().unwrap().get(&id).cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

/// The application's own identification, in both variants (it is not the gate).
async fn identify(mut req: Request, next: Next) -> Response {
    if let Some(user) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
        let caller = Caller { username: user.to_owned(), role: Role::User, bypass: false };
        req.extensions_mut().insert(caller);
    }
    next.run(req).await
}

/// A route layer that does nothing, shaped like the gate's (an `Arc` beside the inner
/// service, the inner future returned as it is): what any route layer costs in axum,
/// the floor under the gate's own cost.
#[derive(Clone)]
struct PassThrough(Arc<()>);

impl<S> tower::Layer<S> for PassThrough {
    type Service = PassThroughService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PassThroughService { _shared: self.0.clone(), inner }
    }
}

#[derive(Clone)]
struct PassThroughService<S> {
    _shared: Arc<()>,
    inner: S,
}

impl<S: tower::Service<Request>> tower::Service<Request> for PassThroughService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: Request) -> S::Future {
        self.inner.call(req)
    }
}

/// What stands in front of the todo route.
enum Front<'a> {
    Nothing,
    PassThrough,
    Gate(&'a Gate),
}

fn router(todos: Todos, front: Front<'_>) -> Router {
    let r = Router::new().route("/todos/{id}", get(show));
    let r = match front {
        Front::Gate(gate) => r.route_layer(gate.layer()),
        Front::PassThrough => r.route_layer(PassThrough(Arc::default())),
        Front::Nothing => r,
    };
    r.route_layer(middleware::from_fn(identify)).with_state(todos)
}

// ---------------------------------------------------------------------------
// Measuring

/// CPU time (user + system) of this whole process so far, in µs (`USER_HZ` = 100
/// ticks per second on Linux).
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `)`.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10_000
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What one `wrk` run reports (latencies in µs).
#[derive(Debug, Clone, Default)]
struct Run {
    requests: u64,
    rps: f64,
    errors: u64,
    non2xx: u64,
    p50: f64,
    p99: f64,
    p999: f64,
    /// Server CPU per request, µs.
    cpu_us: f64,
}

/// Reports what the table needs in one line; shared by both request scripts.
const WRK_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("@@wrk requests=%d duration_us=%d errors=%d non2xx=%d p50=%d p99=%d p999=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// The same request every time: after the first, the gate answers it from its memo
/// of recent decisions (same request, same state version, same policy).
const WRK_SAME: &str = r#"
wrk.headers["X-User"] = "alice"
"#;

/// 8192 distinct paths in turn (`/todos/1..=8192`, each once per round): far more
/// than the memo holds per thread, so nearly every request is decided by the component.
const WRK_SPREAD: &str = r#"
wrk.headers["X-User"] = "alice"
local reqs, n = {}, 0
init = function(args)
  for i = 1, 8192 do reqs[i] = wrk.format("GET", "/todos/" .. i) end
end
request = function()
  n = n % 8192 + 1
  return reqs[n]
end
"#;

fn wrk(script: &std::path::Path, addr: SocketAddr, connections: u32, seconds: u64, pin: Option<&str>) -> anyhow::Result<Run> {
    let mut cmd = match pin {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpu, "wrk"]);
            c
        }
        None => Command::new("wrk"),
    };
    let cpu_before = cpu_us();
    let out = cmd
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "2s", "-s"])
        .arg(script)
        .arg(format!("http://{addr}/todos/42"))
        .output()
        .context("cannot run wrk (scripts/bench.sh installs it: apt-get install -y wrk)")?;
    let cpu = cpu_us() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("@@wrk "))
        .with_context(|| format!("wrk printed no summary: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    let kv: HashMap<&str, f64> = line
        .split_whitespace()
        .filter_map(|p| p.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    let get = |k: &str| kv.get(k).copied().unwrap_or(0.0);
    Ok(Run {
        requests: get("requests") as u64,
        rps: get("requests") / (get("duration_us") / 1e6),
        errors: get("errors") as u64,
        non2xx: get("non2xx") as u64,
        p50: get("p50"),
        p99: get("p99"),
        p999: get("p999"),
        cpu_us: cpu as f64 / get("requests").max(1.0),
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

/// Swaps the active policy between two loaded ones every `every` while running.
struct Swapper {
    running: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
}

impl Swapper {
    fn new(slots: Arc<Slots>, a: Arc<Policy>, b: Arc<Policy>, every: Duration) -> Swapper {
        let running = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (r, s) = (running.clone(), swaps.clone());
        std::thread::Builder::new()
            .name("swapper".into())
            .spawn(move || {
                let mut next_is_b = true;
                loop {
                    std::thread::sleep(every);
                    if r.load(Ordering::Relaxed) {
                        slots.set_active(if next_is_b { b.clone() } else { a.clone() });
                        next_is_b = !next_is_b;
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .expect("swapper thread");
        Swapper { running, swaps }
    }

    fn set(&self, on: bool) {
        self.running.store(on, Ordering::Relaxed);
    }
}

/// One plain HTTP/1.1 request on its own connection: (status, policy header).
fn probe(addr: SocketAddr) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /todos/42 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: alice\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let label = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(POLICY_HEADER).then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, label))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn main() -> anyhow::Result<()> {
    let seconds: u64 = env("DRYDOCK_BENCH_SECONDS", 2);
    let rounds: usize = env("DRYDOCK_BENCH_PAIRS", 7);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cores >= 2 && env("DRYDOCK_BENCH_PIN", 1) != 0;
    if pin {
        // Before any thread exists, so every thread of the server inherits it.
        let ok = Command::new("taskset")
            .args(["-p", "-c", "0", &std::process::id().to_string()])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            bail!("cannot pin the server with taskset (util-linux); set DRYDOCK_BENCH_PIN=0 to run unpinned");
        }
    }
    let wrk_cpu = pin.then_some("1");
    let connections: u32 = env("DRYDOCK_BENCH_CONNECTIONS", 8);
    let swap_every = Duration::from_millis(env("DRYDOCK_BENCH_SWAP_MS", 2));
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed: apt-get install -y wrk (scripts/bench.sh does it)");
    }
    let scripts = [("same", WRK_SAME), ("spread", WRK_SPREAD)].map(|(what, text)| {
        let path = std::env::temp_dir().join(format!("drydock-bench-{}-{what}.lua", std::process::id()));
        std::fs::write(&path, format!("{text}{WRK_DONE}")).map(|()| path)
    });
    let [same, spread] = match scripts {
        [Ok(a), Ok(b)] => [a, b],
        [Err(e), _] | [_, Err(e)] => return Err(e.into()),
    };

    // The server: one runtime (a worker per core), two listeners.
    let engine = Engine::new(Limits::default())?;
    let default = Arc::new(engine.load(DEFAULT_POLICY)?);
    let strict = Arc::new(engine.load(STRICT_POLICY)?);
    let slots = Arc::new(Slots::new(default.clone()));
    let gate = Gate::new(slots.clone(), Arc::new(SharedState::new()), GateConfig::default());
    let todos: Todos = Arc::new(RwLock::new(
        (1..=10_000).map(|id| (id, Todo { id, title: format!("todo number {id}"), done: id % 3 == 0 })).collect(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if pin { 1 } else { cores })
        .enable_all()
        .build()?;
    let serve = |router: Router| -> anyhow::Result<SocketAddr> {
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move { axum::serve(listener, router).await });
        Ok(addr)
    };
    let ungated = serve(router(todos.clone(), Front::Nothing))?;
    let layered = serve(router(todos.clone(), Front::PassThrough))?;
    let gated = serve(router(todos, Front::Gate(&gate)))?;
    let swapper = Swapper::new(slots.clone(), default.clone(), strict.clone(), swap_every);

    let setup = if pin {
        "server pinned to CPU 0 (1 runtime worker), wrk to CPU 1".to_string()
    } else {
        format!("unpinned, {cores} runtime workers")
    };
    println!(
        "HTTP: GET /todos/42 on 127.0.0.1, ungated {ungated}, behind a layer that does nothing {layered}, gated {gated}; wrk 1 thread; {rounds} rounds x {seconds} s per run; {cores} cores; {setup}"
    );
    for addr in [ungated, layered, gated] {
        wrk(&same, addr, connections, 1, wrk_cpu)?; // warm-up
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = rss_kib();

    // Peak resident memory while loaded.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // Paired runs: each comparison runs its two scenarios back to back (order
    // alternating), so whatever else the machine is doing weighs on both alike; the
    // figures below are medians of the per-pair ratios and differences.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    enum Kind {
        Ungated,
        Gated,
        Swapping,
        UngatedSpread,
        GatedSpread,
        Layered,
    }
    let name = |k: Kind| match k {
        Kind::Ungated => "ungated",
        Kind::Gated => "gated",
        Kind::Swapping => "gated, swapping",
        Kind::UngatedSpread => "ungated, 8k paths",
        Kind::GatedSpread => "gated, 8k paths",
        Kind::Layered => "pass-through layer",
    };
    // (baseline, candidate)
    let comparisons = [
        (Kind::Ungated, Kind::Gated),
        (Kind::UngatedSpread, Kind::GatedSpread),
        (Kind::Gated, Kind::Swapping),
        (Kind::Ungated, Kind::Layered),
    ];
    let mut pairs: HashMap<(u32, usize), Vec<(Run, Run)>> = HashMap::new();
    let mut all: Vec<Run> = Vec::new();
    let swaps_before = swapper.swaps.load(Ordering::Relaxed);
    let mut swap_time = Duration::ZERO;
    // For profiling one scenario on its own: `DRYDOCK_BENCH_ONLY=gated` (no table).
    let only: Option<String> = std::env::var("DRYDOCK_BENCH_ONLY").ok();
    let mut run = |k: Kind, shape: u32, round: usize| -> anyhow::Result<Run> {
        let addr = match k {
            Kind::Ungated | Kind::UngatedSpread => ungated,
            Kind::Layered => layered,
            Kind::Gated | Kind::GatedSpread | Kind::Swapping => gated,
        };
        let script = if matches!(k, Kind::UngatedSpread | Kind::GatedSpread) { &spread } else { &same };
        swapper.set(k == Kind::Swapping);
        let started = Instant::now();
        let r = wrk(script, addr, shape, seconds, wrk_cpu)?;
        if k == Kind::Swapping {
            swap_time += started.elapsed();
        }
        swapper.set(false);
        println!(
            "  c={shape:<3} pair {:<2} {:<17} {:>9.0} req/s  cpu {:>5.1} us/req  p50 {:>6.0} us  p99 {:>6.0} us  p99.9 {:>6.0} us  errors {} non-2xx {}",
            round + 1,
            name(k),
            r.rps,
            r.cpu_us,
            r.p50,
            r.p99,
            r.p999,
            r.errors,
            r.non2xx
        );
        Ok(r)
    };
    if let Some(only) = &only {
        for k in [Kind::Ungated, Kind::Gated, Kind::Swapping, Kind::UngatedSpread, Kind::GatedSpread, Kind::Layered] {
            if name(k) == only {
                for shape in [connections, 1] {
                    for round in 0..rounds {
                        run(k, shape, round)?;
                    }
                }
            }
        }
        return Ok(());
    }
    for shape in [connections, 1] {
        for round in 0..rounds {
            for (i, &(base, cand)) in comparisons.iter().enumerate() {
                let (first, second) = if round % 2 == 0 { (base, cand) } else { (cand, base) };
                let a = run(first, shape, round)?;
                let b = run(second, shape, round)?;
                let (base_run, cand_run) = if round % 2 == 0 { (a, b) } else { (b, a) };
                all.push(base_run.clone());
                all.push(cand_run.clone());
                pairs.entry((shape, i)).or_default().push((base_run, cand_run));
            }
        }
    }
    let swaps = swapper.swaps.load(Ordering::Relaxed) - swaps_before;
    let rss_load = peak.load(Ordering::Relaxed);
    sampling.store(false, Ordering::Relaxed);
    sampler.join().ok();
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kib();
    slots.set_active(default.clone());

    // Both policies really answered during swaps: probe while swapping.
    swapper.set(true);
    let mut labels: BTreeMap<String, u32> = BTreeMap::new();
    let mut probe_failures = 0;
    for _ in 0..300 {
        match probe(gated) {
            Ok((200, label)) => *labels.entry(label).or_default() += 1,
            _ => probe_failures += 1,
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    swapper.set(false);
    std::fs::remove_file(&same).ok();
    std::fs::remove_file(&spread).ok();

    // Summary: medians over pairs.
    let p = |shape: u32, i: usize| &pairs[&(shape, i)];
    let med = |v: &[(Run, Run)], f: &dyn Fn(&Run, &Run) -> f64| median(v.iter().map(|(a, b)| f(a, b)).collect());
    let ratio = |v: &[(Run, Run)]| med(v, &|a, b| b.rps / a.rps);
    let cpu_added = |v: &[(Run, Run)]| med(v, &|a, b| b.cpu_us - a.cpu_us);
    let p99_added = |v: &[(Run, Run)]| med(v, &|a, b| b.p99 - a.p99);
    let p50_added = |v: &[(Run, Run)]| med(v, &|a, b| b.p50 - a.p50);
    let p99_ratio = |v: &[(Run, Run)]| med(v, &|a, b| b.p99 / a.p99);
    let base_med = |v: &[(Run, Run)], f: &dyn Fn(&Run) -> f64| median(v.iter().map(|(a, _)| f(a)).collect());
    let cand_med = |v: &[(Run, Run)], f: &dyn Fn(&Run) -> f64| median(v.iter().map(|(_, b)| f(b)).collect());
    let failures = |v: &[(Run, Run)]| v.iter().map(|(_, b)| b.errors + b.non2xx).sum::<u64>();
    let requests = |v: &[(Run, Run)]| v.iter().map(|(_, b)| b.requests).sum::<u64>();
    println!();
    for shape in [connections, 1] {
        for (i, &(base, cand)) in comparisons.iter().enumerate() {
            let v = p(shape, i);
            println!(
                "@@ http c={shape} {}_vs_{} rps_ratio={:.3} cpu_added_us={:.2} p50_added_us={:.0} p99_added_us={:.0} p99_ratio={:.2} base_rps={:.0} cand_rps={:.0} base_p99_us={:.0} cand_p99_us={:.0} cand_failures={}",
                name(cand).replace(", ", "_").replace(' ', "_"),
                name(base).replace(", ", "_").replace(' ', "_"),
                ratio(v),
                cpu_added(v),
                p50_added(v),
                p99_added(v),
                p99_ratio(v),
                base_med(v, &|r| r.rps),
                cand_med(v, &|r| r.rps),
                base_med(v, &|r| r.p99),
                cand_med(v, &|r| r.p99),
                failures(v)
            );
        }
    }
    println!(
        "@@ swaps count={swaps} per_s={:.0} probe_labels={} probe_failures={probe_failures}",
        swaps as f64 / swap_time.as_secs_f64().max(1e-9),
        labels.iter().map(|(l, n)| format!("{l}:{n}")).collect::<Vec<_>>().join(",")
    );
    println!("@@ rss idle_kib={rss_idle} load_kib={rss_load} after_kib={rss_after}");

    let c = connections;
    let (same_c, same_1) = (p(c, 0), p(1, 0));
    let (spread_c, spread_1) = (p(c, 1), p(1, 1));
    let (swap_c, swap_1) = (p(c, 2), p(1, 2));
    let layer_c = p(c, 3);
    let swap_failures = failures(swap_c) + failures(swap_1);
    let all_failures: u64 = all.iter().map(|r| r.errors + r.non2xx).sum();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let us = |x: f64| format!("{x:.0}");
    println!();
    println!("| HTTP (wrk, 1 thread; {rounds} pairs of {seconds} s runs, medians of per-pair figures; {setup}) | result | target | met |");
    println!("|---|---|---|---|");
    for (what, v) in [("same request (the gate's memo answers)", same_c), ("8192 paths (the component decides)", spread_c)] {
        println!(
            "| throughput, {c} connections, {what}: gated / ungated | {} / {} req/s, per-pair ratio **{:.3}** | ≥ 0.95 | {} |",
            us(cand_med(v, &|r| r.rps)),
            us(base_med(v, &|r| r.rps)),
            ratio(v),
            verdict(ratio(v) >= 0.95)
        );
        println!(
            "| server CPU per request, {c} connections, {what}: ungated → gated | {:.1} → {:.1} µs, added **{:+.1} µs** | — | — |",
            base_med(v, &|r| r.cpu_us),
            cand_med(v, &|r| r.cpu_us),
            cpu_added(v)
        );
    }
    println!(
        "| the floor under the gate: a route layer that does nothing, {c} connections, same request: layered / ungated | {} / {} req/s, per-pair ratio **{:.3}**; server CPU {:.1} → {:.1} µs, added **{:+.1} µs** | — | — |",
        us(cand_med(layer_c, &|r| r.rps)),
        us(base_med(layer_c, &|r| r.rps)),
        ratio(layer_c),
        base_med(layer_c, &|r| r.cpu_us),
        cand_med(layer_c, &|r| r.cpu_us),
        cpu_added(layer_c)
    );
    for (what, v, v1) in [("same request", same_c, same_1), ("8192 paths", spread_c, spread_1)] {
        println!(
            "| p99 added by the gate, {what}: {c} connections / 1 connection | **{:+.0} µs** ({} → {} µs) / **{:+.0} µs** ({} → {} µs; p50 {:+.0} µs) | ≤ 50 µs | {} |",
            p99_added(v),
            us(base_med(v, &|r| r.p99)),
            us(cand_med(v, &|r| r.p99)),
            p99_added(v1),
            us(base_med(v1, &|r| r.p99)),
            us(cand_med(v1, &|r| r.p99)),
            p50_added(v1),
            verdict(p99_added(v) <= 50.0 && p99_added(v1) <= 50.0)
        );
    }
    println!(
        "| swaps every {} ms ({swaps} swaps, {} requests while swapping): errors + non-2xx | **{swap_failures}** (all runs: {all_failures}); probe saw {} | 0 | {} |",
        swap_every.as_millis(),
        requests(swap_c) + requests(swap_1),
        labels.iter().map(|(l, n)| format!("`{l}` ×{n}")).collect::<Vec<_>>().join(", "),
        verdict(swap_failures == 0 && probe_failures == 0 && labels.len() == 2)
    );
    for (what, v) in [(format!("{c} connections"), swap_c), ("1 connection".to_string(), swap_1)] {
        println!(
            "| p99 swapping / not swapping, {what} | {} / {} µs, per-pair ratio **{:.2}×** (throughput ratio {:.3}) | ≤ 2× | {} |",
            us(cand_med(v, &|r| r.p99)),
            us(base_med(v, &|r| r.p99)),
            p99_ratio(v),
            ratio(v),
            verdict(p99_ratio(v) <= 2.0)
        );
    }
    println!(
        "| resident memory (VmRSS): idle / peak under load / after | {:.1} / **{:.1}** / {:.1} MiB | < 100 MiB under load | {} |",
        mib(rss_idle),
        mib(rss_load),
        mib(rss_after),
        verdict(mib(rss_load) < 100.0)
    );
    Ok(())
}
