//! Swapping the active policy back and forth under concurrent load: every
//! response is what the version named in its header would give, no request
//! fails, and every request sent after an activation returned is decided by the
//! version it activated.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drydock_engine::STRICT_POLICY;
use drydock_e2e::{Client, Resp, Server};
use serde_json::{Value, json};

const P: &str = "/api/v3.1/policies";
const SWAPS: usize = 120;
const CLIENTS: usize = 6;

/// The requests the clients cycle through, while maintenance is activated.
/// (method, path, admitted by both policies?)
const REQUESTS: &[(&str, &str, bool)] = &[
    ("GET", "/api/v3.1/status", true),
    ("GET", "/api/v3.1/deployments", false),
    ("GET", "/api/v3.1/version", true),
    ("POST", "/api/v3.1/executions", false),
    ("GET", "/api/v3.1/executions", false),
    ("GET", "/api/v3.1/maintenance", true),
];

#[derive(Default)]
struct Tally {
    by_default: AtomicU64,
    by_strict: AtomicU64,
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn problem(&self, p: String) {
        let mut list = self.problems.lock().unwrap();
        if list.len() < 20 {
            list.push(p);
        }
    }
}

/// Is `r` exactly what the version named in its header gives for this request?
fn check(r: &Resp, admitted: bool, default: &str, strict: &str, tally: &Tally, what: &str) {
    let Some(label) = r.header("x-drydock-policy") else {
        return tally.problem(format!("{what}: {} without X-Drydock-Policy: {}", r.status, r.text));
    };
    let is_strict = if label == strict {
        tally.by_strict.fetch_add(1, Ordering::Relaxed);
        true
    } else if label == default {
        tally.by_default.fetch_add(1, Ordering::Relaxed);
        false
    } else {
        return tally.problem(format!("{what}: decided by an unknown version {label:?}"));
    };
    if admitted {
        if r.status != 200 {
            tally.problem(format!("{what}: {label} should admit, got {} {}", r.status, r.text));
        }
        return;
    }
    let code = serde_json::from_str::<serde_json::Value>(&r.text)
        .ok()
        .and_then(|v| v["error_code"].as_str().map(str::to_string))
        .unwrap_or_default();
    // No end announced: the default says a minute, the strict policy five.
    let want_retry = if is_strict { Some("300") } else { Some("60") };
    if r.status != 503 || code != "maintenance_mode_active" || r.header("retry-after") != want_retry {
        tally.problem(format!(
            "{what}: {label} should refuse with 503 maintenance_mode_active, Retry-After {want_retry:?}; got {} {code} Retry-After {:?}",
            r.status,
            r.header("retry-after")
        ));
    }
}

fn send(c: &Client, method: &'static str, path: &str) -> Result<Resp, String> {
    let req = c.req(method, path);
    let req = if method == "POST" { req.json(&json!({"deployment_id": "d", "workflow_id": "install"})) } else { req };
    req.try_send().map_err(|e| format!("{method} {path}: transport error: {e}"))
}

#[test]
fn swapping_back_and_forth_under_load_fails_no_request() {
    let s = Server::start();
    let admin = s.admin();
    let user = s.user("loader");
    let default = admin.get(&format!("{P}/builtin")).json()["label"].as_str().unwrap().to_string();
    let up = admin.req("POST", P).header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let (strict_id, strict) =
        (up.json()["id"].as_str().unwrap().to_string(), up.json()["label"].as_str().unwrap().to_string());
    admin.create_deployment("d");
    assert_eq!(maintenance_on(&admin)["status"], "activated");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let sent = Arc::new(AtomicU64::new(0));
    let mut loaders = Vec::new();
    for n in 0..CLIENTS {
        let (stop, tally, sent) = (stop.clone(), tally.clone(), sent.clone());
        let client = s.client("loader", "user-secret");
        let (default, strict) = (default.clone(), strict.clone());
        loaders.push(std::thread::spawn(move || {
            let mut i = n;
            while !stop.load(Ordering::Relaxed) {
                let (method, path, admitted) = REQUESTS[i % REQUESTS.len()];
                i += 1;
                sent.fetch_add(1, Ordering::Relaxed);
                match send(&client, method, path) {
                    Ok(r) => check(&r, admitted, &default, &strict, &tally, &format!("{method} {path}")),
                    Err(e) => tally.problem(e),
                }
            }
        }));
    }

    // Swap back and forth; right after each activation returns, a request must
    // be decided by the version just activated.
    let started = Instant::now();
    let mut swaps = 0;
    for k in 0..SWAPS {
        let (r, want) = if k % 2 == 0 {
            (admin.post(&format!("{P}/{strict_id}/activate"), &json!({})), &strict)
        } else if k % 4 == 1 {
            (admin.post(&format!("{P}/rollback"), &json!({})), &default)
        } else {
            (admin.post(&format!("{P}/builtin/activate"), &json!({})), &default)
        };
        assert_eq!(r.status, 200, "swap {k}: {}", r.text);
        assert_eq!(r.json()["swapped"], true, "swap {k}: {}", r.text);
        swaps += 1;
        let probe = user.get("/api/v3.1/deployments");
        assert_eq!(probe.header("x-drydock-policy"), Some(want.as_str()), "swap {k}: the next request saw the old version");
        check(&probe, false, &default, &strict, &tally, "probe");
    }
    let elapsed = started.elapsed();
    // Let the load run on the last version for a moment, then stop it.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().unwrap();
    }

    let problems = tally.problems.lock().unwrap();
    assert!(problems.is_empty(), "{} problems, e.g.:\n{}", problems.len(), problems.join("\n"));
    let (d, st) = (tally.by_default.load(Ordering::Relaxed), tally.by_strict.load(Ordering::Relaxed));
    let total = sent.load(Ordering::Relaxed);
    eprintln!("{swaps} swaps in {elapsed:?}; {total} concurrent requests: {d} decided by {default}, {st} by {strict}");
    assert!(swaps >= 100);
    assert!(d > 0 && st > 0, "both versions decided some of the load");

    let metrics = s.anon().get("/metrics").text;
    assert!(metrics.lines().any(|l| l == format!("drydock_policy_swaps_total {swaps}")), "{metrics}");
    assert!(!s.log_text().contains("panicked"), "{}", s.log_text());
}

/// Turn maintenance mode on. Without a body: the maintenance handler does not
/// read one, and hyper then drops the keep-alive connection under the client.
fn maintenance_on(admin: &Client) -> Value {
    let r = admin.req("POST", "/api/v3.1/maintenance/activate").send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}
