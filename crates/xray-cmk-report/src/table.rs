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
        f.status().as_str()
    }
}

/// The message, with the exemption that matched it.
fn message(f: &Finding) -> String {
    match f.suppression() {
        Some(e) if e.expired => format!(
            "{} [exemption expired {}: {}]",
            f.message(),
            e.expires,
            e.reason
        ),
        Some(e) => format!("{} [exempt until {}: {}]", f.message(), e.expires, e.reason),
        None => f.message().to_owned(),
    }
}

fn cells<'a>(f: &'a Finding, message: &'a str) -> [&'a str; 7] {
    [
        f.account(),
        f.region(),
        status(f),
        f.severity().as_str(),
        f.rule().as_str(),
        short_key(f.key()),
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
        f.status()
    }
}

/// Renders every result as one flat table, then the summary line. `color` adds ANSI colours to
/// the status column.
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

/// A result the terminal view shows without `--show-passes`: everything but a plain pass (a
/// suppressed failure is shown, marked).
fn worth_showing(f: &Finding) -> bool {
    f.status() != Status::Pass
}

/// The audit's terminal view: the failures and errors (every result with `show_passes`) under a
/// line for each account and region, in the report's order; then one line per rule with its
/// counts; then the summary line.
pub fn render_grouped(report: &Report, color: bool, show_passes: bool) -> String {
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| show_passes || worth_showing(f))
        .collect();
    let mut out = String::new();
    if shown.is_empty() {
        let _ = writeln!(out, "no failures and no errors");
    } else {
        let rows: Vec<([String; 5], Status)> = shown
            .iter()
            .map(|f| {
                let m = message(f);
                let [_, _, status, severity, rule, key, message] = cells(f, &m);
                (
                    [status, severity, rule, key, message].map(str::to_owned),
                    shown_status(f),
                )
            })
            .collect();
        let table = grid(
            ["STATUS", "SEVERITY", "RULE", "KEY", "MESSAGE"],
            &rows,
            0,
            color,
        );
        let mut lines = table.lines();
        if let Some(header) = lines.next() {
            let _ = writeln!(out, "{header}");
        }
        let mut group: Option<(&str, &str)> = None;
        for (f, line) in shown.iter().zip(lines) {
            let here = (f.account(), f.region());
            if group != Some(here) {
                let title = xray_cmk_core::text::for_terminal(&format!("{} · {}", here.0, here.1))
                    .into_owned();
                let _ = writeln!(out, "── {title}");
                group = Some(here);
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let hidden = report.findings.len() - shown.len();
    if hidden > 0 {
        let _ = writeln!(
            out,
            "({hidden} passing results not shown; --show-passes lists them, --format json has every result)"
        );
    }
    out.push('\n');
    out.push_str(&by_rule(report));
    out.push('\n');
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// One line per rule judged, in the report's rule order: its passes, failures (suppressed apart)
/// and errors.
fn by_rule(report: &Report) -> String {
    let mut rules: Vec<(&str, [usize; 4])> = Vec::new();
    for f in &report.findings {
        let at = match rules.iter().position(|(r, _)| *r == f.rule()) {
            Some(i) => i,
            None => {
                rules.push((f.rule().as_str(), [0; 4]));
                rules.len() - 1
            }
        };
        let column = match (f.status(), f.is_suppressed()) {
            (Status::Pass, _) => 0,
            (Status::Fail, false) => 1,
            (Status::Fail, true) => 2,
            (Status::Error, _) => 3,
        };
        rules[at].1[column] += 1;
    }
    let rank = |id: &str| {
        xray_cmk_core::rules::EVERY
            .iter()
            .position(|r| r.meta().id == id)
    };
    rules.sort_by_key(|(r, _)| rank(r));
    let rows: Vec<([String; 5], Status)> = rules
        .iter()
        .map(|(rule, [pass, fail, suppressed, error])| {
            let worst = if *error > 0 {
                Status::Error
            } else if *fail > 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            (
                [
                    (*rule).to_owned(),
                    pass.to_string(),
                    fail.to_string(),
                    suppressed.to_string(),
                    error.to_string(),
                ],
                worst,
            )
        })
        .collect();
    grid(
        ["RULE", "PASS", "FAIL", "SUPPRESSED", "ERROR"],
        &rows,
        usize::MAX,
        false,
    )
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
            let at = f.location().map_or_else(
                || "-".to_owned(),
                |l| format!("{}:{}:{}", l.file, l.line, l.column),
            );
            let cells = [
                at,
                status(f).to_owned(),
                f.severity().as_str().to_owned(),
                f.rule().to_string(),
                format!("{} · {}", f.resource(), message(f)),
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
