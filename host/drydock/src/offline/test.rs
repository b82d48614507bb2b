//! `drydock policy test`: case tables through a policy, "N passed, N failed".

use std::path::PathBuf;

use clap::Args;
use drydock_gate::FailMode;
use serde_json::json;

use super::cases;
use super::load;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy: a component file, or builtin:default / builtin:strict.
    pub policy: String,
    /// Case files.
    #[arg(required = true)]
    pub cases: Vec<PathBuf>,
    /// Output: text for people, json for tools.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

pub fn run(args: TestArgs) -> anyhow::Result<i32> {
    let mut files = Vec::new();
    for path in &args.cases {
        match cases::load(path) {
            Ok(c) => files.push((path.clone(), c)),
            Err(e) => {
                eprintln!("Error: {e}");
                return Ok(2);
            }
        }
    }
    let policy = load(&args.policy)?;
    let config = drydock_server::api::gate_config(FailMode::Closed);
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut failures = Vec::new();
    for (path, list) in &files {
        for case in list {
            let actual = cases::evaluate(&policy, &config, case);
            if cases::matches(&case.expect, &actual) {
                passed += 1;
            } else {
                failed += 1;
                failures.push((path.display().to_string(), case.name.clone(), case.expect.clone(), actual));
            }
        }
    }
    if args.format == "json" {
        let out = json!({
            "policy": policy.label(),
            "passed": passed,
            "failed": failed,
            "failures": failures.iter().map(|(f, n, e, a)| json!({"file": f, "case": n, "expected": e, "actual": a})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("policy {}", policy.label());
        for (file, name, expected, actual) in &failures {
            println!("FAIL {file}: {name}\n     expected: {expected}\n     actual:   {actual}");
        }
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

