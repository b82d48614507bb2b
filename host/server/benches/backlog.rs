//! A busy manager, over real HTTP on 127.0.0.1 (the whole server in this process,
//! on its own runtime), on SQLite and on PostgreSQL:
//!
//! 1. With 0, 1,000 and 10,000 unfinished executions (a workflow nobody runs, so
//!    they stay `pending`, as queued work does): p50/p99 of a create, of reporting
//!    one terminated, of `GET /maintenance` and of a gated read, one client.
//! 2. Creates per second, 1 client against 8, with the 10,000 held.
//! 3. Draining: activate with them all unfinished, 8 clients report them all
//!    terminated; the time for each tenth of them (linear if they match) and that
//!    the last one flips the state to `activated`.
//! 4. Creates per second again, 1 against 8, with nothing unfinished and every
//!    execution so far stored ended.
//! 5. A large store: topped up to 100,000 executions stored (most ended) with the
//!    10,000 unfinished again, the costs of step 1 once more.
//!
//! `scripts/bench-backlog.sh` starts a throwaway PostgreSQL (fsync on) and runs
//! this. Knobs: `DRYDOCK_BENCH_BACKLOG` (10000), `DRYDOCK_BENCH_STORED` (100000),
//! `DRYDOCK_BENCH_SAMPLES` (300), `DRYDOCK_BENCH_SECONDS` per throughput run (3).
//!
//! Each costs row also times a page of `GET /executions` (`_size=100`, the newest
//! first: what a console or `cfy executions list` asks), its total counted.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use support::{Http, env, json_field, start};

const CREATE: &[u8] = br#"{"deployment_id":"bench","workflow_id":"install","parameters":{}}"#;
const ENDED: &[u8] = br#"{"status":"terminated"}"#;

fn micros() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

fn ms(h: &Histogram<u64>, q: f64) -> String {
    format!("{:.2}", h.value_at_quantile(q) as f64 / 1000.0)
}

fn create(http: &Http) -> String {
    let a = http.send("POST", "/api/v3.1/executions", CREATE.to_vec(), "application/json");
    assert_eq!(a.status, 201, "{}", a.body);
    json_field(&a.body, "/id")
}

fn end(http: &Http, id: &str) {
    let a = http.send("PATCH", &format!("/api/v3.1/executions/{id}"), ENDED.to_vec(), "application/json");
    assert_eq!(a.status, 200, "{}", a.body);
}

/// Run `work(client, i)` for i in 0..n over `clients` threads.
fn spread(base: &str, clients: usize, n: usize, work: impl Fn(&Http, usize) + Send + Sync + 'static) {
    let (next, work) = (Arc::new(AtomicUsize::new(0)), Arc::new(work));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (next, work, http) = (next.clone(), work.clone(), Http::new(base));
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    work(&http, i);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

/// Top the backlog up to `n` unfinished executions (8 clients).
fn fill(base: &str, have: &mut usize, n: usize) {
    if n > *have {
        spread(base, 8, n - *have, |http, _| {
            create(http);
        });
        *have = n;
    }
}

/// How many executions are stored (the list's total).
fn stored_count(http: &Http) -> usize {
    let a = http.get("/api/v3.1/executions?_size=1");
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    v["metadata"]["pagination"]["total"].as_u64().unwrap() as usize
}

/// Top the store up to `n` executions, each reported ended at once (8 clients).
fn fill_ended(base: &str, stored: &mut usize, n: usize) {
    if n > *stored {
        spread(base, 8, n - *stored, |http, _| {
            let id = create(http);
            end(http, &id);
        });
        *stored = n;
    }
}

/// One client: creates, each reported terminated again, reads.
fn costs(backend: &str, base: &str, backlog: &str, samples: usize) -> String {
    let http = Http::new(base);
    let (mut c, mut u, mut m, mut g, mut l) = (micros(), micros(), micros(), micros(), micros());
    let mut ids = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        ids.push(create(&http));
        c.record(t.elapsed().as_micros().max(1) as u64).unwrap();
    }
    for id in &ids {
        let t = Instant::now();
        end(&http, id);
        u.record(t.elapsed().as_micros().max(1) as u64).unwrap();
    }
    for _ in 0..samples {
        let t = Instant::now();
        let a = http.get("/api/v3.1/maintenance");
        assert_eq!(a.status, 200, "{}", a.body);
        m.record(t.elapsed().as_micros().max(1) as u64).unwrap();
        let t = Instant::now();
        let a = http.get("/api/v3.1/deployments/bench");
        assert_eq!(a.status, 200, "{}", a.body);
        g.record(t.elapsed().as_micros().max(1) as u64).unwrap();
        let t = Instant::now();
        let a = http.get("/api/v3.1/executions?_size=100&_sort=-created_at");
        assert_eq!(a.status, 200, "{}", a.body);
        l.record(t.elapsed().as_micros().max(1) as u64).unwrap();
    }
    format!(
        "| {backend} | {backlog} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} |",
        ms(&c, 0.5),
        ms(&c, 0.99),
        ms(&u, 0.5),
        ms(&u, 0.99),
        ms(&m, 0.5),
        ms(&m, 0.99),
        ms(&g, 0.5),
        ms(&g, 0.99),
        ms(&l, 0.5),
        ms(&l, 0.99)
    )
}

/// Creates per second from `clients` clients over `seconds`.
fn throughput(base: &str, clients: usize, seconds: f64) -> (f64, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, http) = (stop.clone(), Http::new(base));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    create(&http);
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let n: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    (n as f64 / seconds, n)
}

/// Activate with every unfinished execution waiting, then report them all ended
/// (8 clients); seconds per tenth.
fn drain(base: &str) -> (usize, Vec<f64>, f64, String) {
    let http = Http::new(base);
    let a = http.post("/api/v3.1/maintenance/activate");
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let ids: Vec<String> = v["remaining_executions"]
        .as_array()
        .expect("activating, with executions to wait for")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let n = ids.len();
    let tenth = n.div_ceil(10).max(1);
    let marks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids);
    let started = Instant::now();
    {
        let (marks, done, ids) = (marks.clone(), done.clone(), ids.clone());
        spread(base, 8, n, move |http, i| {
            end(http, &ids[i]);
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d % tenth == 0 || d == n {
                marks.lock().unwrap().push(started.elapsed().as_secs_f64());
            }
        });
    }
    let total = started.elapsed().as_secs_f64();
    let mut marks = marks.lock().unwrap().clone();
    marks.sort_by(f64::total_cmp);
    let tenths: Vec<f64> = marks.iter().scan(0.0, |prev, t| {
        let d = t - *prev;
        *prev = *t;
        Some(d)
    }).collect();
    let status = json_field(&http.get("/api/v3.1/maintenance").body, "/status");
    let a = http.post("/api/v3.1/maintenance/deactivate");
    assert_eq!(a.status, 200, "{}", a.body);
    (n, tenths, total, status)
}

fn backend(name: &str, database: Option<&str>, backlog: usize, stored: usize, samples: usize, seconds: f64) {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, base) = start(dir.path(), database);
    let http = Http::new(&base);
    let r = http.send("PUT", "/api/v3.1/deployments/bench", b"{}".to_vec(), "application/json");
    assert_eq!(r.status, 201, "{}", r.body);

    // Costs at each level: nothing unfinished, then topped up.
    let mut have = 0;
    let mut rows = Vec::new();
    for level in [0, 1_000, backlog] {
        fill(&base, &mut have, level);
        rows.push(costs(name, &base, &have.to_string(), samples));
    }
    // Writers with the backlog held.
    let (one, _) = throughput(&base, 1, seconds);
    let (eight, _) = throughput(&base, 8, seconds);
    WRITERS.lock().unwrap().push(format!("| {name} | {backlog}+ | {one:.0} | {eight:.0} | {:.1}× |", eight / one));
    // Drain it all, then the writers again with nothing unfinished (and every ended
    // execution still stored).
    let (n, tenths, total, status) = drain(&base);
    DRAINS.lock().unwrap().push(format!(
        "| {name} | {n} | {total:.1} | {:.0} | {} | {status} |",
        n as f64 / total,
        tenths.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(" ")
    ));
    let (one, made_one) = throughput(&base, 1, seconds);
    let (eight, made_eight) = throughput(&base, 8, seconds);
    WRITERS.lock().unwrap().push(format!(
        "| {name} | 0 → {} ({n} ended stored) | {one:.0} | {eight:.0} | {:.1}× |",
        made_one + made_eight,
        eight / one
    ));
    // A large store: mostly ended, the backlog unfinished again.
    let mut count = stored_count(&http);
    fill_ended(&base, &mut count, stored.saturating_sub(backlog));
    let mut have = 0;
    fill(&base, &mut have, backlog);
    rows.push(costs(name, &base, &format!("{backlog} ({} stored)", stored_count(&http)), samples));
    COSTS.lock().unwrap().extend(rows);
}

static WRITERS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static COSTS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static DRAINS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn main() {
    let (backlog, stored, samples, seconds): (usize, usize, usize, f64) = (
        env("DRYDOCK_BENCH_BACKLOG", 10_000),
        env("DRYDOCK_BENCH_STORED", 100_000),
        env("DRYDOCK_BENCH_SAMPLES", 300),
        env("DRYDOCK_BENCH_SECONDS", 3.0),
    );
    let server = std::env::var("DRYDOCK_BENCH_DATABASE_URL").ok();
    backend("SQLite", None, backlog, stored, samples, seconds);
    match &server {
        Some(server) => {
            let name = format!("drydock_backlog_{}_{:08x}", std::process::id(), rand::random::<u32>());
            let url = drydock_server::store::postgres::create_database(server, &name).expect("create the bench database");
            backend("PostgreSQL", Some(&url), backlog, stored, samples, seconds);
        }
        None => eprintln!("(no DRYDOCK_BENCH_DATABASE_URL: PostgreSQL skipped; scripts/bench-backlog.sh starts one)"),
    }
    println!("\n### Creates per second, 1 client against 8 ({seconds} s each)\n");
    println!("| backend | unfinished | 1 client /s | 8 clients /s | 8 ÷ 1 |\n|---|---|---|---|---|");
    WRITERS.lock().unwrap().iter().for_each(|r| println!("{r}"));
    println!("\n### One client, with a backlog of unfinished executions (ms, p50 / p99; {samples} each)\n");
    println!(
        "| backend | unfinished | create | update → terminated | `GET /maintenance` | gated read | `GET /executions` page |\n|---|---|---|---|---|---|---|"
    );
    COSTS.lock().unwrap().iter().for_each(|r| println!("{r}"));
    println!("\n### Draining: activate, then 8 clients report every unfinished execution terminated\n");
    println!("| backend | executions | seconds | per s | seconds per tenth | state after |\n|---|---|---|---|---|---|");
    DRAINS.lock().unwrap().iter().for_each(|r| println!("{r}"));
    println!(
        "\n(machine: {} cores; the server and the clients share them)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
