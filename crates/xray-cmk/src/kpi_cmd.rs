//! `xray-cmk kpi`: the four KPIs over the recorded audits.

use crate::out::{out, outln};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use xray_cmk_store::kpi::compute;

use crate::cli::{KpiArgs, KpiFormat};
use crate::exit::Exit;

pub fn run(args: &KpiArgs) -> Result<Exit> {
    let store = crate::history::open_existing(args.history.db.clone())?;
    let now = SystemTime::now();
    let since = crate::history::rfc3339(now - Duration::from_secs(args.since))?;
    let runs = store.runs("audit", "0000-01-01T00:00:00Z")?;
    let kpi = compute(&runs, &since, &crate::history::rfc3339(now)?, args.requests);
    match args.format {
        KpiFormat::Json => outln!("{}", xray_cmk_report::kpi::json(&kpi)),
        KpiFormat::Table => out!(
            "{}",
            xray_cmk_report::kpi::table(&kpi, &store.step_outcomes(&since)?)
        ),
    }
    Ok(Exit::Clean)
}

/// `xray-cmk history`: runs and key actions in the window.
pub fn history(args: &crate::cli::HistoryListArgs) -> Result<Exit> {
    let store = crate::history::open_existing(args.history.db.clone())?;
    let since = crate::history::rfc3339(SystemTime::now() - Duration::from_secs(args.since))?;
    let runs = store.run_heads(&since)?;
    let actions = store.actions(&since)?;
    match args.format {
        KpiFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&xray_cmk_report::history::document(&runs, &actions))?
        ),
        KpiFormat::Table => out!(
            "{}",
            xray_cmk_report::history::table(&since, &runs, &actions)
        ),
    }
    Ok(Exit::Clean)
}
