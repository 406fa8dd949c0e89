//! `xray-cmk report --out report.html`: the KPIs, the latest audit's findings and keys, and the
//! policy's exemptions, as one self-contained HTML file.

use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use xray_cmk_store::kpi::compute;

use crate::cli::ReportArgs;
use crate::exit::Exit;

pub(crate) fn run(args: &ReportArgs) -> Result<Exit> {
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let store = crate::history::open_existing(args.history.db.clone())?;
    let now = SystemTime::now();
    let (generated_at, today) = crate::audit::now()?;
    let since = crate::history::rfc3339(now - Duration::from_secs(args.since))?;
    let runs = store.runs("audit", "0000-01-01T00:00:00Z")?;
    let kpi = compute(&runs, &since, &generated_at, args.requests);
    let latest = runs.iter().rev().find(|r| r.started_at >= since);
    let keys = match latest {
        Some(r) => store.keys(r.id)?,
        None => Vec::new(),
    };
    let context = xray_cmk_report::html::context(xray_cmk_report::html::ReportInput {
        kpi: &kpi,
        results: latest.map_or(&[][..], |r| r.results.as_slice()),
        scope: latest.map(|r| &r.scope),
        keys: &keys,
        policy: &policy,
        today,
        generated_at: &generated_at,
        version: env!("CARGO_PKG_VERSION"),
        evidence: store.evidence(&since)?,
    });
    let html = xray_cmk_report::html::render(&context)?;
    std::fs::write(&args.out, &html).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} KiB, {} audit runs)",
        args.out.display(),
        html.len().div_ceil(1024),
        kpi.runs
    );
    Ok(Exit::Clean)
}
