//! `xray-cmk audit`: collect one account's inventory, evaluate the rules, render, pick the exit code.

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use xray_cmk_aws::SessionOptions;
use xray_cmk_core::{evaluate, Summary};
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
    let findings = evaluate(&inventory);
    let generated_at = DateTime::from(SystemTime::now())
        .fmt(DateFormat::DateTime)
        .unwrap_or_default();
    let report = Report::new(
        env!("CARGO_PKG_VERSION"),
        generated_at,
        Scope {
            accounts: vec![account],
            regions,
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
