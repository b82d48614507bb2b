//! The embedded policies are exactly what their sources build to: `drydock policy
//! build` (the one recipe) of `policy-wasm/default` and `policy-wasm/strict` gives the
//! committed bytes under `policy-wasm/builtin/`, which the engine embeds.
//! After changing either policy, `scripts/build-policies.sh` rebuilds them.

use std::process::{Command, Stdio};

use drydock_e2e::{binary, workspace};
use drydock_engine::{DEFAULT_POLICY, STRICT_POLICY};

fn build(crate_dir: &str, out_name: &str) -> Vec<u8> {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(out_name);
    let run = drydock_e2e::cargo_command(binary())
        .args(["policy", "build", crate_dir, "-o"])
        .arg(&out)
        .current_dir(workspace())
        .stdin(Stdio::null())
        .output()
        .expect("run drydock policy build");
    assert!(
        run.status.success(),
        "drydock policy build {crate_dir} failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(&out).unwrap()
}

fn sha_prefix(bytes: &[u8]) -> String {
    // The label's sha256 prefix, as `drydock policy inspect` prints it.
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("inspect-{}.wasm", bytes.len()));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(binary()).args(["policy", "inspect", "--json"]).arg(&file).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["sha256"].as_str().unwrap()[..8].to_string()
}

#[test]
fn the_embedded_policies_are_their_sources_built_by_the_one_recipe() {
    for (dir, name, embedded) in [
        ("policy-wasm/default", "default.wasm", DEFAULT_POLICY),
        ("policy-wasm/strict", "strict.wasm", STRICT_POLICY),
    ] {
        let built = build(dir, name);
        assert!(
            built == embedded,
            "{dir} builds to sha256 {} ({} bytes), the embedded builtin is {} ({} bytes): run scripts/build-policies.sh",
            sha_prefix(&built),
            built.len(),
            sha_prefix(embedded),
            embedded.len()
        );
    }
}
