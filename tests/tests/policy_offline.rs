//! `drydock policy test|eval|inspect|bench`: the real binary, no server.

use std::path::Path;
use std::process::{Command, Output};

use drydock_e2e::{binary, workspace};

fn drydock(args: &[&str]) -> Output {
    Command::new(binary()).args(args).current_dir(workspace()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn cases_in(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(workspace().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path().strip_prefix(workspace()).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn the_shipped_cases_pass_against_the_built_components() {
    for (policy, dir) in [("builtin:default", "policy-wasm/default/cases"), ("builtin:strict", "policy-wasm/strict/cases")] {
        let files = cases_in(dir);
        let mut args = vec!["policy", "test", policy];
        args.extend(files.iter().map(String::as_str));
        let o = drydock(&args);
        let out = text(&o);
        assert!(o.status.success(), "{policy}: {out}");
        assert!(out.contains(" passed, 0 failed"), "{out}");
    }
}

#[test]
fn a_failing_case_is_reported_and_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "wrong.yaml",
        "cases:\n  - name: claims deployments pass while activated\n    state: activated\n    request: {method: GET, path: /api/v3.1/deployments}\n    expect: allow\n  - name: status passes\n    state: activated\n    request: {method: GET, path: /api/v3.1/status}\n    expect: allow\n",
    );
    let o = drydock(&["policy", "test", "builtin:default", &f]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL") && out.contains("claims deployments pass while activated"), "{out}");
    assert!(out.contains("expected: allow"), "{out}");
    assert!(out.contains("actual:   deny 503 maintenance_mode_active"), "{out}");
    assert!(out.lines().any(|l| l == "1 passed, 1 failed"), "{out}");

    // The same through --format json.
    let o = drydock(&["policy", "test", "builtin:default", &f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["failures"][0]["actual"]["deny"]["error_code"], "maintenance_mode_active");
}

#[test]
fn malformed_case_files_name_file_case_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let unknown = write(tmp.path(), "unknown.yaml", "cases:\n  - name: typo\n    request: {method: GET, path: /api/v3.1/status, methd: GET}\n    expect: allow\n");
    let missing = write(tmp.path(), "missing.yaml", "cases:\n  - name: fine\n    request: {method: GET, path: /x}\n    expect: allow\n  - name: no expectation\n    request: {method: GET, path: /x}\n");
    let bad = write(tmp.path(), "bad.json", r#"{"cases": [{"name": "j", "state": "on", "request": {"method": "GET", "path": "/x"}, "expect": "allow"}]}"#);
    for (file, needles) in [
        (&unknown, vec!["unknown.yaml", "case 1 (typo)", "methd"]),
        (&missing, vec!["missing.yaml", "case 2 (no expectation)", "expect"]),
        (&bad, vec!["bad.json", "case 1 (j)", "field `state`", "on"]),
    ] {
        let o = drydock(&["policy", "test", "builtin:default", file]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        for n in needles {
            assert!(out.contains(n), "{n:?} missing from: {out}");
        }
    }
}

#[test]
fn eval_inspect_and_bench() {
    let o = drydock(&["policy", "eval", "builtin:default", "--state", "activating", "--executions", "2", "--method", "POST", "--path", "/api/v3.1/executions"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("route executions") && out.contains("deny 503 entering_maintenance_mode"), "{out}");

    let o = drydock(&["policy", "inspect", "builtin:strict", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(v["name"], "cloudify-strict");
    assert_eq!(v["imports"], serde_json::json!([]));
    assert_eq!(v["loadable"], true);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);

    let tmp = tempfile::tempdir().unwrap();
    let junk = write(tmp.path(), "junk.wasm", "not a component");
    let o = drydock(&["policy", "inspect", &junk]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = drydock(&["policy", "bench", "builtin:default", "--iterations", "2000", "--warmup", "200", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(v["decisions"], 2000);
    assert_eq!(v["faults"], 0);
    assert!(v["p50_us"].as_f64().unwrap() > 0.0);
}
