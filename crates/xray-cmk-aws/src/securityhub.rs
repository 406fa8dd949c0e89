//! Sending ASFF findings to AWS Security Hub (`BatchImportFindings`, 100 at a time), from the
//! same documents `--format asff` prints, so what is sent is exactly what can be reviewed.

use std::collections::HashMap;

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Partition, Recommendation, RecordState,
    Remediation, Resource, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

use crate::error::classify;

/// Security Hub's limit per `BatchImportFindings` call.
pub const BATCH: usize = 100;

/// What one account and region's import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: usize,
    /// `id: code: message` of each finding Security Hub refused, and errors of whole calls.
    pub failed: Vec<String>,
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// One ASFF document (as [`xray_cmk_report::asff`] writes it) as the SDK's type.
pub fn to_sdk(f: &Value) -> Result<AwsSecurityFinding, String> {
    let r = &f["Resources"][0];
    let resource = Resource::builder()
        .r#type(s(r, "Type"))
        .id(s(r, "Id"))
        .partition(Partition::from(s(r, "Partition")))
        .region(s(r, "Region"))
        .build();
    let mut b = AwsSecurityFinding::builder()
        .schema_version(s(f, "SchemaVersion"))
        .id(s(f, "Id"))
        .product_arn(s(f, "ProductArn"))
        .generator_id(s(f, "GeneratorId"))
        .aws_account_id(s(f, "AwsAccountId"))
        .set_types(Some(
            f["Types"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ))
        .created_at(s(f, "CreatedAt"))
        .updated_at(s(f, "UpdatedAt"))
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(s(&f["Severity"], "Label")))
                .build(),
        )
        .title(s(f, "Title"))
        .description(s(f, "Description"))
        .resources(resource)
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(s(&f["Compliance"], "Status")))
                .build(),
        )
        .workflow(
            Workflow::builder()
                .status(WorkflowStatus::from(s(&f["Workflow"], "Status")))
                .build(),
        )
        .record_state(RecordState::from(s(f, "RecordState")))
        .set_confidence(f["Confidence"].as_i64().and_then(|c| i32::try_from(c).ok()))
        .set_product_fields(f["ProductFields"].as_object().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect::<HashMap<_, _>>()
        }));
    if let Some(rec) = f["Remediation"]["Recommendation"].as_object() {
        b = b.remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .set_text(rec.get("Text").and_then(Value::as_str).map(str::to_owned))
                        .set_url(rec.get("Url").and_then(Value::as_str).map(str::to_owned))
                        .build(),
                )
                .build(),
        );
    }
    Ok(b.build())
}

/// Imports `findings` (ASFF documents of one account and region) with `client`.
pub async fn import(client: &aws_sdk_securityhub::Client, findings: &[Value]) -> ImportOutcome {
    let mut out = ImportOutcome::default();
    for chunk in findings.chunks(BATCH) {
        let batch: Result<Vec<AwsSecurityFinding>, String> = chunk.iter().map(to_sdk).collect();
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                out.failed.push(e);
                continue;
            }
        };
        match client
            .batch_import_findings()
            .set_findings(Some(batch))
            .send()
            .await
        {
            Ok(r) => {
                out.imported += usize::try_from(r.success_count.unwrap_or(0)).unwrap_or(0);
                for f in r.failed_findings() {
                    out.failed.push(format!(
                        "{}: {}: {}",
                        f.id().unwrap_or("?"),
                        f.error_code().unwrap_or("?"),
                        f.error_message().unwrap_or("")
                    ));
                }
            }
            Err(e) => out
                .failed
                .push(classify("securityhub:BatchImportFindings", &e).to_string()),
        }
    }
    out
}
