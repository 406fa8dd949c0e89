//! `xray-cmk rules`, `xray-cmk explain` and `xray-cmk iam-policy`: what the tool knows about
//! itself.

use crate::out::{out, outln};
use anyhow::{bail, Result};
use xray_cmk_core::rules;

use crate::cli::{ExplainArgs, IamPolicyArgs, IamPolicyMode, ListFormat, RulesArgs};
use crate::exit::Exit;

pub(crate) fn list(args: &RulesArgs) -> Result<Exit> {
    let metas: Vec<_> = rules::EVERY.iter().map(|r| r.meta()).collect();
    match args.format {
        ListFormat::Json => {
            let list: Vec<_> = metas
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id, "severity": m.severity.as_str(),
                        "summary": m.summary, "since": m.since,
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&list)?);
        }
        ListFormat::Table => {
            let w = metas.iter().map(|m| m.id.len()).max().unwrap_or(0);
            for m in metas {
                outln!("{:<w$}  {:<8}  {}", m.id, m.severity.as_str(), m.summary);
            }
        }
    }
    Ok(Exit::Clean)
}

pub(crate) fn explain(args: &ExplainArgs) -> Result<Exit> {
    match rules::by_id(&args.rule) {
        Some(m) => {
            out!("{}", m.docs);
            outln!("\nSeverity: {} · since xray-cmk {}", m.severity, m.since);
            Ok(Exit::Clean)
        }
        None => {
            let known: Vec<_> = rules::EVERY.iter().map(|r| r.meta().id).collect();
            bail!(
                "unknown rule `{}`; known rules: {}",
                args.rule,
                known.join(", ")
            )
        }
    }
}

/// The least-privilege policy for `mode`, from the one list of actions the code calls.
pub(crate) fn iam_policy(args: &IamPolicyArgs) -> Result<Exit> {
    let (sid, actions): (&str, Vec<&str>) = match args.mode {
        IamPolicyMode::Audit => ("XrayCmkAudit", xray_cmk_aws::limits::AUDIT_ACTIONS.to_vec()),
        IamPolicyMode::Remediate => {
            // Remediation plans from an audit first, so it needs both lists.
            let mut all: Vec<&str> = xray_cmk_aws::limits::AUDIT_ACTIONS
                .iter()
                .chain(xray_cmk_aws::remediate::REMEDIATE_ACTIONS)
                .copied()
                .filter(|a| !xray_cmk_aws::remediate::DISCARD_ACTIONS.contains(a))
                .collect();
            all.sort_unstable();
            all.dedup();
            ("XrayCmkRemediate", all)
        }
        IamPolicyMode::Respond => (
            "XrayCmkRespond",
            xray_cmk_aws::respond::RESPOND_ACTIONS.to_vec(),
        ),
    };
    let mut statements = vec![PolicyStatement {
        sid,
        effect: "Allow",
        action: actions,
        resource: "*",
        condition: None,
    }];
    if matches!(args.mode, IamPolicyMode::Remediate) {
        // Disabling and deleting keys only ever happens to a key apply has just created and lost
        // the race for its alias with: never to a key that is not xray-cmk's.
        let (tag, value) = xray_cmk_core::remediation::plan::MANAGED_BY_TAG;
        statements.push(PolicyStatement {
            sid: "XrayCmkDiscardOwnKeys",
            effect: "Allow",
            action: xray_cmk_aws::remediate::DISCARD_ACTIONS.to_vec(),
            resource: "*",
            condition: Some(serde_json::json!({
                "StringEquals": { format!("aws:ResourceTag/{tag}"): value }
            })),
        });
    }
    let policy = PolicyDocument {
        version: "2012-10-17",
        statement: statements,
    };
    outln!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(Exit::Clean)
}

/// An IAM policy document, in the element order AWS's documentation writes (structs, so the
/// printed order does not depend on which serde_json features the build unifies).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument<'a> {
    version: &'a str,
    statement: Vec<PolicyStatement<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyStatement<'a> {
    sid: &'a str,
    effect: &'a str,
    action: Vec<&'a str>,
    resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<serde_json::Value>,
}
