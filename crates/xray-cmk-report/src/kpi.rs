//! `xray-cmk kpi`: the four KPIs as a table for people, or JSON.

use std::fmt::Write as _;

use xray_cmk_store::kpi::Kpi;

/// Hours as a person reads a duration: minutes, hours or days.
pub fn duration_text(h: Option<f64>) -> String {
    match h {
        None => "-".to_owned(),
        Some(h) if h < 1.0 => format!("{:.0} min", h * 60.0),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} days", h / 24.0),
    }
}

/// The KPIs as pretty-printed JSON (no final newline).
pub fn json(k: &Kpi) -> String {
    serde_json::to_string_pretty(k).unwrap_or_default()
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

/// The KPIs as a table; `steps` counts the apply steps recorded in the window by outcome.
pub fn table(k: &Kpi, steps: &[(String, i64)]) -> String {
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
        duration_text(m.mean_hours),
        duration_text(m.median_hours),
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
            duration_text(Some(o.age_hours))
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
