//! `--format csv`: one row per result, RFC 4180 quoting, a header row. For spreadsheets and
//! data pipelines; the columns are fixed and documented in docs/json-v1.md.
//!
//! [`record`] is the one CSV writer: every CSV xray-cmk prints (results, evidence) goes through
//! it.

use xray_cmk_core::Finding;

use crate::Report;

pub const COLUMNS: [&str; 13] = [
    "account",
    "region",
    "status",
    "suppressed",
    "severity",
    "confidence",
    "rule",
    "resource",
    "key",
    "message",
    "file",
    "line",
    "fingerprint",
];

/// A field, quoted when it holds a comma, a quote or a line break. A leading `=`, `+`, `-`, `@`,
/// tab or carriage return is prefixed with `'` so that spreadsheets do not run a message as a
/// formula.
fn field(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn row(f: &Finding, fingerprint: &str) -> String {
    let (file, line) = f
        .location()
        .as_ref()
        .map_or((String::new(), String::new()), |l| {
            (l.file.clone(), l.line.to_string())
        });
    let cells = [
        f.account().to_owned(),
        f.region().to_owned(),
        f.status().as_str().to_owned(),
        f.is_suppressed().to_string(),
        f.severity().as_str().to_owned(),
        f.confidence().as_str().to_owned(),
        f.rule().to_string(),
        f.resource().to_owned(),
        f.key().map(str::to_owned).unwrap_or_default(),
        f.message().to_owned(),
        file,
        line,
        fingerprint.to_owned(),
    ];
    cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",")
}

/// One CSV record of `cells`, each quoted and escaped as [`field`] does, ended by CRLF.
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = cells
        .iter()
        .map(|c| field(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// The header row.
pub fn header() -> String {
    format!("{}\r\n", COLUMNS.join(","))
}

/// One result's row, for streaming.
pub fn line(f: &Finding) -> String {
    format!("{}\r\n", row(f, &f.fingerprint()))
}

pub fn render(report: &Report) -> String {
    let mut out = header();
    for f in &report.findings {
        out.push_str(&line(f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::record;

    #[test]
    fn hostile_cells_are_quoted_and_never_formulas() {
        let row = record(&[
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tcmd",
            "\rcmd",
            "a,b",
            "line\nbreak",
            "plain",
            "",
        ]);
        assert_eq!(
            row,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),'\tcmd,\"'\rcmd\",\"a,b\",\"line\nbreak\",plain,\r\n"
        );
    }
}
