//! `drydock policy inspect`: what a component is, and whether it loads.

use anyhow::Context;
use clap::Args;
use drydock_engine as engine;
use drydock_server::registry::budget::mib_text;
use serde_json::json;

use super::policy_bytes;

#[derive(Debug, Args)]
pub struct InspectArgs {
    pub policy: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<i32> {
    let bytes = policy_bytes(&args.policy)?;
    let info = engine::inspect(&bytes).with_context(|| format!("{} is not a WebAssembly component", args.policy))?;
    let loaded = super::load_bytes(&bytes);
    let (name, version, loadable) = match &loaded {
        Ok(p) => (p.name().to_string(), p.version().to_string(), "yes".to_string()),
        Err(e) => ("?".into(), "?".into(), format!("no: {e}")),
    };
    // Which of the two contracts it exports; a component that fits neither is
    // reported against the newest.
    let world = format!("drydock:policy/policy@{}", info.contract.unwrap_or("2.0.0"));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": name, "version": version, "sha256": info.sha256, "size": info.size,
                "exports": info.exports, "imports": info.imports,
                "world": world, "world_ok": info.world_ok(),
                "loadable": loaded.is_ok(), "load_error": loaded.as_ref().err().map(|e| e.to_string()),
                "memory_at_start_bytes": loaded.as_ref().ok().map(|p| p.memory_at_start()),
                "memory_budget_mib": loaded.as_ref().ok().map(|p| p.limits().memory_bytes >> 20),
                "start_micros": loaded.as_ref().ok().map(|p| p.start_time().as_micros() as u64),
                "deadline_ms": loaded.as_ref().ok().map(|p| p.limits().deadline.as_millis() as u64),
            }))?
        );
    } else {
        println!("name:      {name}");
        println!("version:   {version}");
        println!("sha256:    {}", info.sha256);
        println!("size:      {} bytes", info.size);
        println!("world:     {world} ({})", if info.world_ok() { "exported" } else { "NOT exported (nor 1.0.0's)" });
        println!("exports:   {}", if info.exports.is_empty() { "none".into() } else { info.exports.join(", ") });
        println!("imports:   {}", if info.imports.is_empty() { "none".into() } else { info.imports.join(", ") });
        println!("loadable:  {loadable}");
        if let Ok(p) = &loaded {
            println!(
                "memory:    {} at start; an upload gets a budget of {} MiB (ask for more with push --memory-mib)",
                mib_text(p.memory_at_start()),
                p.limits().memory_bytes >> 20
            );
            println!(
                "start:     {:.2} ms to instantiate and answer; an upload gets a deadline of {} ms",
                p.start_time().as_secs_f64() * 1000.0,
                p.limits().deadline.as_millis()
            );
        }
    }
    Ok(if loaded.is_ok() { 0 } else { 1 })
}

