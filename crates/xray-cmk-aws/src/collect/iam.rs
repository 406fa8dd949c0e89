//! IAM's policy simulator, for the access a key policy leaves to IAM: what
//! `kms-key-policy-xray-access` asks ([`xray_cmk_core::rules::iam_questions`]), answered in each
//! principal's own account.

use aws_sdk_iam::types::EvaluationResult;
use xray_cmk_core::model::{AccessQuestion, KeyAction, SimulatedAccess, SimulatedDecision};
use xray_cmk_core::{CollectionError, ErrorKind, Observed};

use crate::permissions::{combine, context, judge, simulate, Denial, Simulation, Unchecked};
use crate::remediate::On;

const OPERATION: &str = "iam:SimulatePrincipalPolicy";

/// Asks the simulator `question` with `iam`, a client of the principal's own account.
///
/// The key ARN is the resource and the request context is X-Ray's. For an IAM user the key
/// policy is the `ResourcePolicy` (owned by the key's account, the user as `CallerArn`). AWS
/// documents `CallerArn`, and so a resource policy, for IAM users only: a role is simulated with
/// its own policies (identity, permissions boundary, SCPs), which is what decides once the key
/// policy leaves the request to the account, as it does for every question asked.
pub async fn simulate_access(
    iam: &aws_sdk_iam::Client,
    question: &AccessQuestion,
    key_policy: &str,
) -> Observed<SimulatedAccess> {
    let on = match question.action {
        KeyAction::CreateGrant => On::KeyGrantForXray,
        KeyAction::DescribeKey | KeyAction::Decrypt => On::KeyViaXray,
    };
    let mut arn = question.key_arn.splitn(6, ':');
    let partition = arn.nth(1).unwrap_or("aws");
    let key_account = arn.nth(2).unwrap_or_default();
    let owner = format!("arn:{partition}:iam::{key_account}:root");
    let is_user = question
        .principal
        .splitn(6, ':')
        .nth(5)
        .is_some_and(|r| r.starts_with("user/"));
    let action = question.action.as_str();
    let sim = Simulation {
        source: &question.principal,
        actions: &[action],
        resource: &question.key_arn,
        resource_policy: is_user.then_some((key_policy, owner.as_str())),
        context: context(&question.region, on),
    };
    match simulate(iam, &sim).await {
        Ok(results) => decide(action, &results),
        Err(Unchecked::Call(err)) if err.kind == ErrorKind::NotFound => {
            Observed::Known(SimulatedAccess {
                decision: SimulatedDecision::NoSuchPrincipal,
                missing_context: Vec::new(),
            })
        }
        Err(Unchecked::Call(err)) => Observed::Unknown(err),
        Err(other) => Observed::Unknown(unanswered(other.to_string())),
    }
}

fn unanswered(message: String) -> CollectionError {
    CollectionError {
        operation: OPERATION.to_owned(),
        kind: ErrorKind::Other,
        code: None,
        message,
    }
}

/// The decision for `action` over every result the simulation returned for it.
fn decide(action: &'static str, results: &[EvaluationResult]) -> Observed<SimulatedAccess> {
    let mine: Vec<&EvaluationResult> = results
        .iter()
        .filter(|r| r.eval_action_name().eq_ignore_ascii_case(action))
        .collect();
    if mine.is_empty() {
        return Observed::Unknown(unanswered(Unchecked::NoDecision { action }.to_string()));
    }
    let mut denial = None;
    let mut missing: Vec<String> = Vec::new();
    for r in mine {
        match judge(action, r) {
            Ok(d) => denial = combine(denial, d),
            Err(e) => return Observed::Unknown(unanswered(e.to_string())),
        }
        missing.extend(r.missing_context_values().iter().cloned());
        for specific in r.resource_specific_results() {
            missing.extend(specific.missing_context_values().iter().cloned());
        }
    }
    missing.sort();
    missing.dedup();
    Observed::Known(SimulatedAccess {
        decision: match denial {
            None => SimulatedDecision::Allowed,
            Some(Denial::Explicit { by }) => SimulatedDecision::ExplicitDeny { by },
            Some(Denial::Implicit { why }) => SimulatedDecision::ImplicitDeny { why },
        },
        missing_context: missing,
    })
}
