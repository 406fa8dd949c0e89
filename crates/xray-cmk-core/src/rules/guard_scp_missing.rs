//! `guard-scp-missing`: no service control policy on the account's path from the root denies
//! `xray:PutEncryptionConfig` to principals outside the automation and break-glass roles.

use serde_json::Value;

use super::builder;
use crate::finding::{Finding, Severity};
use crate::key_policy::{
    Context as RequestContext, Decision, KeyPolicyError, PolicyDocument, Request,
};
use crate::model::{Observed, Scp, ScpPath, XrayTarget};
use crate::policy::ACCOUNT_PLACEHOLDER;
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct GuardScpMissing;

/// The resource of the result: the SCPs that apply to the account.
const RESOURCE: &str = "service-control-policies";

const ACTION: &str = "xray:PutEncryptionConfig";

/// The role and user the rule asks about: no policy file names them.
const PROBE: &str = "xray-cmk-guard-probe";

/// This rule's id.
pub const ID: RuleId = RuleId::new("guard-scp-missing");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "No SCP on the account's path from the root denies PutEncryptionConfig to principals outside the automation roles",
    severity: Severity::High,
    since: "0.5.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::Scp],
};

const DOCS: &str = r#"# guard-scp-missing

## What it does
Only in an organization scan (`--org`): walks each account's path to the root
(`organizations:ListParents`), reads the service control policies attached to the account, each
OU on the way and the root (`organizations:ListPoliciesForTarget`,
`organizations:DescribePolicy`), and judges each with xray-cmk's IAM policy model (the one the key
rules use; an SCP's statements apply to every principal of the account). It passes when one of
them explicitly denies `xray:PutEncryptionConfig`, in the target's region, to a role, a user and
the root user of the account that are not among the policy file's `[guard] automation_roles` and
`break_glass_roles`, and denies none of those roles of this account. It is judged per account and
region, since an SCP may deny by `aws:RequestedRegion`.

It fails in the organization's management account, which SCPs never restrict (restrict
`PutEncryptionConfig` there with IAM), and where the SCP that denies outsiders denies an
automation or break-glass role too (`xray-cmk apply` could not fix X-Ray there). A read that fails,
or an SCP the model cannot decide, is `error`: unknown is never a pass.

## Why is this bad?
`xray:PutEncryptionConfig` has no condition keys: the only way to stop a person from switching
X-Ray back to default encryption, or to a key of their own, is to deny them the call. Detection
(`guard-config-rule-missing`, `guard-drift-alert-missing`) sees the drift; the SCP prevents it.

## How to fix
Attach the guardrail's SCP (`xray-cmk guard generate` writes `xray-cmk-guard.scp.json`) to the
root or to the OUs holding the accounts:

    aws organizations create-policy --type SERVICE_CONTROL_POLICY --name xray-cmk-guard \
      --description 'X-Ray encryption only by automation' --content file://xray-cmk-guard.scp.json
    aws organizations attach-policy --policy-id p-examplepolicyid --target-id ou-exam-11111111

## Example
    {"Effect":"Deny","Action":"xray:PutEncryptionConfig","Resource":"*",
     "Condition":{"ArnNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/XrayCmkAutomation"]}}}  # passes
    only FullAWSAccess on the path                                                                # fails
    {"Effect":"Deny","Action":"xray:*","Resource":"*"}                  # fails: automation denied too

## References
- https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
- https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
- https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
"#;

/// An SCP as a policy document the model evaluates: its statements apply to every principal of
/// the account (SCPs have no `Principal`), and a statement whose `Resource` cannot cover `*` does
/// not apply to `PutEncryptionConfig`, which has no resource type.
pub(crate) fn scp_document(text: &str) -> Result<PolicyDocument, KeyPolicyError> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| KeyPolicyError::InvalidJson(e.to_string()))?;
    let all_stars = |v: &Value| {
        v.as_str()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c == '*'))
    };
    let any_star = |v: &Value| match v {
        Value::Array(items) => items.iter().any(all_stars),
        one => all_stars(one),
    };
    if let Some(statements) = doc.get_mut("Statement") {
        if statements.is_object() {
            *statements = Value::Array(vec![statements.take()]);
        }
        if let Value::Array(items) = statements {
            items.retain(|s| match (s.get("Resource"), s.get("NotResource")) {
                (Some(r), None) => any_star(r),
                (None, Some(nr)) => !any_star(nr),
                // Left for the parser to refuse.
                _ => true,
            });
            for s in items.iter_mut() {
                if let Value::Object(map) = s {
                    if !map.contains_key("Principal") && !map.contains_key("NotPrincipal") {
                        map.insert("Principal".into(), serde_json::json!({"AWS": "*"}));
                    }
                    if map.contains_key("NotResource") {
                        map.remove("NotResource");
                        map.insert("Resource".into(), Value::from("*"));
                    }
                }
            }
        }
    }
    PolicyDocument::parse(&doc.to_string())
}

/// A principal of the account asking for `PutEncryptionConfig` in `region`: the caller as the
/// request names it, and the request context an SCP can test.
struct Caller {
    arn: String,
    principal_arn: String,
    principal_type: &'static str,
}

fn outsiders(partition: &str, account: &str) -> Vec<Caller> {
    vec![
        Caller {
            arn: format!("arn:{partition}:sts::{account}:assumed-role/{PROBE}/xray-cmk"),
            principal_arn: format!("arn:{partition}:iam::{account}:role/{PROBE}"),
            principal_type: "AssumedRole",
        },
        Caller {
            arn: format!("arn:{partition}:iam::{account}:user/{PROBE}"),
            principal_arn: format!("arn:{partition}:iam::{account}:user/{PROBE}"),
            principal_type: "User",
        },
        Caller {
            arn: format!("arn:{partition}:iam::{account}:root"),
            principal_arn: format!("arn:{partition}:iam::{account}:root"),
            principal_type: "Account",
        },
    ]
}

fn decide(doc: &PolicyDocument, caller: &Caller, account: &str, region: &str) -> Decision {
    let context = RequestContext::new()
        .with("aws:PrincipalArn", caller.principal_arn.clone())
        .with("aws:PrincipalAccount", account)
        .with("aws:PrincipalType", caller.principal_type)
        .with("aws:RequestedRegion", region);
    doc.evaluate(&Request::new(&caller.arn, ACTION, &context))
}

/// What one SCP does to `PutEncryptionConfig` in the account and region.
enum Judged {
    /// Denies every outsider, and no automation role.
    Guards,
    /// Denies every outsider and also these roles of the account.
    DeniesAutomation(Vec<String>),
    /// Leaves some outsider to other policies.
    Open,
    /// The model cannot tell; why.
    Undecided(String),
}

fn judge(
    doc: &PolicyDocument,
    automation: &[(String, String)],
    account: &str,
    region: &str,
) -> Judged {
    let partition = automation
        .first()
        .and_then(|(arn, _)| arn.split(':').nth(1))
        .unwrap_or("aws");
    for caller in outsiders(partition, account) {
        match decide(doc, &caller, account, region) {
            Decision::ExplicitDeny { .. } => {}
            Decision::Undetermined { reason } => return Judged::Undecided(reason),
            _ => return Judged::Open,
        }
    }
    let mut denied = Vec::new();
    for (role, session) in automation {
        let caller = Caller {
            arn: session.clone(),
            principal_arn: role.clone(),
            principal_type: "AssumedRole",
        };
        match decide(doc, &caller, account, region) {
            Decision::ExplicitDeny { .. } => denied.push(role.clone()),
            Decision::Undetermined { reason } => return Judged::Undecided(reason),
            _ => {}
        }
    }
    if denied.is_empty() {
        Judged::Guards
    } else {
        Judged::DeniesAutomation(denied)
    }
}

/// The automation and break-glass roles of `account` (`{account}` filled in), each with the
/// assumed-role session ARN that calls as it. Roles of other accounts cannot call X-Ray here.
fn automation_roles(cx: &Context<'_>, account: &str) -> Vec<(String, String)> {
    let guard = &cx.policy.guard;
    guard
        .automation_roles
        .iter()
        .chain(&guard.break_glass_roles)
        .map(|r| r.replace(ACCOUNT_PLACEHOLDER, account))
        .filter(|r| r.split(':').nth(4) == Some(account))
        .map(|role| {
            let parts: Vec<&str> = role.splitn(6, ':').collect();
            let partition = parts.get(1).copied().unwrap_or("aws");
            let name = parts
                .get(5)
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or_default();
            let session = format!("arn:{partition}:sts::{account}:assumed-role/{name}/xray-cmk");
            (role, session)
        })
        .collect()
}

fn scp_name(scp: &Scp) -> String {
    match &scp.name {
        Some(n) => format!("{} ({n})", scp.id),
        None => scp.id.clone(),
    }
}

fn verdict(path: &ScpPath, target: &XrayTarget, cx: &Context<'_>) -> Finding {
    let b = builder(&META, target).resource(RESOURCE);
    let route: Vec<&str> = path.nodes.iter().map(|n| n.id.as_str()).collect();
    let route = route.join(" → ");
    if path.management_account {
        return b.fail(format!(
            "this is the organization's management account, which SCPs never restrict: anyone it allows can call {ACTION} here; restrict it with IAM"
        ));
    }
    let automation = automation_roles(cx, &target.account);
    let mut undecided = Vec::new();
    let mut denies_automation = Vec::new();
    let mut seen = 0;
    for node in &path.nodes {
        for scp in &node.policies {
            seen += 1;
            let text = match &scp.content {
                Observed::Known(t) => t,
                Observed::Unknown(err) => {
                    return b.error(format!(
                        "SCP {} attached to {} could not be read: {err}",
                        scp_name(scp),
                        node.id
                    ))
                }
            };
            let doc = match scp_document(text) {
                Ok(d) => d,
                Err(e) => {
                    undecided.push(format!("SCP {} could not be analysed: {e}", scp_name(scp)));
                    continue;
                }
            };
            match judge(&doc, &automation, &target.account, &target.region) {
                Judged::Guards => {
                    return b.pass(format!(
                        "SCP {} attached to {} denies {ACTION} to principals outside the automation and break-glass roles (path {route})",
                        scp_name(scp),
                        node.id
                    ))
                }
                Judged::DeniesAutomation(roles) => denies_automation.push(format!(
                    "SCP {} attached to {} denies it to {} too",
                    scp_name(scp),
                    node.id,
                    roles.join(", ")
                )),
                Judged::Open => {}
                Judged::Undecided(why) => {
                    undecided.push(format!("SCP {}: {why}", scp_name(scp)))
                }
            }
        }
    }
    if !denies_automation.is_empty() {
        return b.fail(format!(
            "{ACTION} is denied to the automation roles as well, so xray-cmk apply could not fix X-Ray here: {}",
            denies_automation.join("; ")
        ));
    }
    if !undecided.is_empty() {
        return b.error(format!(
            "whether an SCP denies {ACTION} to outsiders is unknown: {}",
            undecided.join("; ")
        ));
    }
    b.fail(format!(
        "no SCP on the path {route} denies {ACTION} to principals outside the automation and break-glass roles ({seen} SCP{} attached)",
        if seen == 1 { "" } else { "s" }
    ))
}

impl Rule for GuardScpMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        if !matches!(target.origin, crate::Origin::Live) {
            return None;
        }
        // Collected only in an organization scan.
        let path = cx.inventory.scp_paths.get(&target.account)?;
        Some(match path {
            Observed::Known(p) => verdict(p, target, cx),
            Observed::Unknown(err) => builder(&META, target)
                .resource(RESOURCE)
                .error(format!("the account's SCPs could not be read: {err}")),
        })
    }
}

#[cfg(test)]
mod tests;
