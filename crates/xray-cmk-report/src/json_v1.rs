//! The JSON output, schema version 1. These types are the public contract documented in
//! `docs/json-v1.md`: they are separate from the core's types so internal changes never break users.
//! Additive changes keep `1.x`; removing or renaming a field needs a new major version.

use serde::Serialize;

use xray_cmk_core::model::ReadFrom;
use xray_cmk_core::Finding;

use crate::Report;

pub const SCHEMA_VERSION: &str = "1.3";

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub schema_version: &'static str,
    pub tool: Tool<'a>,
    pub generated_at: &'a str,
    pub scope: Scope<'a>,
    pub summary: Summary,
    pub results: Vec<ResultV1<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Tool<'a> {
    pub name: &'static str,
    pub version: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Scope<'a> {
    pub accounts: &'a [String],
    pub regions: &'a [String],
    /// Since 1.1: the policy file in force, `null` for the built-in defaults.
    pub policy: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub targets: usize,
    pub compliant: usize,
    pub failing: usize,
    pub errors: usize,
    pub compliance_pct: Option<f64>,
    pub results: ResultCounts,
}

/// Since 1.1: the exemption that matched a failure.
#[derive(Debug, Serialize)]
pub struct Exemption<'a> {
    pub reason: &'a str,
    pub expires: &'a str,
    pub expired: bool,
}

#[derive(Debug, Serialize)]
pub struct ResultCounts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    /// Since 1.1: failures suppressed by an active exemption (not counted in `fail`).
    pub suppressed: usize,
}

#[derive(Debug, Serialize)]
pub struct ResultV1<'a> {
    pub rule: &'a str,
    pub status: &'static str,
    pub severity: &'static str,
    pub confidence: &'static str,
    pub account: &'a str,
    pub region: &'a str,
    pub resource: &'a str,
    pub key: Option<&'a str>,
    pub message: &'a str,
    /// Since 1.1: a failure an active exemption covers.
    pub suppressed: bool,
    /// Since 1.1: the matching exemption, active or expired.
    pub exemption: Option<Exemption<'a>>,
    /// Since 1.2: where in the source, for `iac scan` results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationV1<'a>>,
    /// Since 1.3: where a live audit read what the result judged; absent for `iac scan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceV1<'a>>,
}

/// Since 1.3: `{"type": "live"}`, or `{"type": "config", "aggregator", "captured_at"}` when X-Ray's
/// encryption configuration came from an AWS Config configuration item
/// (`audit --from-config-aggregator`); `captured_at` is `null` when the aggregator could not be
/// read.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceV1<'a> {
    Live,
    Config {
        aggregator: &'a str,
        captured_at: Option<&'a str>,
    },
}

/// A source region: 1-based lines and columns, the end column exclusive.
#[derive(Debug, Serialize)]
pub struct LocationV1<'a> {
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

fn result(f: &Finding) -> ResultV1<'_> {
    ResultV1 {
        rule: f.rule().as_str(),
        status: f.status().as_str(),
        severity: f.severity().as_str(),
        confidence: f.confidence().as_str(),
        account: f.account(),
        region: f.region(),
        resource: f.resource(),
        key: f.key(),
        message: f.message(),
        suppressed: f.is_suppressed(),
        exemption: f.suppression().map(|e| Exemption {
            reason: &e.reason,
            expires: &e.expires,
            expired: e.expired,
        }),
        location: f.location().map(|l| LocationV1 {
            file: &l.file,
            line: l.line,
            column: l.column,
            end_line: l.end_line,
            end_column: l.end_column,
        }),
        source: f.source().map(|s| match s {
            ReadFrom::Live => SourceV1::Live,
            ReadFrom::Config(c) => SourceV1::Config {
                aggregator: &c.aggregator,
                captured_at: c.captured_at.as_deref(),
            },
        }),
    }
}

impl<'a> From<&'a Report> for Document<'a> {
    fn from(r: &'a Report) -> Self {
        let s = &r.summary;
        Document {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "xray-cmk",
                version: &r.tool_version,
            },
            generated_at: &r.generated_at,
            scope: Scope {
                accounts: &r.scope.accounts,
                regions: &r.scope.regions,
                policy: r.scope.policy.as_deref(),
            },
            summary: Summary {
                targets: s.targets,
                compliant: s.compliant,
                failing: s.failing,
                errors: s.errors,
                compliance_pct: s.compliance_pct,
                results: ResultCounts {
                    pass: s.passed_results,
                    fail: s.failed_results,
                    error: s.error_results,
                    suppressed: s.suppressed_results,
                },
            },
            results: r.findings.iter().map(result).collect(),
        }
    }
}

/// A result as one JSON Lines record (`--format jsonl`): `{"type":"result", …}` with the fields
/// of `results[]`.
pub fn result_line(f: &Finding) -> String {
    record("result", serde_json::to_value(result(f)))
}

/// The closing record of the stream: `{"type":"summary", …}` with the document's fields except
/// `results`, which were streamed before it.
pub fn summary_line(report: &Report) -> String {
    let value = serde_json::to_value(Document::from(report)).map(|mut v| {
        if let Some(map) = v.as_object_mut() {
            map.remove("results");
        }
        v
    });
    record("summary", value)
}

fn record(kind: &str, body: serde_json::Result<serde_json::Value>) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    let mut map = serde_json::Map::new();
    map.insert("type".to_owned(), kind.into());
    if let Ok(serde_json::Value::Object(fields)) = body {
        map.extend(fields);
    }
    let mut out = serde_json::Value::Object(map).to_string();
    out.push('\n');
    out
}

/// Renders the report as pretty-printed JSON v1, with a trailing newline.
pub fn render(report: &Report) -> String {
    let doc = Document::from(report);
    // Serialising plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
