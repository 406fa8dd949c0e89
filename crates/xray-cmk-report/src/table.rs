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

/// Aligned columns, the last one unpadded, with the status column coloured by each row's status.
fn grid<const N: usize>(
    headers: [&str; N],
    rows: &[([String; N], Status)],
    status_column: usize,
    color: bool,
) -> String {
    // Text from files and from AWS never acts on the terminal (escapes, bidi controls).
    let rows: Vec<([String; N], Status)> = rows
        .iter()
        .map(|(cells, status)| {
            (
                cells
                    .each_ref()
                    .map(|c| xray_cmk_core::text::for_terminal(c).into_owned()),
                *status,
            )
        })
        .collect();
    let rows = rows.as_slice();
    let mut widths = headers.map(str::len);
    for (cells, _) in rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; N], status: Option<Status>| {
        let mut text = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            if i == N - 1 {
                text.push_str(col);
            } else {
                let padded = format!("{col:<w$}  ");
                match status {
                    Some(s) if i == status_column => text.push_str(&paint(color, s, &padded)),
                    _ => text.push_str(&padded),
                }
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(headers, None);
    for (cells, status) in rows {
        line(cells.each_ref().map(String::as_str), Some(*status));
    }
    out
}

/// A suppressed failure is shown in the colour of a pass: it does not count.
fn shown_status(f: &Finding) -> Status {
    if f.is_suppressed() {
        Status::Pass
    } else {
        f.status
    }
}

/// Renders the table. `color` adds ANSI colours to the status column.
pub fn render(report: &Report, color: bool) -> String {
    let rows: Vec<([String; 7], Status)> = report
        .findings
        .iter()
        .map(|f| {
            let m = message(f);
            (cells(f, &m).map(str::to_owned), shown_status(f))
        })
        .collect();
    let mut out = grid(HEADERS, &rows, 2, color);
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

/// The `iac scan` table: where, status, severity, rule, and the resource with the message; then
/// the summary.
pub fn render_iac(report: &Report, color: bool) -> String {
    let rows: Vec<([String; 5], Status)> = report
        .findings
        .iter()
        .map(|f| {
            let at = f.location.as_ref().map_or_else(
                || "-".to_owned(),
                |l| format!("{}:{}:{}", l.file, l.line, l.column),
            );
            let cells = [
                at,
                status(f).to_owned(),
                f.severity.as_str().to_owned(),
                f.rule.to_owned(),
                format!("{} · {}", f.resource, message(f)),
            ];
            (cells, shown_status(f))
        })
        .collect();
    let headers = [
        "LOCATION",
        "STATUS",
        "SEVERITY",
        "RULE",
        "RESOURCE · MESSAGE",
    ];
    let mut out = grid(headers, &rows, 1, color);
    out.push('\n');
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}
