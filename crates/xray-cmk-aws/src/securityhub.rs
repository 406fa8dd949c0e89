//! Sending ASFF findings to AWS Security Hub (`BatchImportFindings`, 100 at a time), from the
//! same documents `--format asff` prints, so what is sent is exactly what can be reviewed.
//! [`import_scan`] reaches each account, builds its Security Hub client per region and imports;
//! the binary only hands over the documents and reports the outcome.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Partition, Recommendation, RecordState,
    Remediation, Resource, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

use xray_cmk_core::CollectionError;

use crate::clients::Shared;
use crate::error::classify;
use crate::fanout::{account_clients, ScanOptions};
use crate::Session;

/// Security Hub's limit per `BatchImportFindings` call.
pub const BATCH: usize = 100;

/// What one account and region's import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: usize,
    /// Each finding Security Hub refused, and errors of whole calls.
    pub failed: Vec<ImportError>,
}

/// Why findings were not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Security Hub refused one finding of a batch.
    #[error("{id}: {code}: {message}")]
    Refused {
        id: String,
        code: String,
        message: String,
    },
    /// A whole `BatchImportFindings` call failed.
    #[error("{0}")]
    Call(CollectionError),
}

/// Why findings of one account (and region) were not imported, by [`import_scan`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetImportError {
    /// Results of an account that could not be scanned have no real region to send to.
    #[error("{account}: {count} results of an account that could not be scanned were not sent")]
    Unscanned { account: String, count: usize },
    /// The account could not be reached (its role could not be assumed).
    #[error("{account}/{region}: {error}")]
    Unreachable {
        account: String,
        region: String,
        error: CollectionError,
    },
    #[error("{account}/{region}: {error}")]
    Import {
        account: String,
        region: String,
        error: ImportError,
    },
}

/// ASFF documents by (account, region); region `*` for results of an account that could not be
/// scanned.
pub type ByTarget = BTreeMap<(String, String), Vec<Value>>;

/// What [`import_scan`] did over every account and region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanImport {
    pub imported: usize,
    pub failed: Vec<TargetImportError>,
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// One ASFF document (as `xray_cmk_report::asff` writes it) as the SDK's type. Missing fields
/// are sent empty, for Security Hub to refuse finding by finding.
pub fn to_sdk(f: &Value) -> AwsSecurityFinding {
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
    b.build()
}

/// Imports `findings` (ASFF documents of one account and region) with `client`.
pub async fn import(client: &aws_sdk_securityhub::Client, findings: &[Value]) -> ImportOutcome {
    let mut out = ImportOutcome::default();
    for chunk in findings.chunks(BATCH) {
        let batch: Vec<AwsSecurityFinding> = chunk.iter().map(to_sdk).collect();
        match client
            .batch_import_findings()
            .set_findings(Some(batch))
            .send()
            .await
        {
            Ok(r) => {
                out.imported += usize::try_from(r.success_count.unwrap_or(0)).unwrap_or(0);
                for f in r.failed_findings() {
                    out.failed.push(ImportError::Refused {
                        id: f.id().unwrap_or("?").to_owned(),
                        code: f.error_code().unwrap_or("?").to_owned(),
                        message: f.error_message().unwrap_or("").to_owned(),
                    });
                }
            }
            Err(e) => out.failed.push(ImportError::Call(classify(
                "securityhub:BatchImportFindings",
                &e,
            ))),
        }
    }
    out
}

/// Imports each account and region's documents into Security Hub there, reaching each account
/// once (as the scan did, with `opts`).
pub async fn import_scan(
    session: &Session,
    shared: &Shared,
    opts: &ScanOptions,
    by_target: ByTarget,
) -> ScanImport {
    let mut out = ScanImport::default();
    let mut clients: BTreeMap<String, Result<crate::clients::AccountClients, CollectionError>> =
        BTreeMap::new();
    for ((account, region), docs) in by_target {
        if !clients.contains_key(&account) {
            let c = account_clients(session, shared, &account, opts).await;
            clients.insert(account.clone(), c);
        }
        if region == "*" {
            out.failed.push(TargetImportError::Unscanned {
                account,
                count: docs.len(),
            });
            continue;
        }
        match clients.get(&account) {
            Some(Ok(c)) => {
                let conf = aws_sdk_securityhub::config::Builder::from(c.config())
                    .region(aws_config::Region::new(region.clone()))
                    .build();
                let hub = aws_sdk_securityhub::Client::from_conf(conf);
                let done = import(&hub, &docs).await;
                out.imported += done.imported;
                out.failed.extend(
                    done.failed
                        .into_iter()
                        .map(|error| TargetImportError::Import {
                            account: account.clone(),
                            region: region.clone(),
                            error,
                        }),
                );
            }
            Some(Err(error)) => out.failed.push(TargetImportError::Unreachable {
                account,
                region,
                error: error.clone(),
            }),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_cmk_core::ErrorKind;

    #[test]
    fn each_problem_names_its_account_and_region_as_before() {
        let denied = CollectionError {
            operation: "sts:AssumeRole".into(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "no".into(),
        };
        let shown: Vec<String> = [
            TargetImportError::Unscanned {
                account: "111122223333".into(),
                count: 3,
            },
            TargetImportError::Unreachable {
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                error: denied.clone(),
            },
            TargetImportError::Import {
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                error: ImportError::Refused {
                    id: "f1".into(),
                    code: "InvalidInput".into(),
                    message: "bad".into(),
                },
            },
            TargetImportError::Import {
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                error: ImportError::Call(denied),
            },
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "111122223333: 3 results of an account that could not be scanned were not sent",
                "111122223333/eu-west-1: sts:AssumeRole failed: AccessDenied: no",
                "111122223333/eu-west-1: f1: InvalidInput: bad",
                "111122223333/eu-west-1: sts:AssumeRole failed: AccessDenied: no",
            ]
        );
    }

    #[test]
    fn a_document_missing_fields_is_still_converted() {
        let f = to_sdk(&serde_json::json!({"Id": "x"}));
        assert_eq!(f.id(), Some("x"));
        assert!(f.remediation().is_none());
    }
}
