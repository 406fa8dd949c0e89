//! The human table: one row per result, then a summary line.

use std::fmt::Write;

use xray_cmk_core::{Finding, Status};

use crate::Report;

const HEADERS: [&str; 7] = [
    "ACCOUNT", "REGION", "STATUS", "SEVERITY", "RULE", "KEY", "MESSAGE",
];

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

/// `key/1234…` from a key ARN, the alias or id otherwise; `-` when there is no key.
fn short_key(key: Option<&str>) -> &str {
    match key {
        None => "-",
        Some(k) => match k.split_once(":key/").or_else(|| k.split_once(":alias/")) {
            Some((_, id)) => id,
            None => k,
        },
    }
}

fn status(f: &Finding) -> &str {
    if f.is_suppressed() {
        "suppressed"
    } else {
        f.status.as_str()
    }
}

/// The message, with the exemption that matched it.
fn message(f: &Finding) -> String {
    match &f.suppression {
        Some(e) if e.expired => format!(
            "{} [exemption expired {}: {}]",
            f.message, e.expires, e.reason
        ),
        Some(e) => format!("{} [exempt until {}: {}]", f.message, e.expires, e.reason),
        None => f.message.clone(),
    }
}

fn cells<'a>(f: &'a Finding, message: &'a str) -> [&'a str; 7] {
    [
        &f.account,
        &f.region,
        status(f),
        f.severity.as_str(),
        f.rule,
        short_key(f.key.as_deref()),
        message,
    ]
}

/// Renders the table. `color` adds ANSI colours to the status column.
pub fn render(report: &Report, color: bool) -> String {
    let messages: Vec<String> = report.findings.iter().map(message).collect();
    let mut widths = HEADERS.map(str::len);
    for (f, m) in report.findings.iter().zip(&messages) {
        for (w, c) in widths.iter_mut().zip(cells(f, m)) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut row = |cols: [&str; 7], status: Option<Status>| {
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
    for (f, m) in report.findings.iter().zip(&messages) {
        let shown = if f.is_suppressed() {
            Status::Pass
        } else {
            f.status
        };
        row(cells(f, m), Some(shown));
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
    let suppressed = match s.suppressed_results {
        0 => String::new(),
        n => format!(", {n} suppressed"),
    };
    format!(
        "{} targets: {} compliant, {} failing, {} error · {pct} · results: {} pass, {} fail, {} error{suppressed}",
        s.targets,
        s.compliant,
        s.failing,
        s.errors,
        s.passed_results,
        s.failed_results,
        s.error_results
    )
}

/// The `iac scan` table: where, status, severity, confidence, rule, and the resource with the
/// message; then the summary.
pub fn render_iac(report: &Report, color: bool) -> String {
    let rows: Vec<[String; 5]> = report
        .findings
        .iter()
        .map(|f| {
            let at = f.location.as_ref().map_or_else(
                || "-".to_owned(),
                |l| format!("{}:{}:{}", l.file, l.line, l.column),
            );
            [
                at,
                status(f).to_owned(),
                f.severity.as_str().to_owned(),
                f.rule.to_owned(),
                format!("{} · {}", f.resource, message(f)),
            ]
        })
        .collect();
    let headers = [
        "LOCATION",
        "STATUS",
        "SEVERITY",
        "RULE",
        "RESOURCE · MESSAGE",
    ];
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 5], status: Option<Status>| -> String {
        let mut line = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            if i == cols.len() - 1 {
                line.push_str(col);
            } else {
                let padded = format!("{col:<w$}  ");
                match (i, status) {
                    (1, Some(s)) => line.push_str(&paint(color, s, &padded)),
                    _ => line.push_str(&padded),
                }
            }
        }
        line.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(headers, None));
    for (f, r) in report.findings.iter().zip(&rows) {
        let shown = if f.is_suppressed() {
            Status::Pass
        } else {
            f.status
        };
        let cols = [
            r[0].as_str(),
            r[1].as_str(),
            r[2].as_str(),
            r[3].as_str(),
            r[4].as_str(),
        ];
        let _ = writeln!(out, "{}", line(cols, Some(shown)));
    }
    out.push('\n');
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}
