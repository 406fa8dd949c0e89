//! The pre-flight permission check: before `apply` changes anything, every IAM action the plan's
//! steps will call ([`step_calls`]) is simulated for the caller with
//! `iam:SimulatePrincipalPolicy`, so a role that may only read stops before the first write
//! instead of half-way through a target.
//!
//! Unknown is never a pass: a simulation that is denied, throttled or fails, a decision that is
//! missing or not understood, or a caller whose role cannot be named stops the pre-flight just as
//! a denied action does.

use std::fmt;

use aws_sdk_iam::types::{
    ContextEntry, ContextKeyTypeEnum, EvaluationResult, PolicyEvaluationDecisionType,
    PolicySourceType,
};
use xray_cmk_core::key_policy::{self, Decision, PolicyDocument};
use xray_cmk_core::remediation::apply::{Outcome, TargetResult};
use xray_cmk_core::remediation::key_policy::principal_for_policy;
use xray_cmk_core::remediation::plan::{Action, KeyRef, TargetPlan};
use xray_cmk_core::{CollectionError, ErrorKind};

use crate::error::classify;
use crate::remediate::{step_calls, On};

/// Who the simulation runs as, from the caller's identity ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root: it has every IAM permission, and IAM cannot simulate it.
    Root,
    /// The IAM role or user whose policies decide (`PolicySourceArn`).
    Iam(String),
    /// Not something IAM can simulate (a federated user, an ARN this version does not know).
    Unknown,
}

/// The principal behind `caller` (an `sts:GetCallerIdentity` ARN). An STS session maps to its
/// role as key policies name it (see [`principal_for_policy`]). A role's path cannot be recovered
/// from a session ARN: as for key policies, a role with a path is found by its exact ARN among
/// `known_roles` (the policy file's `[access] key_admins`); otherwise the simulation finds no such
/// role and the check is unknown.
pub fn principal_of(caller: &str, known_roles: &[String]) -> Principal {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    let ["arn", partition, service, _, account, resource] = parts.as_slice() else {
        return Principal::Unknown;
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Principal::Unknown;
    }
    match *service {
        "iam" if *resource == "root" => Principal::Root,
        "iam" if resource.starts_with("user/") || resource.starts_with("role/") => {
            Principal::Iam(caller.to_owned())
        }
        "sts" if resource.starts_with("assumed-role/") && resource.matches('/').count() >= 2 => {
            let role = principal_for_policy(caller);
            let name = role.rsplit('/').next().unwrap_or_default();
            let roles = format!("arn:{partition}:iam::{account}:role/");
            let with_path = known_roles.iter().find(|known| {
                known
                    .strip_prefix(&roles)
                    .and_then(|path_name| path_name.rsplit_once('/'))
                    .is_some_and(|(_, n)| n == name)
            });
            Principal::Iam(with_path.cloned().unwrap_or(role))
        }
        _ => Principal::Unknown,
    }
}

/// The caller's identity ARN in the account of `sts`'s credentials.
pub async fn caller_arn(sts: &aws_sdk_sts::Client) -> Result<String, CollectionError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("sts:GetCallerIdentity", &e))?;
    out.arn.ok_or_else(|| CollectionError {
        operation: "sts:GetCallerIdentity".into(),
        kind: ErrorKind::Other,
        code: None,
        message: "the response has no Arn".into(),
    })
}

/// What the check found for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every action the steps that would run call is allowed (or none would run).
    Allowed,
    /// The caller is the account root, which may do everything: nothing was simulated.
    Root,
    /// The actions the caller may not call, in the order the steps call them.
    Denied(Vec<Denied>),
}

/// One action the caller may not call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub action: &'static str,
    pub denial: Denial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// A Deny statement matched: the policies that carry it.
    Explicit { by: Vec<String> },
    /// Nothing allows it; `why` adds what the simulation told (SCPs, a permissions boundary) or
    /// the key policy.
    Implicit { why: Vec<String> },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, detail) = match self {
            Denial::Explicit { by } if !by.is_empty() => {
                return write!(f, "explicitDeny by {}", by.join(", "))
            }
            Denial::Explicit { .. } => ("explicitDeny", &[][..]),
            Denial::Implicit { why } => ("implicitDeny", &why[..]),
        };
        f.write_str(word)?;
        if !detail.is_empty() {
            write!(f, ": {}", detail.join("; "))?;
        }
        Ok(())
    }
}

/// Why the permissions could not be checked. Each stops the pre-flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unchecked {
    /// The simulation, or a read it needs (the key and its policy), failed.
    #[error("{0}")]
    Call(CollectionError),
    #[error("IAM cannot simulate {caller}: only IAM users and roles, and STS sessions of roles, can be simulated")]
    Principal { caller: String },
    #[error("{err}: the role behind {caller} is not {role}; a role with a path cannot be recovered from its session ARN, so name its exact ARN in `[access] key_admins`")]
    RoleNotFound {
        caller: String,
        role: String,
        err: Box<CollectionError>,
    },
    #[error("whether the key policy of {key} lets {caller} {action} cannot be told: {reason}")]
    KeyPolicy {
        key: String,
        caller: String,
        action: &'static str,
        reason: String,
    },
    #[error("iam:SimulatePrincipalPolicy returned no decision for {action}")]
    NoDecision { action: &'static str },
    #[error("iam:SimulatePrincipalPolicy returned the decision `{decision}` for {action}, which this version does not know")]
    UnknownDecision {
        action: &'static str,
        decision: String,
    },
    #[error("iam:SimulatePrincipalPolicy said its results were truncated but returned no Marker")]
    NoMarker,
}

impl Unchecked {
    /// The kind of failure, from the SDK's error metadata.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Unchecked::Call(e) => e.kind,
            Unchecked::RoleNotFound { err, .. } => err.kind,
            _ => ErrorKind::Other,
        }
    }
}

fn kind_word(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => "access denied",
        ErrorKind::NotFound => "not found",
        ErrorKind::Throttled => "throttled",
        ErrorKind::Unreachable => "unreachable",
        ErrorKind::Invalid | ErrorKind::OwnerNotInScope | ErrorKind::Other => "failed",
    }
}

/// The pre-flight line for a target whose caller may not call some actions.
pub fn denied_message(caller: &str, account: &str, region: &str, denied: &[Denied]) -> String {
    let actions: Vec<&str> = denied.iter().map(|d| d.action).collect();
    // Actions denied for the same reason are named together.
    let mut reasons: Vec<(Vec<&str>, String)> = Vec::new();
    for d in denied {
        let why = d.denial.to_string();
        match reasons.iter_mut().find(|(_, w)| *w == why) {
            Some((names, _)) => names.push(d.action),
            None => reasons.push((vec![d.action], why)),
        }
    }
    let reasons: Vec<String> = reasons
        .into_iter()
        .map(|(names, why)| format!("{}: {why}", names.join(", ")))
        .collect();
    format!(
        "pre-flight: {caller} may not {} in {account}/{region} ({}); xray-cmk iam-policy --mode remediate prints what apply needs",
        actions.join(", "),
        reasons.join("; ")
    )
}

/// The pre-flight line for a target whose permissions could not be checked: why, and what the
/// steps need.
pub fn unchecked_message(
    caller: &str,
    account: &str,
    region: &str,
    needed: &[&str],
    err: &Unchecked,
) -> String {
    format!(
        "pre-flight: could not check the permissions of {caller} in {account}/{region} ({}): {err}. Unknown is not a pass: the steps need {}; xray-cmk iam-policy --mode remediate prints what apply needs",
        kind_word(err.kind()),
        needed.join(", ")
    )
}

/// The steps of `target` that the dry run (`checked`) says would run, or that failed it (they
/// run once the cause is fixed); steps already in place need nothing.
fn to_run<'a>(target: &'a TargetPlan, checked: &TargetResult) -> Vec<&'a Action> {
    target
        .steps
        .iter()
        .zip(&checked.steps)
        .filter(|(_, r)| matches!(r.outcome, Outcome::NotRun | Outcome::Failed))
        .map(|(s, _)| &s.action)
        .collect()
}

/// Every IAM action the steps that would run call, once each, in the order they call them.
pub fn needed_actions(target: &TargetPlan, checked: &TargetResult) -> Vec<&'static str> {
    let mut needed: Vec<&'static str> = Vec::new();
    for call in to_run(target, checked).into_iter().flat_map(step_calls) {
        if !needed.contains(&call.action) {
            needed.push(call.action);
        }
    }
    needed
}

/// The key a step acts on, as the simulation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    /// The account, an alias, X-Ray's settings: `*`, no resource policy.
    Account,
    /// An existing key: its ARN and key policy.
    Key { arn: String, policy: String },
    /// A key an earlier step creates: its ARN is not known yet (`*`); its policy is the planned one.
    NewKey { policy: String },
}

/// One simulation: these actions on this resource, with the context of `on`.
#[derive(Debug)]
struct Group {
    resource: Resource,
    on: On,
    actions: Vec<&'static str>,
}

/// Checks that `caller` may make every call of the steps of `target` that the dry run
/// (`checked`) says would run (or that failed it). Steps already in place need nothing.
pub async fn check_target(
    iam: &aws_sdk_iam::Client,
    kms: &aws_sdk_kms::Client,
    caller: &str,
    known_roles: &[String],
    target: &TargetPlan,
    checked: &TargetResult,
) -> Result<Verdict, Unchecked> {
    let to_run = to_run(target, checked);
    if to_run.is_empty() {
        return Ok(Verdict::Allowed);
    }
    let source = match principal_of(caller, known_roles) {
        Principal::Root => return Ok(Verdict::Root),
        Principal::Iam(arn) => arn,
        Principal::Unknown => {
            return Err(Unchecked::Principal {
                caller: caller.to_owned(),
            })
        }
    };
    let groups = groups(kms, target, &to_run).await?;
    let partition = caller.split(':').nth(1).unwrap_or("aws");
    let mut denied: Vec<Denied> = Vec::new();
    for g in &groups {
        let owner = match &g.resource {
            Resource::Key { arn, .. } => xray_cmk_core::model::arn_account_region(arn)
                .map_or(target.account.as_str(), |(a, _)| a),
            _ => target.account.as_str(),
        };
        let owner = format!("arn:{partition}:iam::{owner}:root");
        let results = simulate_group(iam, &source, g, &owner, &target.region)
            .await
            .map_err(|err| match err {
                Unchecked::Call(e) if e.kind == ErrorKind::NotFound && source != caller => {
                    Unchecked::RoleNotFound {
                        caller: caller.to_owned(),
                        role: source.clone(),
                        err: Box::new(e),
                    }
                }
                other => other,
            })?;
        let key_policy = match &g.resource {
            Resource::Account => None,
            Resource::Key { arn, policy } => Some((arn.as_str(), policy)),
            Resource::NewKey { policy } => Some(("the key to be created", policy)),
        };
        let key_policy = match key_policy {
            Some((key, text)) => Some((
                key,
                PolicyDocument::parse(text).map_err(|e| Unchecked::KeyPolicy {
                    key: key.to_owned(),
                    caller: caller.to_owned(),
                    action: g.actions.first().copied().unwrap_or_default(),
                    reason: format!("it could not be parsed ({e})"),
                })?,
            )),
            None => None,
        };
        for action in &g.actions {
            let mine: Vec<&EvaluationResult> = results
                .iter()
                .filter(|r| r.eval_action_name().eq_ignore_ascii_case(action))
                .collect();
            if mine.is_empty() {
                return Err(Unchecked::NoDecision { action });
            }
            let mut denial = None;
            for r in mine {
                denial = combine(denial, judge(action, r)?);
            }
            if let Some((key, doc)) = &key_policy {
                let kms_says = key_policy_denial(doc, key, caller, action, &target.region, g.on)?;
                // A role's simulation carries no resource policy (the simulator evaluates one
                // only for IAM users), so it cannot see a key policy that names the caller
                // itself: KMS allows that in the key's own account whatever IAM leaves out. An
                // explicit Deny still stands.
                let key_allows_directly = kms_says.is_none()
                    && !is_user(&source)
                    && owner == format!("arn:{partition}:iam::{}:root", target.account)
                    && names_caller(doc, caller, action, &target.region, g.on);
                if key_allows_directly && matches!(denial, Some(Denial::Implicit { .. })) {
                    denial = None;
                }
                denial = combine(denial, kms_says);
            }
            if let Some(denial) = denial {
                if !denied.iter().any(|d| d.action == *action) {
                    denied.push(Denied { action, denial });
                }
            }
        }
    }
    if denied.is_empty() {
        Ok(Verdict::Allowed)
    } else {
        Ok(Verdict::Denied(denied))
    }
}

/// The steps' calls grouped by what they act on, in the order the steps call them.
async fn groups(
    kms: &aws_sdk_kms::Client,
    target: &TargetPlan,
    to_run: &[&Action],
) -> Result<Vec<Group>, Unchecked> {
    let planned = target.steps.iter().find_map(|s| match &s.action {
        Action::CreateKey { alias, policy, .. } => Some((alias.as_str(), policy.to_string())),
        _ => None,
    });
    // Verification reads traces encrypted with the key the plan leaves X-Ray using.
    let last_key = target.steps.iter().rev().find_map(|s| key_of(&s.action));
    let mut resolved: Vec<(String, Resource)> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for action in to_run {
        let key = key_of(action).or(last_key);
        for call in step_calls(action) {
            let resource = match (call.on, key) {
                (On::Account, _) | (_, None) => Resource::Account,
                (_, Some(key)) => match resolved.iter().find(|(id, _)| id == key.id()) {
                    Some((_, r)) => r.clone(),
                    None => {
                        let r = resolve(kms, key, planned.as_ref()).await?;
                        resolved.push((key.id().to_owned(), r.clone()));
                        r
                    }
                },
            };
            match groups
                .iter_mut()
                .find(|g| g.on == call.on && g.resource == resource)
            {
                Some(g) if g.actions.contains(&call.action) => {}
                Some(g) => g.actions.push(call.action),
                None => groups.push(Group {
                    resource,
                    on: call.on,
                    actions: vec![call.action],
                }),
            }
        }
    }
    Ok(groups)
}

fn key_of(action: &Action) -> Option<&KeyRef> {
    match action {
        Action::EnableRotation { key, .. }
        | Action::TagKey { key, .. }
        | Action::MergeKeyPolicy { key, .. }
        | Action::SetXrayEncryption { key } => Some(key),
        Action::CreateKey { .. } | Action::Verify => None,
    }
}

/// The key as it is now: its ARN and key policy, or the planned policy of the key an earlier step
/// creates under this alias.
async fn resolve(
    kms: &aws_sdk_kms::Client,
    key: &KeyRef,
    planned: Option<&(&str, String)>,
) -> Result<Resource, Unchecked> {
    let described = match kms.describe_key().key_id(key.id()).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = classify("kms:DescribeKey", &e);
            return match (key, planned) {
                (KeyRef::Alias(a), Some((alias, policy)))
                    if err.kind == ErrorKind::NotFound && a == alias =>
                {
                    Ok(Resource::NewKey {
                        policy: policy.clone(),
                    })
                }
                _ => Err(Unchecked::Call(err)),
            };
        }
    };
    let arn = described
        .key_metadata()
        .and_then(|m| m.arn())
        .unwrap_or(key.id())
        .to_owned();
    let policy = kms
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| Unchecked::Call(classify("kms:GetKeyPolicy", &e)))?
        .policy
        .unwrap_or_default();
    Ok(Resource::Key { arn, policy })
}

fn entry(key: &str, kind: ContextKeyTypeEnum, value: &str) -> ContextEntry {
    ContextEntry::builder()
        .context_key_name(key)
        .context_key_type(kind)
        .context_key_values(value)
        .build()
}

/// A key `create_key` made carries `managed-by=xray-cmk`: what `iam-policy --mode remediate`
/// scopes discarding it with.
fn created_key_tag() -> ContextEntry {
    let (key, value) = xray_cmk_core::remediation::plan::MANAGED_BY_TAG;
    entry(
        &format!("aws:ResourceTag/{key}"),
        ContextKeyTypeEnum::String,
        value,
    )
}

/// The request context AWS would see for calls acting `on` something in `region`.
pub(crate) fn context(region: &str, on: On) -> Vec<ContextEntry> {
    let via_xray = format!("xray.{region}.amazonaws.com");
    let mut entries = vec![entry(
        "aws:RequestedRegion",
        ContextKeyTypeEnum::String,
        region,
    )];
    match on {
        On::Account | On::Key => {}
        On::CreatedKey => entries.push(created_key_tag()),
        On::KeyGrantForXray => {
            entries.push(entry(
                "kms:ViaService",
                ContextKeyTypeEnum::String,
                &via_xray,
            ));
            entries.push(entry(
                "kms:GrantIsForAWSResource",
                ContextKeyTypeEnum::Boolean,
                "true",
            ));
        }
        On::KeyViaXray => {
            entries.push(entry(
                "kms:ViaService",
                ContextKeyTypeEnum::String,
                &via_xray,
            ));
        }
    }
    entries
}

/// One `iam:SimulatePrincipalPolicy` question: may `source` call `actions` on `resource`?
#[derive(Debug)]
pub(crate) struct Simulation<'a> {
    /// The role or user whose policies are simulated (`PolicySourceArn`).
    pub source: &'a str,
    pub actions: &'a [&'static str],
    /// `ResourceArns`: one ARN, or `*`.
    pub resource: &'a str,
    /// The resource's policy and its owner (`arn:PARTITION:iam::ACCOUNT:root`); with it the
    /// source is also the `CallerArn` its statements are matched against.
    pub resource_policy: Option<(&'a str, &'a str)>,
    pub context: Vec<ContextEntry>,
}

/// Every evaluation result of one simulation, all pages.
pub(crate) async fn simulate(
    iam: &aws_sdk_iam::Client,
    sim: &Simulation<'_>,
) -> Result<Vec<EvaluationResult>, Unchecked> {
    let mut results = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = iam
            .simulate_principal_policy()
            .policy_source_arn(sim.source)
            .set_action_names(Some(sim.actions.iter().map(|a| (*a).to_owned()).collect()))
            .resource_arns(sim.resource)
            .set_context_entries(Some(sim.context.clone()))
            .set_marker(marker.take());
        if let Some((policy, owner)) = sim.resource_policy {
            req = req
                .resource_policy(policy)
                .resource_owner(owner)
                .caller_arn(sim.source);
        }
        let out = req
            .send()
            .await
            .map_err(|e| Unchecked::Call(classify("iam:SimulatePrincipalPolicy", &e)))?;
        let truncated = out.is_truncated;
        results.extend(out.evaluation_results.unwrap_or_default());
        match out.marker {
            Some(m) if truncated => marker = Some(m),
            None if truncated => return Err(Unchecked::NoMarker),
            _ => return Ok(results),
        }
    }
}

/// The simulation of one pre-flight group.
async fn simulate_group(
    iam: &aws_sdk_iam::Client,
    source: &str,
    group: &Group,
    owner: &str,
    region: &str,
) -> Result<Vec<EvaluationResult>, Unchecked> {
    let (resource, policy) = match &group.resource {
        Resource::Account => ("*", None),
        Resource::Key { arn, policy } => (arn.as_str(), Some(policy.as_str())),
        Resource::NewKey { policy } => ("*", Some(policy.as_str())),
    };
    // "The resource-based policy is evaluated only for IAM users" and CallerArn "must be the ARN
    // of an IAM user" (SimulatePrincipalPolicy, IAM API reference): a role is simulated with its
    // own policies, and the key policy is judged by the core's model (check_target).
    let policy = policy.filter(|_| is_user(source));
    // KMS decides with the key policy too; the simulated caller is the principal its statements
    // name, and the key's account owns it.
    simulate(
        iam,
        &Simulation {
            source,
            actions: &group.actions,
            resource,
            resource_policy: policy.map(|p| (p, owner)),
            context: context(region, group.on),
        },
    )
    .await
}

/// The stronger of two denials: an explicit one wins; reasons of the same kind add up.
pub(crate) fn combine(a: Option<Denial>, b: Option<Denial>) -> Option<Denial> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(Denial::Explicit { mut by }), Some(Denial::Explicit { by: more })) => {
            by.extend(
                more.into_iter()
                    .filter(|b| !by.contains(b))
                    .collect::<Vec<_>>(),
            );
            Some(Denial::Explicit { by })
        }
        (Some(e @ Denial::Explicit { .. }), _) | (_, Some(e @ Denial::Explicit { .. })) => Some(e),
        (Some(Denial::Implicit { mut why }), Some(Denial::Implicit { why: more })) => {
            why.extend(
                more.into_iter()
                    .filter(|w| !why.contains(w))
                    .collect::<Vec<_>>(),
            );
            Some(Denial::Implicit { why })
        }
    }
}

fn is_user(arn: &str) -> bool {
    arn.split(':')
        .nth(5)
        .is_some_and(|r| r.starts_with("user/"))
}

/// Whether the key policy allows `caller` the action by naming it (or everyone), not through
/// its account: the case in which KMS needs no IAM permission in the key's own account.
fn names_caller(
    doc: &PolicyDocument,
    caller: &str,
    action: &'static str,
    region: &str,
    on: On,
) -> bool {
    matches!(
        key_policy_decision(doc, caller, action, region, on),
        Decision::Allowed { .. }
    )
}

/// What KMS adds to the simulation. The simulator treats a key policy like any resource policy,
/// but KMS allows nothing the key policy does not allow, directly or by naming the account (and so
/// leaving it to IAM): judged here with the core's key policy model.
fn key_policy_denial(
    doc: &PolicyDocument,
    key: &str,
    caller: &str,
    action: &'static str,
    region: &str,
    on: On,
) -> Result<Option<Denial>, Unchecked> {
    match key_policy_decision(doc, caller, action, region, on) {
        Decision::Allowed { .. } | Decision::DelegatedToIam { .. } => Ok(None),
        Decision::ExplicitDeny { sid } => Ok(Some(Denial::Explicit {
            by: vec![match sid {
                Some(sid) => format!("the key policy (statement \"{sid}\")"),
                None => "the key policy".to_owned(),
            }],
        })),
        Decision::NotAllowed => Ok(Some(Denial::Implicit {
            why: vec!["the key policy neither allows it nor leaves it to IAM".to_owned()],
        })),
        Decision::Undetermined { reason } => Err(Unchecked::KeyPolicy {
            key: key.to_owned(),
            caller: caller.to_owned(),
            action,
            reason,
        }),
    }
}

/// `None` when the action is allowed.
pub(crate) fn judge(
    action: &'static str,
    r: &EvaluationResult,
) -> Result<Option<Denial>, Unchecked> {
    let by_organizations = r
        .organizations_decision_detail()
        .is_some_and(|d| !d.allowed_by_organizations());
    let by_boundary = r
        .permissions_boundary_decision_detail()
        .is_some_and(|d| !d.allowed_by_permissions_boundary());
    match r.eval_decision() {
        PolicyEvaluationDecisionType::Allowed => Ok(None),
        PolicyEvaluationDecisionType::ExplicitDeny => {
            let mut by: Vec<String> = r
                .matched_statements()
                .iter()
                .filter_map(|s| {
                    let id = s.source_policy_id()?;
                    Some(match s.source_policy_type() {
                        Some(PolicySourceType::Resource) => format!("the key policy ({id})"),
                        Some(t) => format!("{id} ({})", t.as_str()),
                        None => id.to_owned(),
                    })
                })
                .collect();
            if by.is_empty() && by_organizations {
                by.push("a service control policy".into());
            }
            by.dedup();
            Ok(Some(Denial::Explicit { by }))
        }
        PolicyEvaluationDecisionType::ImplicitDeny => {
            let mut why = Vec::new();
            if by_organizations {
                why.push("not allowed by the organization's service control policies".into());
            }
            if by_boundary {
                why.push("outside the permissions boundary".into());
            }
            Ok(Some(Denial::Implicit { why }))
        }
        other => Err(Unchecked::UnknownDecision {
            action,
            decision: other.as_str().to_owned(),
        }),
    }
}

/// The key policy's decision on `caller` making `action` in the context AWS would see.
fn key_policy_decision(
    doc: &PolicyDocument,
    caller: &str,
    action: &'static str,
    region: &str,
    on: On,
) -> Decision {
    let via_xray = format!("xray.{region}.amazonaws.com");
    let mut context = key_policy::Context::new().with("aws:RequestedRegion", region);
    if let Some((account, _)) = xray_cmk_core::model::arn_account_region(caller) {
        context = context.with("kms:CallerAccount", account);
    }
    context = match on {
        On::Account | On::Key => context,
        On::CreatedKey => {
            let (key, value) = xray_cmk_core::remediation::plan::MANAGED_BY_TAG;
            context.with(&format!("aws:ResourceTag/{key}"), value)
        }
        On::KeyGrantForXray => context
            .with("kms:ViaService", via_xray)
            .with_bool("kms:GrantIsForAWSResource", true),
        On::KeyViaXray => context.with("kms:ViaService", via_xray),
    };
    doc.evaluate(&key_policy::Request::new(caller, action, &context))
}

#[cfg(test)]
pub(crate) mod tests;
