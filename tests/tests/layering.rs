//! The crates' dependency arrows are the architecture: the embeddable gate and the
//! engine pull in none of the server's or the CLI's dependencies, and the engine
//! knows no HTTP stack. Read from `cargo tree`, so a new dependency that breaks the
//! layering fails here.

use std::process::Command;

use drydock_e2e::workspace;

/// The packages in `package`'s normal dependency tree, without the dependencies of
/// proc-macros (those run at build time on the build machine: wasmtime's component
/// macro uses its own wit-component to read WIT).
fn tree(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-p", package, "-e", "normal,no-proc-macro", "--prefix", "none", "--format", "{p}"])
        .current_dir(workspace())
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

const SERVER_AND_CLI: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "clap",
    "ureq",
    "argon2",
    "wit-component",
    "serde_yaml",
    "serde_yaml_ng",
    "tracing-subscriber",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "drydock-server",
];

#[test]
fn the_gate_and_the_engine_pull_in_nothing_of_the_server_or_the_cli() {
    for package in ["drydock-gate", "drydock-engine"] {
        let deps = tree(package);
        assert!(deps.len() > 5, "{package}: a tree this small means the query is wrong: {deps:?}");
        let found: Vec<_> = deps.iter().filter(|d| SERVER_AND_CLI.contains(&d.as_str())).collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn the_engine_knows_no_http_stack() {
    let deps = tree("drydock-engine");
    assert!(deps.iter().any(|d| d == "wasmtime"), "{deps:?}");
    let found: Vec<_> = deps.iter().filter(|d| ["axum", "hyper", "tower", "http", "drydock-gate"].contains(&d.as_str())).collect();
    assert!(found.is_empty(), "drydock-engine depends on {found:?}");
}
