//! A hostile policy, for the sandbox tests (`tests/tests/sandbox.rs`): it decides
//! like the default policy, except on a request whose path has a trigger segment,
//! where it misbehaves in one of the ways the host must contain:
//!
//! | segment          | what the policy does                                  |
//! |------------------|-------------------------------------------------------|
//! | `loop`           | loops forever                                         |
//! | `grow`           | allocates memory without bound                        |
//! | `trap`           | panics (the guest aborts: a trap)                     |
//! | `slow`           | burns about 2 ms of CPU, then allows (under deadline) |
//! | `garbage-status` | denies with status 200                                |
//! | `garbage-empty`  | denies with an empty message                          |
//! | `garbage-huge`   | denies with a 100 KB message                          |
//!
//! The load-time smoke set (`status`, `executions`, `deployments/smoke`,
//! `snapshots/smoke/restore`) has no trigger segment, so the policy loads.
//! Never deploy it anywhere else.

use drydock_policy_default::rules as default;
use drydock_policy_sdk::{Decision, Denial, Input, Policy};

pub struct Hostile;

impl Policy for Hostile {
    fn name() -> &'static str {
        "drydock-hostile"
    }
    fn version() -> &'static str {
        "1.0.0"
    }
    fn decide(input: &Input) -> Decision {
        decide(input)
    }
}

drydock_policy_sdk::export_policy!(Hostile);

/// A way to misbehave, chosen by a path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Loop,
    Grow,
    Trap,
    Slow,
    GarbageStatus,
    GarbageEmpty,
    GarbageHuge,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::Loop,
        Trigger::Grow,
        Trigger::Trap,
        Trigger::Slow,
        Trigger::GarbageStatus,
        Trigger::GarbageEmpty,
        Trigger::GarbageHuge,
    ];

    /// The path segment that fires it.
    pub fn segment(self) -> &'static str {
        match self {
            Trigger::Loop => "loop",
            Trigger::Grow => "grow",
            Trigger::Trap => "trap",
            Trigger::Slow => "slow",
            Trigger::GarbageStatus => "garbage-status",
            Trigger::GarbageEmpty => "garbage-empty",
            Trigger::GarbageHuge => "garbage-huge",
        }
    }
}

/// The first trigger among the path's segments (whole segments only:
/// `/deployments/loopy` is not `/loop`).
pub fn trigger(path: &str) -> Option<Trigger> {
    path.split('/')
        .find_map(|seg| Trigger::ALL.into_iter().find(|t| t.segment() == seg))
}

/// Size of the `garbage-huge` message: 100 times the host's 1 KiB limit.
pub const HUGE: usize = 100 * 1024;

/// Spin iterations for `slow`: 1.5 to 2.5 ms (p50, wall) of guest CPU under
/// wasmtime on a busy 2-core test machine. The test that uses it gives the policy a
/// 200 ms deadline, so a CPU many times slower still finishes under it.
/// Measure with `drydock policy bench` on a case of `/deployments/slow`.
pub const SLOW_ITERATIONS: u64 = 1_000_000;

pub fn decide(input: &Input) -> Decision {
    match trigger(&input.request.path) {
        None => default::decide(input),
        Some(Trigger::Loop) => spin_forever(),
        Some(Trigger::Grow) => grow_forever(),
        Some(Trigger::Trap) => panic!("hostile policy: trap on {}", input.request.path),
        Some(Trigger::Slow) => {
            spin(SLOW_ITERATIONS);
            Decision::Allow
        }
        Some(Trigger::GarbageStatus) => garbage(200, "hostile".into()),
        Some(Trigger::GarbageEmpty) => garbage(503, String::new()),
        Some(Trigger::GarbageHuge) => garbage(503, "x".repeat(HUGE)),
    }
}

fn garbage(status: u16, message: String) -> Decision {
    Decision::Deny(Denial {
        status,
        error_code: "hostile".into(),
        message,
        retry_after: None,
    })
}

/// Work the optimiser cannot remove; returns something to keep it honest.
pub fn spin(iterations: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iterations {
        x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    x
}

fn spin_forever() -> ! {
    let mut x = 0u64;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

/// Keep allocating 64 KiB chunks, touching each, until the allocator fails
/// (the host refuses `memory.grow`) and the guest aborts.
fn grow_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 64 * 1024];
        if let Some(last) = chunk.last_mut() {
            *last = 1;
        }
        hoard.push(core::hint::black_box(chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_policy_default::rules::test_support::{as_caller, input};
    use drydock_policy_sdk::MaintenanceState::{self, *};

    fn at(path: &str) -> Input {
        let mut i = input(Deactivated, "GET", "deployments/{id}");
        i.request.path = path.into();
        i
    }

    #[test]
    fn each_trigger_fires_on_its_segment() {
        for t in Trigger::ALL {
            let seg = t.segment();
            assert_eq!(
                trigger(&format!("/api/v3.1/deployments/{seg}")),
                Some(t),
                "{seg}"
            );
            assert_eq!(trigger(&format!("/api/v3.1/{seg}/x")), Some(t), "{seg}");
        }
        let segments: std::collections::HashSet<_> =
            Trigger::ALL.iter().map(|t| t.segment()).collect();
        assert_eq!(segments.len(), Trigger::ALL.len(), "segments are distinct");
    }

    #[test]
    fn only_whole_segments_fire() {
        for path in [
            "/api/v3.1/deployments",
            "/api/v3.1/deployments/loopy",
            "/api/v3.1/deployments/a-loop",
            "/api/v3.1/deployments/garbage",
            "/api/v3.1/growth",
            "/api/v3.1/status",
            "",
            "/",
        ] {
            assert_eq!(trigger(path), None, "{path}");
        }
    }

    #[test]
    fn the_load_smoke_set_has_no_trigger() {
        // The routes host/src/engine/load.rs smoke-tests, with its `smoke` id.
        for route in [
            "status",
            "executions",
            "deployments/smoke",
            "snapshots/smoke/restore",
        ] {
            assert_eq!(trigger(&format!("/api/v3.1/{route}")), None, "{route}");
        }
    }

    #[test]
    fn without_a_trigger_it_decides_like_the_default() {
        let states: [MaintenanceState; 3] = [Deactivated, Activating, Activated];
        for state in states {
            for (method, route) in [
                ("GET", "status"),
                ("GET", "deployments"),
                ("POST", "executions"),
                ("PUT", "deployments/{id}"),
                ("POST", "snapshots/{id}/restore"),
            ] {
                for (role, bypass) in [("user", false), ("sys_admin", true)] {
                    let i = as_caller(input(state, method, route), role, bypass);
                    assert_eq!(
                        decide(&i),
                        default::decide(&i),
                        "{state:?} {method} {route} {role}"
                    );
                }
            }
        }
    }

    #[test]
    fn garbage_answers_are_the_advertised_garbage() {
        let deny = |path: &str| match decide(&at(path)) {
            Decision::Deny(d) => d,
            Decision::Allow => panic!("{path} allowed"),
        };
        assert_eq!(deny("/api/v3.1/deployments/garbage-status").status, 200);
        let empty = deny("/api/v3.1/deployments/garbage-empty");
        assert_eq!((empty.status, empty.message.as_str()), (503, ""));
        let huge = deny("/api/v3.1/deployments/garbage-huge");
        assert_eq!((huge.status, huge.message.len()), (503, HUGE));
    }

    #[test]
    fn slow_finishes_and_allows() {
        // Even while activated, where the default would refuse.
        let mut i = at("/api/v3.1/deployments/slow");
        i.state = Activated;
        assert_eq!(decide(&i), Decision::Allow);
        assert_ne!(spin(10), spin(11));
    }

    #[test]
    #[should_panic(expected = "hostile policy: trap")]
    fn trap_panics() {
        decide(&at("/api/v3.1/deployments/trap"));
    }
}
