//! `drydock policy eval`: one request, one decision.

use clap::Args;
use drydock_engine::{ExecutionStatus, MaintenanceState};
use drydock_gate::FailMode;
use serde_json::json;

use super::cases::{self, Case, CaseRequest, Expected};
use super::load;

#[derive(Debug, Args)]
pub struct EvalArgs {
    pub policy: String,
    #[arg(long, default_value = "deactivated", value_parser = ["deactivated", "activating", "activated"])]
    pub state: String,
    /// Unfinished executions (counted as `started`).
    #[arg(long, default_value_t = 0)]
    pub executions: u32,
    #[arg(long, default_value = "GET")]
    pub method: String,
    #[arg(long)]
    pub path: String,
    /// Route template below the API version; resolved from --path if omitted.
    #[arg(long)]
    pub route: Option<String>,
    #[arg(long, default_value = "user")]
    pub user: String,
    #[arg(long, default_value = "user", value_parser = ["sys_admin", "user", "default"])]
    pub role: String,
    /// Send X-BYPASS-MAINTENANCE.
    #[arg(long)]
    pub bypass: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<i32> {
    let policy = load(&args.policy)?;
    let case = Case {
        name: "eval".into(),
        state: MaintenanceState::parse(&args.state).unwrap_or(MaintenanceState::Deactivated),
        executions: if args.executions > 0 {
            [(ExecutionStatus::Started, args.executions)].into_iter().collect()
        } else {
            Default::default()
        },
        request: CaseRequest {
            method: args.method,
            path: args.path,
            route: args.route,
            user: args.user,
            role: args.role,
            bypass: args.bypass,
            attributes: Default::default(),
        },
        facts: Default::default(),
        expect: Expected::Allow,
    };
    let (desc, _) = case.descriptor();
    let actual = cases::evaluate(&policy, &drydock_server::api::gate_config(FailMode::Closed), &case);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"policy": policy.label(), "route": desc.route, "decision": actual}))?);
    } else {
        println!("policy:   {}", policy.label());
        println!("request:  {} {} (route {}, first segment {})", desc.method, desc.path, desc.route, desc.first_segment);
        println!("decision: {actual}");
    }
    Ok(0)
}

