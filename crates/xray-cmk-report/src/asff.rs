//! `--format asff`: AWS Security Finding Format, the shape Security Hub's `BatchImportFindings`
//! takes, as `{"Findings": [...]}`. Passes are included as `PASSED` (with `Workflow` `RESOLVED`),
//! so Security Hub can close what a fix resolved; unknowns are `NOT_AVAILABLE`, never passes.

use serde_json::{json, Value};
use xray_cmk_core::{rules, Finding, Severity, Status};

use crate::Report;

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
    }
}

fn partition(f: &Finding) -> &str {
    f.resource()
        .strip_prefix("arn:")
        .and_then(|r| r.split(':').next())
        .unwrap_or("aws")
}

/// The rule's first reference link, for the remediation URL.
fn reference(docs: &str) -> Option<&str> {
    docs.split("## References")
        .nth(1)?
        .lines()
        .find_map(|l| l.trim().strip_prefix("- "))
        .filter(|u| u.starts_with("https://"))
}

/// One finding in ASFF. `at` is the report time (RFC 3339), used for CreatedAt/UpdatedAt.
pub fn finding(f: &Finding, at: &str) -> Value {
    let meta = rules::by_id(f.rule().as_str());
    let (compliance, workflow) = match f.status() {
        Status::Pass => ("PASSED", "RESOLVED"),
        Status::Fail if f.is_suppressed() => ("FAILED", "SUPPRESSED"),
        Status::Fail => ("FAILED", "NEW"),
        Status::Error => ("NOT_AVAILABLE", "NEW"),
    };
    let severity = if f.status() == Status::Pass {
        "INFORMATIONAL"
    } else {
        label(f.severity())
    };
    let region = if f.region() == "*" || f.region() == "-" {
        "us-east-1"
    } else {
        f.region()
    };
    let resource_type = if f.resource().contains(":kms:") {
        "AwsKmsKey"
    } else {
        "Other"
    };
    let mut out = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("xray-cmk/{}/{}", f.rule(), f.fingerprint()),
        "ProductArn": format!(
            "arn:{}:securityhub:{region}:{}:product/{}/default",
            partition(f), f.account(), f.account()
        ),
        "GeneratorId": format!("xray-cmk/{}", f.rule()),
        "AwsAccountId": f.account(),
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": at,
        "UpdatedAt": at,
        "Severity": { "Label": severity },
        "Confidence": match f.confidence() {
            xray_cmk_core::Confidence::High => 100,
            xray_cmk_core::Confidence::Medium => 60,
            xray_cmk_core::Confidence::Low => 20,
        },
        "Title": meta.map_or(f.rule().as_str(), |m| m.summary),
        "Description": f.message().chars().take(1024).collect::<String>(),
        "Resources": [{
            "Type": resource_type,
            "Id": f.resource(),
            "Partition": partition(f),
            "Region": region,
        }],
        "Compliance": { "Status": compliance },
        "Workflow": { "Status": workflow },
        "RecordState": "ACTIVE",
        "ProductFields": {
            "xray-cmk/rule": f.rule(),
            "xray-cmk/region": f.region(),
        },
    });
    if let Some(url) = meta.and_then(|m| reference(m.docs)) {
        out["Remediation"] = json!({ "Recommendation": {
            "Text": format!("xray-cmk explain {}", f.rule()),
            "Url": url,
        }});
    }
    out
}

/// `{"Findings": [...]}`: every result of the report.
pub fn render(report: &Report) -> String {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| finding(f, &report.generated_at))
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json!({ "Findings": findings })).unwrap_or_default()
    )
}
