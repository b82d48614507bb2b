//! Policies in Python and JavaScript, from a fresh start to deciding requests:
//! `drydock policy new --lang python|js` (the shipped example, named), `policy
//! build` (componentize-py / componentize-js fetched into a tools cache on first
//! use, every WASI import left out), `policy test` on the default case tables, then
//! on a server started with no flag changed: upload (its recorded budget admits
//! it), shadow (it agrees with the builtin: the same rules), activate, and it
//! decides requests under the sandbox. A component that imports WASI is refused
//! with the import names, before any compilation.
//!
//! Slow by nature (a 12–18 MB component compiles for half a minute in a debug
//! build: twice here, `build`'s check — which `test` then reuses from the tools
//! cache — and the server's upload), so each language is one test, and the two run
//! side by side.

use std::path::{Path, PathBuf};

use drydock_e2e::{ADMIN_PASSWORD, Server, run_cli, workspace};
use serde_json::json;

/// The toolchains, kept in the target dir: fetched once per checkout.
fn tools() -> PathBuf {
    let dir = std::env::var_os("DRYDOCK_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target").join("drydock-tools"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cli(args: &[&str]) -> drydock_e2e::CliOutput {
    let tools = tools();
    run_cli(&[("DRYDOCK_TOOLS_DIR", tools.to_str().unwrap())], args)
}

fn from_new_to_deciding(lang: &str, example: &str, source: &str) -> (Server, PathBuf, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let parent = work.path().to_str().unwrap();
    let out = cli(&["policy", "new", "gate-rules", "--lang", lang, "--parent", parent]);
    assert_eq!(out.code, 0, "{out:?}");
    let dir = work.path().join("gate-rules");
    // The scaffold is the shipped example, named.
    let made = std::fs::read_to_string(dir.join(source)).unwrap();
    let shipped = std::fs::read_to_string(workspace().join("policy-wasm").join(example).join(source)).unwrap();
    assert_eq!(made.lines().count(), shipped.lines().count(), "{lang}: the example's source");
    assert!(made.contains("gate-rules") && !made.contains("cloudify-default-"), "{lang}: named");

    let wasm = work.path().join("gate-rules.wasm");
    let out = cli(&["policy", "build", dir.to_str().unwrap(), "-o", wasm.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{lang}: build: {out:?}");
    // (`build` refuses a component that imports anything, as an upload does.)

    let cases: Vec<String> = std::fs::read_dir(dir.join("cases")).unwrap().map(|e| e.unwrap().path().to_str().unwrap().to_string()).collect();
    let mut args = vec!["policy", "test", wasm.to_str().unwrap()];
    args.extend(cases.iter().map(String::as_str));
    let out = cli(&args);
    assert_eq!(out.code, 0, "{lang}: the default case tables: {out:?}");
    assert!(out.stdout.contains("0 failed"), "{}", out.stdout);

    // A server with no flag changed.
    let s = Server::start();
    let base = s.base();
    let env = [("DRYDOCK_URL", base.as_str()), ("DRYDOCK_USERNAME", "admin"), ("DRYDOCK_PASSWORD", ADMIN_PASSWORD)];
    let out = run_cli(&env, &["policy", "push", wasm.to_str().unwrap(), "--shadow", "--json"]);
    assert_eq!(out.code, 0, "{lang}: push: {out:?}");
    let admin = s.admin();
    let listed = admin.get("/api/v3.1/policies").json();
    let version = listed["items"].as_array().unwrap().iter().find(|v| v["name"] == "gate-rules").cloned().expect("stored");
    let budget = version["memory_mib"].as_u64().unwrap();
    assert!(4 < budget && budget <= 32, "{lang}: a budget for what it needs (more than the 4 MiB default), within the maximum: {version}");
    let id = version["id"].as_str().unwrap().to_string();

    // Shadowed beside the builtin: the same rules, so no disagreement.
    let user = s.user("ann");
    assert_eq!(admin.create_deployment("d").status, 201);
    for _ in 0..5 {
        assert_eq!(user.get("/api/v3.1/deployments").status, 200);
    }
    admin.wait_for(60, "the candidate saw the requests", |c| c.get("/api/v3.1/policies/shadow").json()["evaluated"].as_u64().unwrap_or(0) >= 5);
    let report = admin.get("/api/v3.1/policies/shadow").json();
    assert_eq!((report["disagreements"].as_u64(), report["candidate_faults"].as_u64()), (Some(0), Some(0)), "{lang}: {report}");

    // Active: it decides, under its budget, refusing as Cloudify does while activated.
    let r = admin.post(&format!("/api/v3.1/policies/{id}/activate"), &json!({}));
    assert_eq!(r.status, 200, "{lang}: {}", r.text);
    let r = user.get("/api/v3.1/deployments");
    assert_eq!((r.status, r.header("x-drydock-policy").unwrap_or("").starts_with("gate-rules@0.1.0#")), (200, true), "{lang}: {}", r.text);
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activated");
    for _ in 0..20 {
        let r = user.get("/api/v3.1/deployments");
        assert_eq!((r.status, r.error_code().as_str()), (503, "maintenance_mode_active"), "{lang}: {}", r.text);
    }
    assert_eq!(user.get("/api/v3.1/status").status, 200, "{lang}: status stays open");
    let metrics = s.anon().get("/metrics").text;
    let faults: u64 = metrics.lines().filter(|l| l.starts_with("drydock_policy_faults_total") && l.contains("gate-rules")).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum();
    assert_eq!(faults, 0, "{lang}: no fault under the sandbox's limits");
    (s, dir, work)
}

#[test]
fn a_python_policy_goes_from_new_to_deciding_with_no_server_flag_changed() {
    let (server, dir, _work) = from_new_to_deciding("python", "python-example", "app.py");
    a_component_that_imports_wasi_is_refused_with_the_import_names(&server, &dir);
}

#[test]
fn a_javascript_policy_goes_from_new_to_deciding_with_no_server_flag_changed() {
    from_new_to_deciding("js", "js-example", "policy.js");
}

/// Built without stubbing WASI (componentize-py as `policy build` fetched it), a
/// Python component imports the WASI interfaces: it is refused, naming them (before
/// it is compiled: the engine's `refuses_imports_naming_each`).
fn a_component_that_imports_wasi_is_refused_with_the_import_names(s: &Server, dir: &Path) {
    let tool = tools().join("componentize-py-0.25.1").join("bin").join("componentize-py");
    let work = tempfile::tempdir().unwrap();
    let wit_dir = work.path().join("wit");
    std::fs::create_dir(&wit_dir).unwrap();
    std::fs::copy(workspace().join("wit").join("policy.wit"), wit_dir.join("policy.wit")).unwrap();
    let wasm = work.path().join("leaky.wasm");
    let built = std::process::Command::new(&tool)
        .arg("-d")
        .arg(&wit_dir)
        .args(["-w", "policy", "componentize", "-p"])
        .arg(dir)
        .arg("app")
        .arg("-o")
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let r = upload(s, &wasm);
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("imports") && r.text.contains("wasi:cli/"), "the import names: {}", r.text);
}

fn upload(s: &Server, wasm: &Path) -> drydock_e2e::Resp {
    s.admin().req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(std::fs::read(wasm).unwrap()).send()
}
