//! SARIF 2.1.0 for `xray-cmk iac scan --format sarif`, in the shape GitHub code scanning accepts:
//! every rule with its help text, one result per failure or undecided check with a relative file
//! URI and a line/column region, and stable `partialFingerprints`.
//!
//! Passes are left out: SARIF results are things to look at. Levels come from
//! [`Level::from`] a severity; a result the rule could not decide (`error`, unknown input) is a
//! `warning` whatever the rule's severity, with low precision, so it is seen but never passes.

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use xray_cmk_core::{rules, Finding, RuleMeta, Severity, Status};

use crate::Report;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// SARIF's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

impl From<Severity> for Level {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Critical | Severity::High => Level::Error,
            Severity::Medium => Level::Warning,
            Severity::Low => Level::Note,
        }
    }
}

/// GitHub's `security-severity`: a CVSS-like score that sorts alerts into its severities.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// `xray-default-encryption` -> `XrayDefaultEncryption`.
fn pascal(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The first reference link of a rule's docs.
fn help_uri(docs: &str) -> Option<&str> {
    let refs = docs.split("## References").nth(1)?;
    refs.lines()
        .find_map(|l| l.trim().strip_prefix("- "))
        .filter(|u| u.starts_with("https://"))
}

/// GitHub code scanning's limit on a rule's descriptions, in characters.
const MAX_DESCRIPTION: usize = 1024;

/// The `## What it does` section, the rule's full description, cut at a word to GitHub's limit
/// (the whole documentation is in `help`).
fn what_it_does(docs: &str) -> String {
    let text = docs
        .split("## What it does")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    if text.chars().count() <= MAX_DESCRIPTION {
        return text;
    }
    let mut out = String::new();
    for word in text.split(' ') {
        if out.chars().count() + word.chars().count() + 2 > MAX_DESCRIPTION {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push('…');
    out
}

fn rule(meta: &RuleMeta) -> Value {
    let mut r = json!({
        "id": meta.id,
        "name": pascal(meta.id.as_str()),
        "shortDescription": { "text": meta.summary },
        "fullDescription": { "text": what_it_does(meta.docs) },
        "help": {
            "text": meta.docs,
            "markdown": meta.docs,
        },
        "defaultConfiguration": { "level": Level::from(meta.severity).as_str() },
        "properties": {
            "tags": ["security", "aws", "x-ray", "kms", "terraform"],
            "precision": "high",
            "security-severity": security_severity(meta.severity),
        },
    });
    if let Some(uri) = help_uri(meta.docs) {
        r["helpUri"] = uri.into();
    }
    r
}

/// Identifies a result across commits that move it: rule, file and the resource judged, not the
/// line.
fn fingerprint(f: &Finding) -> String {
    let file = f.location().map_or("", |l| l.file.as_str());
    let digest = Sha256::digest(format!("{}\u{0}{file}\u{0}{}", f.rule(), f.resource()).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn result(f: &Finding, index: usize) -> Option<Value> {
    let loc = f.location()?;
    let (level, message) = match f.status() {
        Status::Pass => return None,
        _ if f.is_suppressed() => return None,
        Status::Fail => (Level::from(f.severity()), f.message().to_owned()),
        Status::Error if f.rule() == rules::IAC_PARSE_ERROR.id => {
            (Level::Error, f.message().to_owned())
        }
        Status::Error => (
            Level::Warning,
            format!(
                "could not be checked (unknown, never a pass): {}",
                f.message()
            ),
        ),
    };
    let message = match f.resource() {
        "" => message,
        r => format!("{r}: {message}"),
    };
    Some(json!({
        "ruleId": f.rule(),
        "ruleIndex": index,
        "level": level.as_str(),
        "message": { "text": message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": loc.file, "uriBaseId": "%SRCROOT%" },
                "region": {
                    "startLine": loc.line.max(1),
                    "startColumn": loc.column.max(1),
                    "endLine": loc.end_line.max(loc.line).max(1),
                    "endColumn": loc.end_column.max(1),
                },
            },
        }],
        "partialFingerprints": { "xrayCmk/v1": fingerprint(f) },
        "properties": { "confidence": f.confidence().as_str() },
    }))
}

/// The SARIF log of an `iac scan`.
pub fn render(report: &Report) -> String {
    let metas: Vec<&RuleMeta> = rules::ALL
        .iter()
        .map(|r| r.meta())
        .chain(rules::DIAGNOSTICS.iter().copied())
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .filter_map(|f| {
            let index = metas.iter().position(|m| m.id == f.rule())?;
            result(f, index)
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "xray-cmk",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": "https://example.invalid/xray-cmk",
                "rules": metas.iter().map(|m| rule(m)).collect::<Vec<_>>(),
            } },
            "automationDetails": { "id": "xray-cmk/iac/" },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&log).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_links_and_levels() {
        assert_eq!(pascal("xray-default-encryption"), "XrayDefaultEncryption");
        let m = rules::by_id("xray-default-encryption").expect("rule");
        assert_eq!(
            help_uri(m.docs),
            Some("https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html")
        );
        assert!(what_it_does(m.docs).starts_with("Reads the X-Ray encryption configuration"));
        assert_eq!(Level::from(Severity::Critical), Level::Error);
        assert_eq!(Level::from(Severity::Low), Level::Note);
    }

    #[test]
    fn full_descriptions_fit_githubs_limit() {
        for m in rules::ALL.iter().map(|r| r.meta()) {
            let d = what_it_does(m.docs);
            assert!(!d.is_empty(), "{}", m.id);
            assert!(d.chars().count() <= MAX_DESCRIPTION, "{}", m.id);
        }
    }
}
