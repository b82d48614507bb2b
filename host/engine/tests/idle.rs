//! An idle engine does not wake: after its last decision the deadline ticker parks
//! and stays parked. Its own process (an integration test), so the one
//! `drydock-epoch` thread in it is this engine's.

use std::time::{Duration, Instant};

use drydock_engine::{
    Caller, DEFAULT_POLICY, Engine, ExecutionCounts, Limits, MaintenanceState, RequestDescriptor, Role, Snapshot,
};

/// How often the ticker thread has gone to sleep (Linux: its voluntary context
/// switches), or `None` where that cannot be read.
fn ticker_sleeps() -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() != "drydock-epoch" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
        return line.split_whitespace().nth(1)?.parse().ok();
    }
    None
}

#[test]
fn the_ticker_stays_parked_while_nothing_is_decided() {
    let policy = Engine::new(Limits::default()).unwrap().load(DEFAULT_POLICY).unwrap();
    let caller = Caller { username: "alice".into(), role: Role::User, bypass: false };
    let req = RequestDescriptor::new("GET", "/api/v3.1/deployments", "/api/v3.1/deployments", "/api/v3.1", caller);
    let snap = Snapshot { facts: Vec::new(), state: MaintenanceState::Deactivated, executions: ExecutionCounts { by_status: Vec::new() } };
    policy.decide(&req, &snap).unwrap();
    let Some(mut seen) = ticker_sleeps() else {
        eprintln!("no /proc/self/task here: nothing to observe");
        return;
    };

    // The linger after the call (50 ticks of 1 ms) ends; wait for the count to stop
    // moving, bounded, as a loaded machine stretches every tick.
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = ticker_sleeps().unwrap();
        if now == seen || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        seen = now;
    }

    // Parked, it wakes once a second at most (to notice a dropped engine). Lingering
    // again after each of those would be ~50 wakes a second.
    std::thread::sleep(Duration::from_millis(2500));
    let woke = ticker_sleeps().unwrap() - seen;
    assert!(woke <= 6, "the idle ticker went to sleep {woke} times in 2.5 s");

    // And a decision still runs under a deadline after the park.
    policy.decide(&req, &snap).unwrap();
}
