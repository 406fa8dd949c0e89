//! `xray-cmk`: audit and enforce customer managed KMS keys for AWS X-Ray.

// Every command writes stdout through `out` (a closed pipe ends quietly), never `print!`.
#![deny(clippy::print_stdout)]

mod apply_cmd;
mod audit;
mod cli;
mod debug_cmd;
mod docs_cmd;
mod exit;
mod guard_cmd;
mod history;
mod iac_cmd;
mod input;
mod kpi_cmd;
mod out;
mod plan_cmd;
mod policy_cmd;
mod progress;
mod report_cmd;
mod respond_cmd;
mod rules_cmd;
mod runtime;

use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XRAY_CMK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let color = cli::use_color(cli.no_color);
    let result = match cli.command {
        Command::Audit(mut args) => {
            args.scan.legacy_region.fold_into(&mut args.scan.aws);
            audit::run(*args, color)
        }
        Command::Plan(mut args) => {
            args.scan.legacy_region.fold_into(&mut args.scan.aws);
            no_effect("plan", &args.no_effect.given());
            plan_cmd::run(*args)
        }
        Command::Apply(mut args) => {
            args.legacy_region.fold_into(&mut args.aws);
            apply_cmd::run(*args)
        }
        Command::Verify(mut args) => {
            args.scan.legacy_region.fold_into(&mut args.scan.aws);
            no_effect("verify", &args.no_effect.given());
            apply_cmd::run_verify(*args)
        }
        Command::Rules(args) => rules_cmd::list(&args),
        Command::Explain(args) => rules_cmd::explain(&args),
        Command::Policy(cmd) => policy_cmd::run(&cmd),
        Command::IamPolicy(args) => rules_cmd::iam_policy(&args),
        Command::Iac(cli::IacCommand::Scan(args)) => iac_cmd::scan(&args, color),
        Command::Iac(cli::IacCommand::Generate(args)) => iac_cmd::generate(&args),
        Command::Guard(cli::GuardCommand::Generate(args)) => guard_cmd::generate(&args),
        Command::Kpi(args) => kpi_cmd::run(&args),
        Command::Report(args) => report_cmd::run(&args),
        Command::Erase(args) => respond_cmd::run(&args, false),
        Command::Restore(args) => respond_cmd::run(&args, true),
        Command::RotateNow(args) => respond_cmd::rotate_now(&args),
        Command::History(args) => kpi_cmd::history(&args),
        Command::Evidence(args) => respond_cmd::evidence(&args),
        Command::Completions(args) => docs_cmd::completions(&args),
        Command::Man(args) => docs_cmd::man(&args),
        Command::Debug(cmd) => debug_cmd::run(&cmd),
    };
    match result {
        // Output that could not be written (other than to a closed pipe) is a failure.
        Ok(_) if out::failed() => Exit::Config.into(),
        Ok(code) => code.into(),
        Err(err) => {
            // What AWS or a file said is in it: it never acts on the terminal.
            eprintln!(
                "error: {}",
                xray_cmk_core::text::for_terminal_lines(&format!("{err:#}"))
            );
            Exit::Config.into()
        }
    }
}

/// One deprecation line on stderr per flag given that `command` accepts and ignores.
fn no_effect(command: &str, flags: &[&str]) {
    for flag in flags {
        eprintln!("{}", cli::no_effect_line(flag, command));
    }
}
