//! Several hosts on one PostgreSQL database, measured over real HTTP on 127.0.0.1
//! (each host a whole server on its own runtime, in this process):
//!
//! 1. Propagation: `POST /maintenance/activate` returns on host A → the first
//!    request host B's gate refuses (and deactivate → the first it serves again).
//! 2. Write throughput and latency, SQLite versus PostgreSQL: clients create an
//!    execution and report it ended (two state transactions per round).
//! 3. Gate decisions per second: the same load on one host and spread over three.
//!
//! `scripts/bench-hosts.sh` starts a throwaway PostgreSQL and runs this; or
//! `DRYDOCK_BENCH_DATABASE_URL=postgres://… cargo bench -p drydock-server --bench hosts`.
//! Knobs: `DRYDOCK_BENCH_PROBES` (200), `DRYDOCK_BENCH_SECONDS` per load run (5),
//! `DRYDOCK_BENCH_CLIENTS` (4).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use support::{Http, env, json_field, start};

fn fresh_database(server: &str) -> String {
    let name = format!("drydock_bench_{}_{:08x}", std::process::id(), rand::random::<u32>());
    drydock_server::store::postgres::create_database(server, &name).expect("create the bench database")
}

fn micros() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

fn row(name: &str, h: &Histogram<u64>, seconds: Option<f64>) -> String {
    let rate = seconds.map_or("–".to_string(), |s| format!("{:.0}", h.len() as f64 / s));
    format!(
        "| {name} | {} | {rate} | {} | {} | {} | {} |",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max()
    )
}

/// Poll `http` until `refused` matches; µs from `since`.
fn first(http: &Http, since: Instant, refused: bool) -> u64 {
    let limit = since + Duration::from_secs(10);
    loop {
        let a = http.get("/api/v3.1/deployments");
        if (a.status == 503) == refused {
            return since.elapsed().as_micros() as u64;
        }
        assert!(Instant::now() < limit, "host B did not follow within 10 s");
    }
}

fn propagation(url: &str) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_ra, a) = start(dir_a.path(), Some(url));
    let (_rb, b) = start(dir_b.path(), Some(url));
    let (a, b) = (Http::new(&a), Http::new(&b));
    let probes: usize = env("DRYDOCK_BENCH_PROBES", 200);
    let (mut on, mut off) = (micros(), micros());
    for _ in 0..probes {
        let r = a.post("/api/v3.1/maintenance/activate");
        assert_eq!(r.status, 200, "{}", r.body);
        on.record(first(&b, Instant::now(), true).max(1)).unwrap();
        let r = a.post("/api/v3.1/maintenance/deactivate");
        assert_eq!(r.status, 200, "{}", r.body);
        off.record(first(&b, Instant::now(), false).max(1)).unwrap();
    }
    println!(
        "\n### Propagation (µs, {probes} probes): A's call returns → B's gate decides under it\n"
    );
    println!("| change | n | – | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|");
    println!("{}", row("activate on A → first refusal on B", &on, None));
    println!(
        "{}",
        row("deactivate on A → first admission on B", &off, None)
    );
}

/// `clients` threads, each with its own connection to `bases[i % len]`, repeat
/// `round` (which times what it sends into the histogram) for `seconds`.
fn load(
    bases: &[String],
    clients: usize,
    seconds: f64,
    round: impl Fn(&Http, &mut Histogram<u64>) + Send + Sync + Copy + 'static,
) -> Histogram<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (stop, http) = (stop.clone(), Http::new(&bases[i % bases.len()]));
            std::thread::spawn(move || {
                let mut h = micros();
                while !stop.load(Ordering::Relaxed) {
                    round(&http, &mut h);
                }
                h
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = micros();
    for t in threads {
        all.add(t.join().unwrap()).unwrap();
    }
    all
}

/// Time one request into `h`; panics unless it answered `want`.
fn timed(h: &mut Histogram<u64>, want: u16, send: impl FnOnce() -> support::Answer) -> support::Answer {
    let t = Instant::now();
    let a = send();
    assert_eq!(a.status, want, "{}", a.body);
    h.record(t.elapsed().as_micros().max(1) as u64).unwrap();
    a
}

/// Each client: create an execution, report it terminated (two state transactions).
fn writes(name: &str, base: &str, clients: usize, seconds: f64) -> String {
    let r = Http::new(base).send("PUT", "/api/v3.1/deployments/bench", b"{}".to_vec(), "application/json");
    assert!(r.status == 201 || r.status == 409, "{}", r.body);
    let all = load(&[base.to_string()], clients, seconds, |http, h| {
        let body = br#"{"deployment_id":"bench","workflow_id":"install","parameters":{}}"#.to_vec();
        let c = timed(h, 201, || http.send("POST", "/api/v3.1/executions", body, "application/json"));
        let path = format!("/api/v3.1/executions/{}", json_field(&c.body, "/id"));
        timed(h, 200, || http.send("PATCH", &path, br#"{"status":"terminated"}"#.to_vec(), "application/json"));
    });
    row(name, &all, Some(seconds))
}

/// GET /deployments/bench (decided by the gate, then one read), spread over `bases`.
fn decisions(name: &str, bases: &[String], clients: usize, seconds: f64) -> String {
    let all = load(bases, clients, seconds, |http, h| {
        timed(h, 200, || http.get("/api/v3.1/deployments/bench"));
    });
    row(name, &all, Some(seconds))
}

fn main() {
    let Ok(server) = std::env::var("DRYDOCK_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("DRYDOCK_TEST_DATABASE_URL"))
    else {
        eprintln!(
            "set DRYDOCK_BENCH_DATABASE_URL to a PostgreSQL server (scripts/bench-hosts.sh starts a throwaway one)"
        );
        std::process::exit(2);
    };
    let (seconds, clients): (f64, usize) = (
        env("DRYDOCK_BENCH_SECONDS", 5.0),
        env("DRYDOCK_BENCH_CLIENTS", 4),
    );

    propagation(&fresh_database(&server));

    println!(
        "\n### Writes ({clients} clients, {seconds} s each; one round = create + report ended; µs)\n"
    );
    println!("| backend | writes | per s | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let (rt, base) = start(dir.path(), None);
    println!("{}", writes("SQLite (embedded)", &base, clients, seconds));
    drop(rt);
    let url = fresh_database(&server);
    let dir = tempfile::tempdir().unwrap();
    let (rt, base) = start(dir.path(), Some(&url));
    println!(
        "{}",
        writes("PostgreSQL (one host)", &base, clients, seconds)
    );
    drop(rt);

    println!(
        "\n### Gate decisions ({clients} clients, {seconds} s each; GET /deployments/bench; µs)\n"
    );
    println!("| hosts | requests | per s | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|");
    let url = fresh_database(&server);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let hosts: Vec<_> = dirs.iter().map(|d| start(d.path(), Some(&url))).collect();
    let bases: Vec<String> = hosts.iter().map(|(_, b)| b.clone()).collect();
    let r = Http::new(&bases[0]).send(
        "PUT",
        "/api/v3.1/deployments/bench",
        b"{}".to_vec(),
        "application/json",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    println!("{}", decisions("one host", &bases[..1], clients, seconds));
    println!(
        "{}",
        decisions("three hosts, one database", &bases, clients, seconds)
    );
    println!(
        "\n(machine: {} cores; every host and client shares them)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
