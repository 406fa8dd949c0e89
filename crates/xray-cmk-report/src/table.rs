//! The human table: one row per result, then a summary line.

use std::fmt::Write;

use xray_cmk_core::{Finding, Status};

use crate::Report;

const HEADERS: [&str; 6] = ["ACCOUNT", "REGION", "STATUS", "SEVERITY", "RULE", "MESSAGE"];

fn paint(color: bool, status: Status, text: &str) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match status {
        Status::Pass => "32",
        Status::Fail => "31",
        Status::Error => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn cells(f: &Finding) -> [&str; 6] {
    [
        &f.account,
        &f.region,
        f.status.as_str(),
        f.severity.as_str(),
        f.rule,
        &f.message,
    ]
}

/// Renders the table. `color` adds ANSI colours to the status column.
pub fn render(report: &Report, color: bool) -> String {
    let mut widths = HEADERS.map(str::len);
    for f in &report.findings {
        for (w, c) in widths.iter_mut().zip(cells(f)) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut row = |cols: [&str; 6], status: Option<Status>| {
        let mut line = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            if i == cols.len() - 1 {
                line.push_str(col);
            } else {
                let padded = format!("{col:<w$}  ");
                match (i, status) {
                    (2, Some(s)) => line.push_str(&paint(color, s, &padded)),
                    _ => line.push_str(&padded),
                }
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    };
    row(HEADERS, None);
    for f in &report.findings {
        row(cells(f), Some(f.status));
    }
    out.push('\n');
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// `18 targets: 2 compliant, 14 failing, 2 error · 11.1% compliant · results: 9 pass, 16 fail, 4 error`
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let pct = s
        .compliance_pct
        .map(|p| format!("{p:.1}% compliant"))
        .unwrap_or_else(|| "nothing scanned".to_owned());
    format!(
        "{} targets: {} compliant, {} failing, {} error · {pct} · results: {} pass, {} fail, {} error",
        s.targets,
        s.compliant,
        s.failing,
        s.errors,
        s.passed_results,
        s.failed_results,
        s.error_results
    )
}
