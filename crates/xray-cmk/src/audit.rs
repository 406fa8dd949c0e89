//! `xray-cmk audit`: collect one account's inventory, evaluate the rules, render, pick the exit code.

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use xray_cmk_aws::SessionOptions;
use xray_cmk_core::{evaluate, Context, Date, Summary};
use xray_cmk_report::{json_v1, table, Report, Scope};

use crate::cli::{AuditArgs, Format};
use crate::exit::Exit;

pub fn run(args: AuditArgs, color: bool) -> Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args, color))
}

async fn run_async(args: AuditArgs, color: bool) -> Result<Exit> {
    let progress = !args.quiet && std::io::stderr().is_terminal();
    // The policy is read first: a broken policy file should fail before any AWS call.
    let (policy, policy_path) = crate::policy_cmd::load(args.policy.as_deref())?;
    let session = xray_cmk_aws::load(&SessionOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        max_attempts: None,
    })
    .await?;
    let account = session.identity.account.clone();

    let regions = if args.regions.is_empty() {
        session.enabled_regions().await?
    } else {
        let mut r = args.regions.clone();
        r.sort();
        r.dedup();
        r
    };
    if progress {
        eprintln!(
            "auditing account {account} ({}) in {} regions…",
            session.identity.arn,
            regions.len()
        );
    }

    let inventory = xray_cmk_aws::scan(
        &session.config,
        &account,
        &regions,
        usize::from(args.concurrency),
    )
    .await;
    let generated_at = DateTime::from(SystemTime::now())
        .fmt(DateFormat::DateTime)
        .context("formatting the current time")?;
    let today: Date = generated_at
        .get(..10)
        .and_then(|d| d.parse().ok())
        .context("reading today's date")?;
    let findings = evaluate(&Context {
        inventory: &inventory,
        policy: &policy,
        today,
    });
    let report = Report::new(
        env!("CARGO_PKG_VERSION"),
        generated_at,
        Scope {
            accounts: vec![account],
            regions,
            policy: policy_path.map(|p| p.display().to_string()),
        },
        findings,
    );

    let rendered = match args.format {
        Format::Table => table::render(&report, color),
        Format::Json => json_v1::render(&report),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the report to stdout")?;

    Ok(
        if report.summary.errors > 0 || report.summary.error_results > 0 {
            Exit::Incomplete
        } else if Summary::has_failures_at_or_above(&report.findings, args.fail_on) {
            Exit::Findings
        } else {
            Exit::Clean
        },
    )
}
