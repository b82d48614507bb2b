//! `drydock policy new NAME --lang rust|python|js`: a policy to start from — the
//! default rules (Cloudify's) in the chosen language, and the default policy's case
//! tables, which it passes as written.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::polyglot::Lang;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The policy's name (also its directory, and what `name()` answers).
    pub name: String,
    #[arg(long, value_enum, default_value = "rust")]
    pub lang: Lang,
    /// Where to make its directory (default: here).
    #[arg(long, default_value = ".")]
    pub parent: PathBuf,
}

/// The default policy's case tables: what Cloudify's rules answer.
const CASES: [(&str, &str); 5] = [
    ("activated.yaml", include_str!("../../../../policy-wasm/default/cases/activated.yaml")),
    ("activating.yaml", include_str!("../../../../policy-wasm/default/cases/activating.yaml")),
    ("bypass.yaml", include_str!("../../../../policy-wasm/default/cases/bypass.yaml")),
    ("deactivated.yaml", include_str!("../../../../policy-wasm/default/cases/deactivated.yaml")),
    ("planning.yaml", include_str!("../../../../policy-wasm/default/cases/planning.yaml")),
];

const RUST_LIB: &str = include_str!("../../../../policy-wasm/default/src/lib.rs");
const RUST_RULES: &str = include_str!("../../../../policy-wasm/default/src/rules.rs");
const PYTHON_APP: &str = include_str!("../../../../policy-wasm/python-example/app.py");
const JS_POLICY: &str = include_str!("../../../../policy-wasm/js-example/policy.js");

/// The SDK a Rust policy builds on, where this drydock was built from.
fn sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy-wasm/sdk")
}

pub fn run(a: NewArgs) -> anyhow::Result<i32> {
    let ok = !a.name.is_empty() && a.name.len() <= 64 && a.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !a.name.starts_with('-');
    if !ok {
        bail!("`{}` is not a policy name: use lower-case letters, digits and dashes (my-policy)", a.name);
    }
    let dir = a.parent.join(&a.name);
    if dir.exists() {
        bail!("{} exists already: pick another name, or remove it", dir.display());
    }
    std::fs::create_dir_all(dir.join("cases")).with_context(|| format!("cannot make {}", dir.display()))?;
    for (file, text) in CASES {
        std::fs::write(dir.join("cases").join(file), text)?;
    }
    let write = |file: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    match a.lang {
        Lang::Rust => {
            let sdk = std::fs::canonicalize(sdk_path()).unwrap_or_else(|_| sdk_path());
            write(
                "Cargo.toml",
                &format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
                     [dependencies]\ndrydock-policy-sdk = {{ path = \"{sdk}\" }}\n\n[features]\ndefault = [\"component\"]\ncomponent = []\n\n\
                     # A workspace of its own: it builds alone wherever it is.\n[workspace]\n",
                    name = a.name,
                    sdk = sdk.display()
                ),
            )?;
            write("src/lib.rs", &RUST_LIB.replace("\"cloudify-default\"", &format!("\"{}\"", a.name)).replace("\"1.2.0\"", "\"0.1.0\""))?;
            write("src/rules.rs", RUST_RULES)?;
        }
        Lang::Python => write("app.py", &PYTHON_APP.replace("\"cloudify-default-py\"", &format!("\"{}\"", a.name)).replace("\"1.2.0\"", "\"0.1.0\""))?,
        Lang::Js => write("policy.js", &JS_POLICY.replace("'cloudify-default-js'", &format!("'{}'", a.name)).replace("'1.2.0'", "'0.1.0'"))?,
    }
    let (lang, source) = match a.lang {
        Lang::Rust => ("Rust", "src/rules.rs"),
        Lang::Python => ("Python", "app.py"),
        Lang::Js => ("JavaScript", "policy.js"),
    };
    println!("Made {} ({lang}): Cloudify's default rules in {source}, and their case tables in cases/.", dir.display());
    println!("Next:");
    println!("  drydock policy build {} -o {}.wasm", dir.display(), a.name);
    println!("  drydock policy test {}.wasm {}/cases/*.yaml", a.name, dir.display());
    println!("  drydock policy push {}.wasm --shadow", a.name);
    Ok(0)
}
