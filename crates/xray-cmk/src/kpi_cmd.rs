//! `xray-cmk kpi`: the four KPIs over the recorded audits.

use crate::out::{out, outln};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use xray_cmk_store::kpi::{compute, Kpi};

use crate::cli::{KpiArgs, KpiFormat};
use crate::exit::Exit;

pub fn run(args: &KpiArgs) -> Result<Exit> {
    let store = crate::history::open_existing(args.history.db.clone())?;
    let now = SystemTime::now();
    let since = crate::history::rfc3339(now - Duration::from_secs(args.since))?;
    let runs = store.runs("audit", "0000-01-01T00:00:00Z")?;
    let kpi = compute(&runs, &since, &crate::history::rfc3339(now)?, args.requests);
    match args.format {
        KpiFormat::Json => outln!("{}", serde_json::to_string_pretty(&kpi)?),
        KpiFormat::Table => out!("{}", render(&kpi, &store.step_outcomes(&since)?)),
    }
    Ok(Exit::Clean)
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

fn render(k: &Kpi, steps: &[(String, i64)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "xray-cmk KPIs since {} ({} audit runs)\n",
        k.since, k.runs
    );
    let c = &k.compliance;
    match &c.now {
        Some(now) => {
            let _ = writeln!(
                out,
                "Compliance    {} now ({} of {} targets)",
                pct(now.pct),
                now.compliant,
                now.targets
            );
        }
        None => {
            let _ = writeln!(out, "Compliance    no audit in the window");
        }
    }
    if c.trend.len() > 1 {
        let trend: Vec<String> = c
            .trend
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p.started_at.get(..16).unwrap_or(&p.started_at),
                    pct(p.pct)
                )
            })
            .collect();
        let _ = writeln!(out, "  trend       {}", trend.join(" → "));
    }
    for (label, shares) in [("account", &c.by_account), ("region", &c.by_region)] {
        let worst: Vec<String> = {
            let mut s: Vec<_> = shares.iter().collect();
            s.sort_by(|a, b| {
                a.pct
                    .partial_cmp(&b.pct)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            s.iter()
                .take(5)
                .map(|s| format!("{} {} ({}/{})", s.name, pct(s.pct), s.compliant, s.targets))
                .collect()
        };
        if !worst.is_empty() {
            let _ = writeln!(out, "  by {label:<8}  lowest: {}", worst.join(", "));
        }
    }
    let m = &k.mttr;
    let _ = writeln!(
        out,
        "\nRemediation   mean {} · median {} over {} remediated in the window",
        crate::history::duration_text(m.mean_hours),
        crate::history::duration_text(m.median_hours),
        m.remediated.len()
    );
    let mut oldest: Vec<_> = m.open.iter().collect();
    oldest.sort_by(|a, b| b.age_hours.total_cmp(&a.age_hours));
    for o in oldest.iter().take(5) {
        let _ = writeln!(
            out,
            "  open        {} {} {} {} · failing for {}",
            o.account,
            o.region,
            o.severity,
            o.rule,
            crate::history::duration_text(Some(o.age_hours))
        );
    }
    if !steps.is_empty() {
        let s: Vec<String> = steps.iter().map(|(o, n)| format!("{n} {o}")).collect();
        let _ = writeln!(out, "  apply steps {}", s.join(", "));
    }
    let f = &k.findings;
    let sev: Vec<String> = ["critical", "high", "medium", "low"]
        .iter()
        .filter_map(|s| f.open_by_severity.get(*s).map(|n| format!("{n} {s}")))
        .collect();
    let _ = writeln!(
        out,
        "\nFindings      {} open ({}) · {} opened, {} closed in the window",
        f.open,
        if sev.is_empty() {
            "none".to_owned()
        } else {
            sev.join(", ")
        },
        f.opened_in_window,
        f.closed_in_window
    );
    let mut rules: Vec<_> = f.open_by_rule.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1));
    for (rule, n) in rules.iter().take(8) {
        let _ = writeln!(out, "  {n:>5}       {rule}");
    }
    let cost = &k.cost;
    let _ = writeln!(
        out,
        "\nKMS cost      ${:.2} a month now, up to ${:.2} once every key has rotated twice ({} customer managed keys{}{})",
        cost.total_usd_month_now,
        cost.total_usd_month_max,
        cost.keys,
        match (cost.keys_unknown, cost.targets_unread) {
            _ if k.compliance.now.is_none() => String::new(),
            (Some(0), Some(0)) => String::new(),
            (Some(k), Some(t)) => format!(", at least: {k} keys and {t} targets unknown"),
            _ => ", at least: what it could not read is unknown".to_owned(),
        },
        cost.requests_usd_month
            .map(|r| format!(", requests ${r:.2}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "  assumptions:");
    for a in &cost.assumptions {
        let _ = writeln!(out, "  - {a}");
    }
    out
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
            serde_json::to_string_pretty(&serde_json::json!({ "runs": runs, "actions": actions }))?
        ),
        KpiFormat::Table => {
            let mut out = String::new();
            let _ = writeln!(out, "runs since {since}:");
            for r in &runs {
                let _ = writeln!(
                    out,
                    "  {:>5}  {:<6} {}  {}",
                    r.id,
                    r.kind,
                    r.started_at,
                    match (r.status, r.exit_code) {
                        (xray_cmk_store::RunStatus::Incomplete, _) => format!(
                            "INCOMPLETE: did not finish (killed, still running, or not fully recorded); {} step{} recorded",
                            r.steps.len(),
                            if r.steps.len() == 1 { "" } else { "s" }
                        ),
                        (_, Some(c)) => format!("exit {c}"),
                        (_, None) => "finished".to_owned(),
                    }
                );
                for s in &r.steps {
                    let _ = writeln!(
                        out,
                        "         {} {} step {} {:<20} {:<8} {}  {}",
                        s.account,
                        s.region,
                        s.step,
                        s.action,
                        s.outcome,
                        s.ended_at.as_deref().unwrap_or("-"),
                        s.message
                    );
                }
            }
            let _ = writeln!(out, "key actions since {since}:");
            for a in &actions {
                let _ = writeln!(
                    out,
                    "  {}  {:<17} {} ({}/{}) by {}: {} -> {}",
                    a.at, a.action, a.key_arn, a.account, a.region, a.who, a.reason, a.state_after
                );
            }
            if actions.is_empty() {
                let _ = writeln!(out, "  none");
            }
            out!("{out}");
        }
    }
    Ok(Exit::Clean)
}
