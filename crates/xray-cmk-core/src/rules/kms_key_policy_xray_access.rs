//! `kms-key-policy-xray-access`: the key policy, and IAM where the key policy leaves it to IAM,
//! cannot be shown to let X-Ray's principals use the key.

use super::{customer_key_use_builder, key_policy};
use crate::finding::{Confidence, Finding, Severity};
use crate::key_policy::{Context as RequestContext, Decision, PolicyDocument, Request};
use crate::model::{
    AccessQuestion, IamScope, KeyAction, KmsKey, Observed, Origin, SimulatedDecision, XrayTarget,
};
use crate::policy::OrgPolicy;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsKeyPolicyXrayAccess;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-key-policy-xray-access");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key policy, or IAM where the key policy leaves it to IAM, does not let X-Ray's configurers (CreateGrant, DescribeKey) or trace readers (Decrypt) use the key",
    severity: Severity::High,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[
        Input::Encryption,
        Input::KeyMetadata,
        Input::KeyDetails,
        Input::IamSimulation,
    ],
};

const DOCS: &str = r#"# kms-key-policy-xray-access

## What it does
Per the AWS page "Data protection in AWS X-Ray", principals that configure X-Ray encryption need
`kms:CreateGrant` and `kms:DescribeKey` on the key, and principals that read traces need
`kms:Decrypt`. For every account and region whose X-Ray configuration uses the key (a key shared
by several accounts is judged for each of them, with `{account}` standing for that account), this
rule evaluates the key policy (a model of IAM policy evaluation: Deny first, principals, wildcard
actions, conditions) for:
- each `[access] xray_admins` principal: `kms:CreateGrant` with `kms:GrantIsForAWSResource=true`
  and `kms:ViaService=xray.REGION.amazonaws.com`, and `kms:DescribeKey`;
- each `trace_readers` and `cross_account_readers` principal: `kms:Decrypt` via X-Ray.

Where the key policy allows a request only by naming the principal's account (the account root,
as KMS's default key policy does), the principal's own IAM policies decide. For each such role or
user, the audit asks IAM's policy simulator (`iam:SimulatePrincipalPolicy`) in the principal's
own account, with the key ARN as the resource and the request context above (for an IAM user
also the key policy as `ResourcePolicy`, the key's account as `ResourceOwner` and the user as
`CallerArn`), and reports "decided by the IAM policy simulator". What the simulator takes into
account:
- the principal's identity-based policies (a user's groups' too);
- the service control policies of the principal's account (`OrganizationsDecisionDetail`);
- the principal's permissions boundary, when it has one (`PermissionsBoundaryDecisionDetail`).

What it does not: only the context keys given are in its request context (condition keys the
policies use that were not given are listed, and the result then has medium confidence);
session policies (it simulates the role, not a session); VPC endpoint policies and other
policies that are not inputs of the simulation; and KMS's own rule that a key policy must allow
the request or name the account: that part is decided by the key policy model, and the simulator
is asked only where the key policy delegates. AWS documents `CallerArn` and a `ResourcePolicy`
in `SimulatePrincipalPolicy` for IAM users only, so a role is simulated with its own policies
against the key ARN; the key policy's part is the model's.

A principal of another account than the key's that the key policy allows directly also needs
its own account's IAM policies to allow the request (KMS requires both across accounts): it is
simulated the same way, in its own account.

It fails when a request is denied by the key policy, denied by the simulator, or names a
principal that does not exist. It is `error` when the simulator could not answer (denied,
throttled, failed, or the principal's account could not be reached), when the key policy cannot
be read (for a key owned by an account outside the scan, KMS does not answer `GetKeyPolicy`
across accounts: add the owner account to the scan) or when a request cannot be decided. Unknown
is never a pass: when the policy file names nobody, it asks the same for "any principal of the
account", and if only the account (root delegation) allows that, IAM decides and there is nobody
to simulate: `error`, saying to name X-Ray's roles in `[access]`. The same holds for an account
root named in the policy file, and for IAM's part in a Terraform scan, which has no simulator to
ask. A key policy that allows every principal of the account through X-Ray directly (`Principal`
`*` with `kms:CallerAccount` and `kms:ViaService`, as the policy of `aws/xray` does) leaves
nothing to IAM. When `plan` and `apply` judge a key on its own (the key a plan would create, a key
to adopt or to switch to), only what the key policy decides is judged. AWS managed keys are not
judged.

## Why is this bad?
If X-Ray cannot create grants on the key, `PutEncryptionConfig` fails or X-Ray drops traces with
KMS access-denied errors; if readers cannot decrypt, the console and APIs show no trace data.
Both look like an outage of tracing, usually found during an incident. A key policy that leaves
access to IAM is only as good as the IAM policies of the roles that use it.

## How to fix
Add statements like these (the generated policy of `xray-cmk plan` has them), or give the roles
the IAM permissions the simulator found missing:

    {"Sid":"XRayConfigure","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACCOUNT:role/XrayAdmin"},
     "Action":["kms:CreateGrant","kms:DescribeKey"],"Resource":"*"}
    {"Sid":"TraceReaders","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACCOUNT:role/TraceReader"},
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEquals":{"kms:ViaService":"xray.REGION.amazonaws.com"}}}

## Example
A policy with key administrators and trace readers but no statement for `XrayAdmin` and no root
delegation fails: `XrayAdmin cannot kms:CreateGrant`. KMS's default key policy with a
`TraceReader` role whose IAM policies do not allow `kms:Decrypt` fails too: `TraceReader
kms:Decrypt ... not allowed by the IAM policies of ACCOUNT, decided by the IAM policy simulator`.

## References
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_OrganizationsDecisionDetail.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_PermissionsBoundaryDecisionDetail.html
"#;

/// Stands for "some principal of the account that the key policy does not name".
fn any_principal(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/xray-cmk-any-principal")
}

fn is_any_principal(principal: &str) -> bool {
    principal.ends_with(":role/xray-cmk-any-principal")
}

fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// Whether IAM's policy simulator can answer for `principal`: a role or user the policy file
/// names (not the account root, which it cannot simulate, nor "any principal").
fn simulatable(principal: &str) -> bool {
    let resource = principal.splitn(6, ':').nth(5).unwrap_or_default();
    !is_any_principal(principal) && (resource.starts_with("role/") || resource.starts_with("user/"))
}

/// One question to the key policy: may `principal` call `action` as X-Ray would in `region`?
fn ask(doc: &PolicyDocument, principal: &str, action: KeyAction, region: &str) -> Decision {
    let account = account_of(principal);
    let mut cx = RequestContext::new()
        .with("kms:ViaService", format!("xray.{region}.amazonaws.com"))
        .with("kms:CallerAccount", account)
        .with("aws:PrincipalAccount", account)
        .with("aws:PrincipalArn", principal);
    if action == KeyAction::CreateGrant {
        cx = cx.with_bool("kms:GrantIsForAWSResource", true);
    }
    doc.evaluate(&Request::new(principal, action.as_str(), &cx))
}

/// Whose IAM policies must allow the request too, after the key policy was asked: the
/// principal's account where the key policy allows it only by naming that account (the account
/// root), and, because KMS needs both across accounts, where a key policy allows a principal of
/// another account than the key's. `None` where the key policy alone decides (allowed for a
/// principal of the key's own account, denied, undetermined).
fn iam_part(decision: &Decision, principal: &str, key_account: &str) -> Option<IamPart> {
    match decision {
        Decision::DelegatedToIam { account, .. } => Some(IamPart::Delegated(account.clone())),
        Decision::Allowed { .. } if account_of(principal) != key_account => {
            Some(IamPart::CrossAccount(account_of(principal).to_owned()))
        }
        _ => None,
    }
}

/// Why the IAM policies of an account decide part of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IamPart {
    /// The key policy allows the request only by naming the account.
    Delegated(String),
    /// The key policy allows a principal of this account, not the key's: its IAM policies must
    /// allow the request too.
    CrossAccount(String),
}

impl IamPart {
    fn account(&self) -> &str {
        match self {
            IamPart::Delegated(a) | IamPart::CrossAccount(a) => a,
        }
    }

    fn said(&self) -> String {
        match self {
            IamPart::Delegated(a) => format!("the key policy leaves it to the IAM policies of {a}"),
            IamPart::CrossAccount(a) => format!(
                "the key policy allows it, and across accounts the IAM policies of {a} must allow it too"
            ),
        }
    }
}

/// The account that owns a key: its ARN's, else (a key known only by id) `fallback`.
fn key_owner<'a>(key: &'a KmsKey, fallback: &'a str) -> &'a str {
    key.arn
        .as_deref()
        .map(account_of)
        .filter(|a| !a.is_empty())
        .unwrap_or(fallback)
}

/// Who must be able to do what, for X-Ray in `account`.
fn questions(policy: &OrgPolicy, account: &str) -> Vec<(String, KeyAction)> {
    let mut admins = policy.xray_admins_for(account);
    if admins.is_empty() {
        admins.push(any_principal(account));
    }
    let mut readers = policy.trace_readers_for(account);
    readers.extend(policy.access.cross_account_readers.iter().cloned());
    if readers.is_empty() {
        readers.push(any_principal(account));
    }
    let mut q = Vec::new();
    for a in admins {
        q.push((a.clone(), KeyAction::CreateGrant));
        q.push((a, KeyAction::DescribeKey));
    }
    q.extend(readers.into_iter().map(|r| (r, KeyAction::Decrypt)));
    q
}

/// The questions the key policy of `key` leaves to IAM for X-Ray in `account` and `region`:
/// what the audit asks IAM's policy simulator, in each principal's own account, so that
/// [`KmsKeyPolicyXrayAccess`] can decide them. Empty when the rule would not ask the key policy
/// (an AWS managed key, a key policy that cannot be read or parsed, a key without an ARN).
pub fn iam_questions(
    key: &KmsKey,
    account: &str,
    region: &str,
    policy: &OrgPolicy,
) -> Vec<AccessQuestion> {
    let (Some(arn), Observed::Known(text)) = (&key.arn, &key.policy) else {
        return Vec::new();
    };
    if key.key_manager == Some(crate::KeyManager::Aws) {
        return Vec::new();
    }
    let Ok(doc) = PolicyDocument::parse(text) else {
        return Vec::new();
    };
    let owner = key_owner(key, account);
    let mut asked: Vec<AccessQuestion> = questions(policy, account)
        .into_iter()
        .filter(|(principal, action)| {
            simulatable(principal)
                && iam_part(&ask(&doc, principal, *action, region), principal, owner).is_some()
        })
        .map(|(principal, action)| AccessQuestion {
            principal,
            action,
            key_arn: arn.clone(),
            region: region.to_owned(),
        })
        .collect();
    asked.sort();
    asked.dedup();
    asked
}

fn who(principal: &str) -> String {
    match principal.strip_suffix(":role/xray-cmk-any-principal") {
        Some(prefix) => format!("any principal of {}", account_of(prefix)),
        None => principal.to_owned(),
    }
}

/// What the answers to one target's questions add up to.
#[derive(Default)]
struct Verdict {
    denied: Vec<String>,
    unknown: Vec<String>,
    /// Left to IAM for a principal nobody can simulate (any principal, an account root), or in a
    /// Terraform scan, which has no simulator to ask.
    delegated: Vec<String>,
    /// Allowed by IAM, as the simulator decided.
    simulated: Vec<String>,
    /// Condition keys the simulator did not have.
    missing_context: Vec<String>,
}

impl Verdict {
    /// Where the key policy leaves the request to IAM of `account`: the simulator's answer.
    fn add_iam_answer(
        &mut self,
        line: String,
        part: &IamPart,
        answer: Option<&Observed<crate::model::SimulatedAccess>>,
    ) {
        let account = part.account();
        let left = part.said();
        let access = match answer {
            Some(Observed::Known(access)) => access,
            Some(Observed::Unknown(err)) => {
                self.unknown.push(format!(
                    "{line}: {left}, and the IAM policy simulator could not answer: {err}"
                ));
                return;
            }
            None => {
                self.unknown.push(format!(
                    "{line}: {left}, and the IAM policy simulator was not asked"
                ));
                return;
            }
        };
        self.missing_context
            .extend(access.missing_context.iter().cloned());
        match &access.decision {
            SimulatedDecision::Allowed => self.simulated.push(line),
            SimulatedDecision::ExplicitDeny { by } => self.denied.push(format!(
                "{line}: explicitly denied{}, decided by the IAM policy simulator",
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", by.join(", "))
                }
            )),
            SimulatedDecision::ImplicitDeny { why } => self.denied.push(format!(
                "{line}: not allowed by the IAM policies of {account}{}, decided by the IAM policy simulator",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                }
            )),
            SimulatedDecision::NoSuchPrincipal => self.denied.push(format!(
                "{line}: the principal does not exist (iam:SimulatePrincipalPolicy: NoSuchEntity)"
            )),
        }
    }
}

impl Rule for KmsKeyPolicyXrayAccess {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key_use(
        &self,
        key: &KeyRef<'_>,
        target: &XrayTarget,
        cx: &Context<'_>,
    ) -> Option<Finding> {
        let b = customer_key_use_builder(&META, key, target)?;
        let doc = match key_policy(key.key) {
            Ok(doc) => doc,
            Err(why) => return Some(b.error(why.to_string())),
        };
        let key_arn = key.key.arn.as_deref().unwrap_or(key.id);
        let owner = key_owner(key.key, &target.account);
        let declared_in = match target.origin {
            Origin::Live => None,
            Origin::Terraform { .. } => Some("Terraform"),
            Origin::CloudFormation { .. } => Some("CloudFormation"),
        };
        let terraform = target.origin.is_declared();
        let region = target.region.as_str();
        let mut v = Verdict::default();
        for (principal, action) in questions(cx.policy, &target.account) {
            let line = format!("{} {action} in {region}", who(&principal));
            let decision = ask(&doc, &principal, action, region);
            match (iam_part(&decision, &principal, owner), decision) {
                // Judging the key on its own: IAM's part is not the key's.
                (Some(_), _) if cx.inventory.iam_scope == IamScope::KeyPolicyOnly => {}
                // A Terraform scan has no simulator to ask, and nobody can simulate "any
                // principal" or an account root: IAM decides, and what it decides is unknown.
                (Some(part), _) if simulatable(&principal) && !terraform => {
                    let question = AccessQuestion {
                        principal,
                        action,
                        key_arn: key_arn.to_owned(),
                        region: region.to_owned(),
                    };
                    v.add_iam_answer(line, &part, cx.inventory.iam_answers.get(&question));
                }
                (Some(part), _) => v.delegated.push(format!("{line}: {}", part.said())),
                (None, Decision::Allowed { .. } | Decision::DelegatedToIam { .. }) => {}
                (None, d @ (Decision::ExplicitDeny { .. } | Decision::NotAllowed)) => {
                    v.denied.push(format!("{line}: {d}"))
                }
                (None, Decision::Undetermined { reason }) => {
                    v.unknown.push(format!("{line}: {reason}"))
                }
            }
        }
        for list in [
            &mut v.denied,
            &mut v.unknown,
            &mut v.delegated,
            &mut v.simulated,
            &mut v.missing_context,
        ] {
            list.sort();
            list.dedup();
        }
        let b = if v.missing_context.is_empty() {
            b
        } else {
            b.confidence(Confidence::Medium)
        };
        let missing = if v.missing_context.is_empty() {
            String::new()
        } else {
            format!(
                " (the IAM policy simulator decided without the condition keys {})",
                v.missing_context.join(", ")
            )
        };
        Some(if !v.denied.is_empty() {
            b.fail(format!(
                "X-Ray cannot use the key: {}{missing}",
                v.denied.join("; ")
            ))
        } else if !v.unknown.is_empty() {
            b.error(format!("cannot decide: {}", v.unknown.join("; ")))
        } else if !v.delegated.is_empty() {
            // Unknown is never a pass: what only IAM can decide, and nobody asked IAM, is an error.
            b.error(format!(
                "cannot decide, IAM decides: {}; {}",
                v.delegated.join("; "),
                match declared_in {
                    Some(what) => format!("a {what} scan does not evaluate IAM policies: audit the deployed key (`xray-cmk audit`), or let the key policy name X-Ray's configurers and trace readers of the key's own account"),
                    None => "name X-Ray's roles or users in [access] xray_admins and trace_readers (an account root cannot be simulated) for IAM's policy simulator to decide".to_owned(),
                }
            ))
        } else if !v.simulated.is_empty() {
            b.pass(format!(
                "the key policy lets X-Ray's configurers and trace readers use the key; allowed where it leaves them to IAM, decided by the IAM policy simulator: {}{missing}",
                v.simulated.join("; ")
            ))
        } else {
            b.pass("the key policy lets X-Ray's configurers and trace readers use the key")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CollectionError, ErrorKind, Inventory, SimulatedAccess};
    use crate::rules::test_support::*;
    use crate::Status;

    const ACCESS: &str = r#"[access]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
"#;

    fn inventory(policy_json: String) -> Inventory {
        with_key(|k| k.policy = Observed::Known(policy_json))
    }

    fn finding(policy_json: String, pol: &crate::OrgPolicy) -> crate::Finding {
        run_key_use(&KmsKeyPolicyXrayAccess, &inventory(policy_json), pol).expect("finding")
    }

    fn explicit() -> String {
        format!(
            r#"{{"Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/XrayAdmin"}},"Action":"kms:CreateGrant","Resource":"*","Condition":{{"Bool":{{"kms:GrantIsForAWSResource":"true"}},"StringEquals":{{"kms:ViaService":"xray.{REGION}.amazonaws.com"}}}}}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/XrayAdmin"}},"Action":"kms:DescribeKey","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"xray.{REGION}.amazonaws.com"}}}}}}]}}"#
        )
    }

    fn root_only() -> String {
        format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
        )
    }

    fn role(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    fn question(principal: &str, action: KeyAction) -> AccessQuestion {
        AccessQuestion {
            principal: principal.to_owned(),
            action,
            key_arn: KEY_ARN.to_owned(),
            region: REGION.to_owned(),
        }
    }

    fn answer(decision: SimulatedDecision) -> Observed<SimulatedAccess> {
        Observed::Known(SimulatedAccess {
            decision,
            missing_context: Vec::new(),
        })
    }

    /// The root-delegated key with the simulator's answers: XrayAdmin's given, TraceReader's
    /// `reader`.
    fn simulated(reader: Observed<SimulatedAccess>) -> crate::Finding {
        let mut inv = inventory(root_only());
        let admin = role("XrayAdmin");
        for action in [KeyAction::CreateGrant, KeyAction::DescribeKey] {
            inv.iam_answers
                .insert(question(&admin, action), answer(SimulatedDecision::Allowed));
        }
        inv.iam_answers
            .insert(question(&role("TraceReader"), KeyAction::Decrypt), reader);
        run_key_use(&KmsKeyPolicyXrayAccess, &inv, &policy(ACCESS)).expect("finding")
    }

    #[test]
    fn named_principals_allowed_pass_with_high_confidence() {
        let f = finding(explicit(), &policy(ACCESS));
        assert_eq!(
            (f.status, f.confidence),
            (Status::Pass, Confidence::High),
            "{}",
            f.message
        );
        assert_eq!((f.account.as_str(), f.region.as_str()), (ACCOUNT, REGION));
    }

    #[test]
    fn root_delegation_asks_the_simulator_for_each_named_principal() {
        let inv = inventory(root_only());
        let Some(Observed::Known(key)) = inv.keys.get(KEY_ARN) else {
            panic!("key")
        };
        let asked = iam_questions(key, ACCOUNT, REGION, &policy(ACCESS));
        assert_eq!(
            asked,
            [
                question(&role("TraceReader"), KeyAction::Decrypt),
                question(&role("XrayAdmin"), KeyAction::CreateGrant),
                question(&role("XrayAdmin"), KeyAction::DescribeKey),
            ]
        );
        // Named directly, nothing is left to IAM; nobody named, nobody to simulate.
        assert!(iam_questions(key, ACCOUNT, REGION, &DEFAULT_POLICY).is_empty());
        let explicit_inv = inventory(explicit());
        let Some(Observed::Known(key)) = explicit_inv.keys.get(KEY_ARN) else {
            panic!("key")
        };
        assert!(iam_questions(key, ACCOUNT, REGION, &policy(ACCESS)).is_empty());
    }

    #[test]
    fn root_delegation_decided_by_the_simulator_passes_with_high_confidence() {
        let f = simulated(answer(SimulatedDecision::Allowed));
        assert_eq!(
            (f.status, f.confidence),
            (Status::Pass, Confidence::High),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("decided by the IAM policy simulator"),
            "{}",
            f.message
        );
    }

    #[test]
    fn the_simulator_denying_a_reader_fails_and_names_it() {
        let f = simulated(answer(SimulatedDecision::ImplicitDeny {
            why: vec!["outside the permissions boundary".into()],
        }));
        assert_eq!(f.status, Status::Fail, "{}", f.message);
        assert_eq!(
            f.message,
            format!(
                "X-Ray cannot use the key: {} kms:Decrypt in {REGION}: not allowed by the IAM policies of {ACCOUNT} (outside the permissions boundary), decided by the IAM policy simulator",
                role("TraceReader")
            )
        );
        let f = simulated(answer(SimulatedDecision::ExplicitDeny {
            by: vec!["NoDecrypt (role)".into()],
        }));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("explicitly denied by NoDecrypt (role)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_principal_that_does_not_exist_fails_and_says_so() {
        let f = simulated(answer(SimulatedDecision::NoSuchPrincipal));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("TraceReader kms:Decrypt")
                && f.message.contains("the principal does not exist"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_simulation_that_failed_or_was_not_made_is_an_error_never_a_pass() {
        let err = CollectionError {
            operation: "iam:SimulatePrincipalPolicy".into(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
        };
        let f = simulated(Observed::Unknown(err.clone()));
        assert_eq!(f.status, Status::Error, "{}", f.message);
        assert!(
            f.message.contains("could not answer") && f.message.contains(&err.to_string()),
            "{}",
            f.message
        );
        let f = finding(root_only(), &policy(ACCESS));
        assert_eq!(f.status, Status::Error, "{}", f.message);
        assert!(f.message.contains("was not asked"), "{}", f.message);
    }

    #[test]
    fn missing_context_keys_lower_the_confidence_and_are_named() {
        let f = simulated(Observed::Known(SimulatedAccess {
            decision: SimulatedDecision::Allowed,
            missing_context: vec!["aws:SourceVpce".into()],
        }));
        assert_eq!((f.status, f.confidence), (Status::Pass, Confidence::Medium));
        assert!(f.message.contains("aws:SourceVpce"), "{}", f.message);
    }

    #[test]
    fn nobody_named_and_root_delegation_is_an_error_never_a_pass() {
        let f = finding(root_only(), &crate::OrgPolicy::default());
        assert_eq!(f.status, Status::Error, "{}", f.message);
        assert!(
            f.message
                .starts_with("cannot decide, IAM decides: any principal of")
                && f.message
                    .contains("name X-Ray's roles or users in [access]"),
            "{}",
            f.message
        );
        // An account root named as a reader cannot be simulated either.
        let f = finding(
            root_only(),
            &policy(&format!(
                "[access]\nxray_admins = [\"{}\"]\ntrace_readers = [\"arn:aws:iam::{ACCOUNT}:root\"]\n",
                role("XrayAdmin")
            )),
        );
        assert_eq!(f.status, Status::Error, "{}", f.message);
    }

    #[test]
    fn root_delegation_in_a_terraform_scan_is_an_error_never_a_pass() {
        let mut inv = inventory(root_only());
        inv.targets[0].origin = Origin::Terraform {
            address: "aws_xray_encryption_config.this".into(),
            location: crate::model::SourceLocation {
                file: "main.tf".into(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
            },
        };
        let f = run_key_use(&KmsKeyPolicyXrayAccess, &inv, &policy(ACCESS)).expect("finding");
        assert_eq!(f.status, Status::Error, "{}", f.message);
        assert!(
            f.message
                .contains("a Terraform scan does not evaluate IAM policies"),
            "{}",
            f.message
        );
        // Named by the key policy, in the key's own account: the key policy alone decides.
        inv.keys.insert(
            KEY_ARN.into(),
            Observed::Known(crate::KmsKey {
                policy: Observed::Known(explicit()),
                ..match inv.keys.get(KEY_ARN) {
                    Some(Observed::Known(k)) => k.clone(),
                    _ => panic!("key"),
                }
            }),
        );
        let f = run_key_use(&KmsKeyPolicyXrayAccess, &inv, &policy(ACCESS)).expect("finding");
        assert_eq!(f.status, Status::Pass, "{}", f.message);
    }

    #[test]
    fn a_principal_of_another_account_named_by_the_key_policy_is_decided_by_its_own_iam() {
        // The key of ACCOUNT names a reader of OTHER directly: KMS needs OTHER's IAM to allow the
        // request too, so the simulator is asked in OTHER.
        const OTHER: &str = "444455556666";
        let reader = format!("arn:aws:iam::{OTHER}:role/CentralReader");
        let mut doc: serde_json::Value = serde_json::from_str(&explicit()).expect("json");
        doc["Statement"].as_array_mut().expect("array").push(serde_json::json!({
            "Effect": "Allow", "Principal": {"AWS": reader}, "Action": "kms:Decrypt", "Resource": "*"
        }));
        let pol = policy(&format!("{ACCESS}cross_account_readers = [\"{reader}\"]\n"));
        let mut inv = inventory(doc.to_string());
        let Some(Observed::Known(key)) = inv.keys.get(KEY_ARN) else {
            panic!("key")
        };
        assert_eq!(
            iam_questions(key, ACCOUNT, REGION, &pol),
            [question(&reader, KeyAction::Decrypt)],
            "only the other account's principal is left to IAM"
        );
        let f = run_key_use(&KmsKeyPolicyXrayAccess, &inv, &pol).expect("finding");
        assert_eq!(f.status, Status::Error, "not asked: {}", f.message);
        inv.iam_answers.insert(
            question(&reader, KeyAction::Decrypt),
            answer(SimulatedDecision::ImplicitDeny { why: Vec::new() }),
        );
        let f = run_key_use(&KmsKeyPolicyXrayAccess, &inv, &pol).expect("finding");
        assert_eq!(f.status, Status::Fail, "{}", f.message);
        assert!(
            f.message.contains(&format!(
                "{reader} kms:Decrypt in {REGION}: not allowed by the IAM policies of {OTHER}"
            )),
            "{}",
            f.message
        );
        inv.iam_answers.insert(
            question(&reader, KeyAction::Decrypt),
            answer(SimulatedDecision::Allowed),
        );
        let f = run_key_use(&KmsKeyPolicyXrayAccess, &inv, &pol).expect("finding");
        assert_eq!(
            (f.status, f.confidence),
            (Status::Pass, Confidence::High),
            "{}",
            f.message
        );
    }

    #[test]
    fn missing_create_grant_fails_and_names_who() {
        let locked = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        );
        let f = finding(locked, &policy(ACCESS));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains(&format!(
                "arn:aws:iam::{ACCOUNT}:role/XrayAdmin kms:CreateGrant"
            )),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_deny_wins() {
        let mut doc: serde_json::Value = serde_json::from_str(&explicit()).expect("json");
        doc["Statement"]
            .as_array_mut()
            .expect("array")
            .push(serde_json::json!({"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}));
        let f = finding(doc.to_string(), &policy(ACCESS));
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("explicitly denied"), "{}", f.message);
    }

    #[test]
    fn a_shared_key_is_judged_for_each_account_with_its_own_principals() {
        // A key of 111122223333 that only 444455556666's principals may use, used by both.
        const OTHER: &str = "444455556666";
        let mut inv = with_key(|k| {
            k.policy = Observed::Known(
                explicit().replace(&format!("iam::{ACCOUNT}:"), &format!("iam::{OTHER}:")),
            )
        });
        let mut other = inv.targets[0].clone();
        other.account = OTHER.into();
        inv.targets.push(other);
        let verdicts = |inv: &Inventory| -> Vec<(String, Status)> {
            crate::evaluate(&context(inv, &policy(ACCESS)))
                .into_iter()
                .filter(|f| f.rule == META.id)
                .map(|f| (f.account, f.status))
                .collect()
        };
        // OTHER's principals are named directly, but across accounts their own IAM policies must
        // allow the requests too: not asked yet, that is unknown.
        assert_eq!(
            verdicts(&inv),
            [
                (ACCOUNT.into(), Status::Fail),
                (OTHER.into(), Status::Error)
            ]
        );
        let other_role = |name: &str| format!("arn:aws:iam::{OTHER}:role/{name}");
        for (who, action) in [
            ("XrayAdmin", KeyAction::CreateGrant),
            ("XrayAdmin", KeyAction::DescribeKey),
            ("TraceReader", KeyAction::Decrypt),
        ] {
            inv.iam_answers.insert(
                question(&other_role(who), action),
                answer(SimulatedDecision::Allowed),
            );
        }
        assert_eq!(
            verdicts(&inv),
            [(ACCOUNT.into(), Status::Fail), (OTHER.into(), Status::Pass)]
        );
    }

    #[test]
    fn not_applicable_when_no_xray_config_uses_the_key() {
        let mut inv = with_key(|_| {});
        inv.targets.clear();
        assert!(crate::evaluate(&context(&inv, &DEFAULT_POLICY))
            .iter()
            .all(|f| f.rule != META.id));
    }
}
