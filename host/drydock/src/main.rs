//! The `drydock` command line: `serve`, and the client commands that talk to a
//! running server over its REST API.
//!
//! Exit codes: 0 ok, 1 the request or command failed, 2 usage error,
//! 130 interrupted (Ctrl-C while waiting).


use clap::{CommandFactory, Parser, Subcommand};

use drydock::client::ConnArgs;
use drydock::{decisions, deployments, executions, maintenance, policy, profiles, serve, status, tenants, users};

const MAIN_HELP: &str = "\
Connection flags beat the DRYDOCK_* environment variables, which beat the profile saved
by `drydock profiles use`. The password has no short flag: `-p` belongs to the commands
(`executions start -p key=value`, `users create -p PASSWORD`, `profiles use -p PASSWORD`).

Exit codes: 0 ok, 1 the request failed, 2 usage error, 130 interrupted.

Examples:
  DRYDOCK_ADMIN_PASSWORD=secret drydock serve --listen 127.0.0.1:8080
  drydock profiles use http://127.0.0.1:8080 -u admin -p secret
  drydock maintenance-mode activate --wait
  drydock status";

/// drydock: a maintenance-mode gate whose rules are a sandboxed WebAssembly policy.
#[derive(Debug, Parser)]
#[command(name = "drydock", disable_version_flag = true, arg_required_else_help = true, after_help = MAIN_HELP)]
struct Cli {
    /// Print the client's version and, when the server is reachable, the server's.
    #[arg(short = 'V', long)]
    pub version: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the manager: the REST API, gated by the policy component.
    Serve(serve::ServeArgs),
    /// Show, activate or deactivate maintenance mode.
    #[command(name = "maintenance-mode", subcommand)]
    MaintenanceMode(maintenance::Cmd),
    /// Show the server's services and, when on, the maintenance mode.
    Status(status::Args),
    /// Start, list, show and cancel executions.
    #[command(subcommand)]
    Executions(executions::Cmd),
    /// Create, list, show and delete deployments.
    #[command(subcommand)]
    Deployments(deployments::Cmd),
    /// Create users (sys_admin only).
    #[command(subcommand)]
    Users(users::Cmd),
    /// The server's decision log: what the gate answered, with the input the policy saw.
    #[command(subcommand)]
    Decisions(decisions::Cmd),
    /// Create, list, show and delete tenants, and manage their members' roles.
    #[command(subcommand)]
    Tenants(tenants::Cmd),
    /// Save the server's address and credentials, so later commands need no flags.
    #[command(subcommand)]
    Profiles(profiles::Cmd),
    /// Policy versions on the server (push, activate, rollback, shadow...) and
    /// offline checks of a component (test, eval, inspect, bench).
    Policy(policy::PolicyArgs),
}

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help is not an error (exit 0); every usage error exits 2.
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let conn = cli.conn.with_env();
    if cli.version {
        return status::version(&conn);
    }
    let result = match cli.command {
        None => {
            let _ = Cli::command().print_help();
            return 2;
        }
        Some(Command::Serve(args)) => return finish_serve(serve::run(args)),
        Some(Command::MaintenanceMode(cmd)) => maintenance::run(&conn, cmd),
        Some(Command::Status(args)) => status::run(&conn, args),
        Some(Command::Executions(cmd)) => executions::run(&conn, cmd),
        Some(Command::Deployments(cmd)) => deployments::run(&conn, cmd),
        Some(Command::Users(cmd)) => users::run(&conn, cmd),
        Some(Command::Decisions(cmd)) => decisions::run(&conn, cmd),
        Some(Command::Tenants(cmd)) => tenants::run(&conn, cmd),
        Some(Command::Profiles(cmd)) => profiles::run(&conn, cmd),
        Some(Command::Policy(args)) => return policy::run(&conn, args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => e.report(),
    }
}

fn finish_serve(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}
