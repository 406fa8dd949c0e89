//! The permission check over mocked IAM and KMS responses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_iam::operation::simulate_principal_policy::{
    SimulatePrincipalPolicyInput, SimulatePrincipalPolicyOutput,
};
use aws_sdk_iam::types::Statement;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
use aws_sdk_kms::types::KeyMetadata;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use xray_cmk_core::remediation::apply::StepResult;
use xray_cmk_core::remediation::plan::{Precondition, Step};

use super::*;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/XrayCmkDeploy/xray-cmk-apply";
const ROLE: &str = "arn:aws:iam::111122223333:role/XrayCmkDeploy";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";
const KEY_POLICY: &str = r#"{"Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

/// The key policy the plan creates the key with (root for recovery, the caller administers).
fn planned_policy() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": ROLE},
         "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:Get*", "kms:Put*"], "Resource": "*"},
    ]})
}

fn step(action: Action) -> Step {
    Step {
        action,
        precondition: Precondition::None,
        because: "test".into(),
    }
}

fn target(steps: Vec<Step>) -> TargetPlan {
    TargetPlan {
        account: ACCOUNT.into(),
        region: REGION.into(),
        principal: format!("arn:aws:iam::{ACCOUNT}:role/XrayCmkAdmin"),
        steps,
        note: None,
        unfixed: vec![],
    }
}

/// Replace the key X-Ray uses: create, rotate, switch, verify.
fn replace_key() -> TargetPlan {
    let alias = KeyRef::Alias("alias/xray-cmk".into());
    target(vec![
        step(Action::CreateKey {
            alias: "alias/xray-cmk".into(),
            description: "X-Ray traces".into(),
            tags: BTreeMap::from([("managed-by".into(), "xray-cmk".into())]),
            policy: planned_policy(),
        }),
        step(Action::EnableRotation {
            key: alias.clone(),
            period_days: 365,
        }),
        step(Action::SetXrayEncryption { key: alias }),
        step(Action::Verify),
    ])
}

/// Fix the key X-Ray uses in place: rotation, a merged statement, verify.
fn fix_in_place() -> TargetPlan {
    let key = KeyRef::Arn(KEY.into());
    target(vec![
        step(Action::EnableRotation {
            key: key.clone(),
            period_days: 365,
        }),
        step(Action::MergeKeyPolicy {
            key,
            statements: vec![json!({"Sid": "XRay"})],
        }),
        step(Action::Verify),
    ])
}

/// The dry run's result: every step would run, except those in `skipped` (1-based).
fn dry_run(t: &TargetPlan, skipped: &[usize]) -> TargetResult {
    let steps = t
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepResult {
            step: i + 1,
            action: s.action.kind(),
            outcome: if skipped.contains(&(i + 1)) {
                Outcome::Skipped
            } else {
                Outcome::NotRun
            },
            message: String::new(),
            failed_call: None,
        })
        .collect();
    TargetResult::from_steps(&t.account, &t.region, steps)
}

type Log = Arc<Mutex<Vec<SimulatePrincipalPolicyInput>>>;

/// A simulator that decides each requested action with `decide(action, resource)`, on
/// `pages` pages (the first ones truncated), and logs every request.
fn simulator(
    pages: usize,
    decide: fn(&str, &str) -> (PolicyEvaluationDecisionType, Option<&'static str>),
) -> (Vec<Rule>, Log) {
    let log: Log = Arc::default();
    let rules = (0..pages)
        .map(|page| {
            let (seen, asked) = (log.clone(), log.clone());
            mock!(aws_sdk_iam::Client::simulate_principal_policy)
                .match_requests(move |r| {
                    let mine = match page {
                        0 => r.marker().is_none(),
                        n => r.marker() == Some(format!("page{n}").as_str()),
                    };
                    if mine {
                        seen.lock().expect("lock").push(r.clone());
                    }
                    mine
                })
                .then_output(move || {
                    let input = asked.lock().expect("lock").last().cloned().expect("asked");
                    let actions = input.action_names.clone().unwrap_or_default();
                    let resource = input
                        .resource_arns
                        .clone()
                        .unwrap_or_default()
                        .first()
                        .cloned()
                        .unwrap_or_default();
                    // Page n answers every pages-th action, from the n-th.
                    let results = actions
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % pages == page)
                        .map(|(_, a)| {
                            let (decision, by) = decide(a, &resource);
                            let mut r = EvaluationResult::builder()
                                .eval_action_name(a)
                                .eval_resource_name(&resource)
                                .eval_decision(decision);
                            if let Some(id) = by {
                                r = r.matched_statements(
                                    Statement::builder()
                                        .source_policy_id(id)
                                        .source_policy_type(PolicySourceType::Role)
                                        .build(),
                                );
                            }
                            r.build().expect("result")
                        })
                        .collect();
                    let truncated = page + 1 < pages;
                    SimulatePrincipalPolicyOutput::builder()
                        .set_evaluation_results(Some(results))
                        .is_truncated(truncated)
                        .set_marker(truncated.then(|| format!("page{}", page + 1)))
                        .build()
                })
        })
        .collect();
    (rules, log)
}

fn allow_all(_: &str, _: &str) -> (PolicyEvaluationDecisionType, Option<&'static str>) {
    (PolicyEvaluationDecisionType::Allowed, None)
}

fn iam(rules: &[Rule]) -> aws_sdk_iam::Client {
    mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules.iter(), |c| c
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new()))
}

fn kms(rules: &[&Rule]) -> aws_sdk_kms::Client {
    mock_client!(aws_sdk_kms, RuleMode::MatchAny, rules.iter().copied())
}

/// KMS as it is before the plan's key exists.
fn no_such_alias() -> Rule {
    mock!(aws_sdk_kms::Client::describe_key)
        .match_requests(|r| r.key_id() == Some("alias/xray-cmk"))
        .then_http_response(|| {
            crate::collect::tests::wire(
                400,
                None,
                r#"{"__type":"NotFoundException","message":"Alias alias/xray-cmk is not found."}"#,
            )
        })
}

fn existing_key() -> [Rule; 2] {
    key_with_policy(KEY_POLICY)
}

fn key_with_policy(policy: &'static str) -> [Rule; 2] {
    [
        mock!(aws_sdk_kms::Client::describe_key)
            .match_requests(|r| r.key_id() == Some(KEY))
            .then_output(|| {
                DescribeKeyOutput::builder()
                    .key_metadata(
                        KeyMetadata::builder()
                            .key_id("k1")
                            .arn(KEY)
                            .build()
                            .expect("key"),
                    )
                    .build()
            }),
        mock!(aws_sdk_kms::Client::get_key_policy)
            .match_requests(|r| r.key_id() == Some(KEY) && r.policy_name() == Some("default"))
            .then_output(move || GetKeyPolicyOutput::builder().policy(policy).build()),
    ]
}

/// An IAM (awsQuery) error response.
pub(crate) fn iam_error(status: u16, code: &str) -> aws_smithy_runtime_api::http::Response {
    let body = format!(
        r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} for iam:SimulatePrincipalPolicy</Message></Error><RequestId>r1</RequestId></ErrorResponse>"#
    );
    let mut resp = aws_smithy_runtime_api::http::Response::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    );
    resp.headers_mut().insert("content-type", "text/xml");
    resp
}

fn context_of(input: &SimulatePrincipalPolicyInput) -> BTreeMap<String, (String, String)> {
    input
        .context_entries
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e.context_key_name().unwrap_or_default().to_owned(),
                (
                    e.context_key_values().join(","),
                    e.context_key_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn asking_for<'a>(
    log: &'a [SimulatePrincipalPolicyInput],
    action: &str,
) -> &'a SimulatePrincipalPolicyInput {
    log.iter()
        .find(|i| {
            i.action_names
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|a| a == action)
        })
        .unwrap_or_else(|| panic!("{action} was not simulated"))
}

#[test]
fn the_principal_is_the_role_behind_a_session_and_root_is_never_simulated() {
    assert_eq!(principal_of(SESSION, &[]), Principal::Iam(ROLE.into()));
    // A role with a path is found among the key administrators the policy file names.
    let with_path = "arn:aws:iam::111122223333:role/platform/XrayCmkDeploy".to_owned();
    let other_account = "arn:aws:iam::444455556666:role/platform/XrayCmkDeploy".to_owned();
    assert_eq!(
        principal_of(SESSION, &[other_account.clone(), with_path.clone()]),
        Principal::Iam(with_path)
    );
    assert_eq!(
        principal_of(SESSION, &[other_account]),
        Principal::Iam(ROLE.into())
    );
    let user = "arn:aws:iam::111122223333:user/ops/alice";
    assert_eq!(principal_of(user, &[]), Principal::Iam(user.into()));
    assert_eq!(
        principal_of("arn:aws:iam::111122223333:root", &[]),
        Principal::Root
    );
    assert_eq!(
        principal_of("arn:aws:sts::111122223333:federated-user/bob", &[]),
        Principal::Unknown
    );
    assert_eq!(principal_of("not an arn", &[]), Principal::Unknown);
}

#[tokio::test]
async fn all_allowed_simulates_every_call_with_the_context_aws_would_see() {
    let (rules, log) = simulator(1, allow_all);
    let plan = replace_key();
    let missing = no_such_alias();
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&missing]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect("checked");
    assert_eq!(verdict, Verdict::Allowed);

    let log = log.lock().expect("lock").clone();
    for input in &log {
        assert_eq!(input.policy_source_arn(), Some(ROLE));
        assert_eq!(
            context_of(input).get("aws:RequestedRegion"),
            Some(&(REGION.to_owned(), "string".to_owned()))
        );
    }
    // Account-level calls: on `*`, IAM policies only.
    let create = asking_for(&log, "kms:CreateKey");
    assert_eq!(create.resource_arns(), ["*"]);
    assert_eq!(create.resource_policy(), None);
    assert!(create
        .action_names()
        .contains(&"kms:CreateAlias".to_owned()));
    assert!(create
        .action_names()
        .contains(&"kms:TagResource".to_owned()));
    // The key does not exist yet: `*`. A role is simulated with its own policies only (the
    // simulator evaluates a resource policy for IAM users only); the planned key policy is judged
    // by the core's model.
    let rotation = asking_for(&log, "kms:EnableKeyRotation");
    assert_eq!(rotation.resource_arns(), ["*"]);
    assert_eq!(rotation.resource_policy(), None);
    assert_eq!(rotation.caller_arn(), None);
    assert_eq!(rotation.resource_owner(), None);
    // Discarding the created key if another run's key gets the alias first: on the new key, with
    // its policy and the tag IAM scopes these actions with.
    let discard = asking_for(&log, "kms:ScheduleKeyDeletion");
    assert!(discard
        .action_names()
        .contains(&"kms:DisableKey".to_owned()));
    assert_eq!(discard.resource_arns(), ["*"]);
    assert_eq!(discard.resource_policy(), None);
    assert_eq!(
        context_of(discard).get("aws:ResourceTag/managed-by"),
        Some(&("xray-cmk".to_owned(), "string".to_owned()))
    );
    assert!(!context_of(create).contains_key("aws:ResourceTag/managed-by"));
    // X-Ray's grant, and reading traces through X-Ray.
    let grant = context_of(asking_for(&log, "kms:CreateGrant"));
    assert_eq!(
        grant.get("kms:ViaService"),
        Some(&(
            "xray.eu-west-1.amazonaws.com".to_owned(),
            "string".to_owned()
        ))
    );
    assert_eq!(
        grant.get("kms:GrantIsForAWSResource"),
        Some(&("true".to_owned(), "boolean".to_owned()))
    );
    let decrypt = asking_for(&log, "kms:Decrypt");
    assert_eq!(
        context_of(decrypt)
            .get("kms:ViaService")
            .map(|v| v.0.as_str()),
        Some("xray.eu-west-1.amazonaws.com")
    );
    assert!(!context_of(decrypt).contains_key("kms:GrantIsForAWSResource"));
    assert!(asking_for(&log, "xray:PutEncryptionConfig")
        .action_names()
        .contains(&"xray:BatchGetTraces".to_owned()));
}

#[tokio::test]
async fn one_implicit_deny_stops_the_target_and_is_named() {
    fn no_put_policy(
        action: &str,
        _: &str,
    ) -> (PolicyEvaluationDecisionType, Option<&'static str>) {
        match action {
            "kms:PutKeyPolicy" => (PolicyEvaluationDecisionType::ImplicitDeny, None),
            _ => (PolicyEvaluationDecisionType::Allowed, None),
        }
    }
    let (rules, log) = simulator(1, no_put_policy);
    let plan = fix_in_place();
    let key = existing_key();
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&key[0], &key[1]]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect("checked");
    let Verdict::Denied(denied) = verdict else {
        panic!("expected a denial, got {verdict:?}")
    };
    assert_eq!(
        denied,
        vec![Denied {
            action: "kms:PutKeyPolicy",
            denial: Denial::Implicit { why: vec![] }
        }]
    );
    assert_eq!(
        denied_message(SESSION, ACCOUNT, REGION, &denied),
        format!("pre-flight: {SESSION} may not kms:PutKeyPolicy in 111122223333/eu-west-1 (kms:PutKeyPolicy: implicitDeny); xray-cmk iam-policy --mode remediate prints what apply needs")
    );
    // An existing key is simulated on its ARN; for a role, without its key policy.
    let log = log.lock().expect("lock").clone();
    let put = asking_for(&log, "kms:PutKeyPolicy");
    assert_eq!(put.resource_arns(), [KEY]);
    assert_eq!(put.resource_policy(), None);
    assert_eq!(put.caller_arn(), None);
    assert_eq!(asking_for(&log, "kms:Decrypt").resource_arns(), [KEY]);
}

#[tokio::test]
async fn explicit_and_implicit_denies_are_named_with_what_denied_them() {
    fn read_only(action: &str, _: &str) -> (PolicyEvaluationDecisionType, Option<&'static str>) {
        match action {
            "kms:CreateKey" => (
                PolicyEvaluationDecisionType::ExplicitDeny,
                Some("no-create"),
            ),
            "kms:CreateAlias" | "kms:TagResource" => {
                (PolicyEvaluationDecisionType::ImplicitDeny, None)
            }
            _ => (PolicyEvaluationDecisionType::Allowed, None),
        }
    }
    let (rules, _) = simulator(1, read_only);
    let plan = replace_key();
    let missing = no_such_alias();
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&missing]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect("checked");
    let Verdict::Denied(denied) = verdict else {
        panic!("expected a denial, got {verdict:?}")
    };
    assert_eq!(
        denied_message(SESSION, ACCOUNT, REGION, &denied),
        format!("pre-flight: {SESSION} may not kms:CreateKey, kms:CreateAlias, kms:TagResource in 111122223333/eu-west-1 (kms:CreateKey: explicitDeny by no-create (role); kms:CreateAlias, kms:TagResource: implicitDeny); xray-cmk iam-policy --mode remediate prints what apply needs")
    );
}

#[tokio::test]
async fn every_page_of_a_truncated_simulation_is_read() {
    fn deny_reading(action: &str, _: &str) -> (PolicyEvaluationDecisionType, Option<&'static str>) {
        match action {
            "xray:BatchGetTraces" => (PolicyEvaluationDecisionType::ImplicitDeny, None),
            _ => (PolicyEvaluationDecisionType::Allowed, None),
        }
    }
    // Verification alone: xray:PutTraceSegments, xray:BatchGetTraces on `*`, kms:Decrypt on the
    // key. Each simulation answers on two pages; the denial is on the second.
    let plan = fix_in_place();
    let (rules, log) = simulator(2, deny_reading);
    let key = existing_key();
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&key[0], &key[1]]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[1, 2]),
    )
    .await
    .expect("checked");
    let log = log.lock().expect("lock").clone();
    assert!(
        log.iter().any(|i| i.marker() == Some("page1")),
        "the second page was asked for: {log:?}"
    );
    // Only the verification would run: rotation and the merge are not simulated.
    assert!(!log
        .iter()
        .any(|i| i.action_names().contains(&"kms:PutKeyPolicy".to_owned())));
    assert_eq!(
        verdict,
        Verdict::Denied(vec![Denied {
            action: "xray:BatchGetTraces",
            denial: Denial::Implicit { why: vec![] }
        }])
    );
}

#[tokio::test]
async fn a_simulation_that_is_denied_is_unknown_never_a_pass() {
    let denied = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .then_http_response(|| iam_error(403, "AccessDenied"));
    let plan = replace_key();
    let missing = no_such_alias();
    let err = check_target(
        &iam(&[denied]),
        &kms(&[&missing]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::AccessDenied);
    let needed = needed_actions(&plan, &dry_run(&plan, &[]));
    assert!(needed.contains(&"kms:CreateKey") && needed.contains(&"kms:Decrypt"));
    let message = unchecked_message(SESSION, ACCOUNT, REGION, &needed, &err);
    assert!(
        message.starts_with(&format!(
            "pre-flight: could not check the permissions of {SESSION} in 111122223333/eu-west-1 (access denied): iam:SimulatePrincipalPolicy failed: AccessDenied"
        )),
        "{message}"
    );
    assert!(
        message.contains("Unknown is not a pass: the steps need kms:DescribeKey, kms:ListResourceTags, kms:GetKeyPolicy, kms:ListAliases, kms:ListKeys, kms:CreateKey, kms:CreateAlias, kms:TagResource, kms:DisableKey, kms:ScheduleKeyDeletion,"),
        "{message}"
    );
}

#[tokio::test]
async fn a_simulation_still_throttled_after_the_sdks_retries_is_unknown() {
    let throttled = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .sequence()
        .http_response(|| iam_error(400, "Throttling"))
        .times(3)
        .build();
    let plan = replace_key();
    let missing = no_such_alias();
    let client = iam(std::slice::from_ref(&throttled));
    let err = check_target(
        &client,
        &kms(&[&missing]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect_err("unknown");
    assert_eq!(throttled.num_calls(), 3, "retried by the SDK first");
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert!(unchecked_message(SESSION, ACCOUNT, REGION, &[], &err).contains("(throttled)"));
}

#[tokio::test]
async fn a_role_with_a_path_cannot_be_named_from_its_session() {
    let no_role = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .then_http_response(|| iam_error(404, "NoSuchEntity"));
    let plan = replace_key();
    let missing = no_such_alias();
    let err = check_target(
        &iam(&[no_role]),
        &kms(&[&missing]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect_err("unknown");
    assert!(matches!(err, Unchecked::RoleNotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("a role with a path cannot be recovered from its session ARN"),
        "{err}"
    );
}

#[tokio::test]
async fn the_root_caller_is_not_simulated_and_says_so() {
    let (rules, log) = simulator(1, allow_all);
    let plan = replace_key();
    let missing = no_such_alias();
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&missing]),
        "arn:aws:iam::111122223333:root",
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect("checked");
    assert_eq!(verdict, Verdict::Root);
    assert!(log.lock().expect("lock").is_empty());
    assert_eq!(missing.num_calls(), 0);
}

#[tokio::test]
async fn nothing_to_run_needs_no_simulation_and_a_missing_decision_is_unknown() {
    let plan = fix_in_place();
    let (rules, log) = simulator(1, allow_all);
    let verdict = check_target(
        &iam(&rules),
        &kms(&[]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[1, 2, 3]),
    )
    .await
    .expect("checked");
    assert_eq!(verdict, Verdict::Allowed);
    assert!(log.lock().expect("lock").is_empty());

    let silent = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .then_output(|| SimulatePrincipalPolicyOutput::builder().build());
    let key = existing_key();
    let err = check_target(
        &iam(&[silent]),
        &kms(&[&key[0], &key[1]]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect_err("no decision");
    assert!(matches!(err, Unchecked::NoDecision { .. }), "{err:?}");
}

#[tokio::test]
async fn a_key_policy_that_does_not_delegate_to_iam_denies_whatever_iam_allows() {
    // Only KeyAdmin may use the key: KMS refuses the deploy role even though IAM allows it,
    // which the simulator (a key policy is just a resource policy to it) does not see.
    const ADMIN_ONLY: &str = r#"{"Statement":[
        {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"},
        {"Sid":"NoGrants","Effect":"Deny","Principal":"*","Action":"kms:EnableKeyRotation","Resource":"*"}]}"#;
    let (rules, _) = simulator(1, allow_all);
    let plan = fix_in_place();
    let key = key_with_policy(ADMIN_ONLY);
    let verdict = check_target(
        &iam(&rules),
        &kms(&[&key[0], &key[1]]),
        SESSION,
        &[],
        &plan,
        &dry_run(&plan, &[]),
    )
    .await
    .expect("checked");
    let Verdict::Denied(denied) = verdict else {
        panic!("expected a denial, got {verdict:?}")
    };
    let message = denied_message(SESSION, ACCOUNT, REGION, &denied);
    assert!(
        message.contains(
            r#"kms:EnableKeyRotation: explicitDeny by the key policy (statement "NoGrants")"#
        ),
        "{message}"
    );
    assert!(
        message.contains("kms:DescribeKey, kms:ListResourceTags, kms:GetKeyRotationStatus, kms:GetKeyPolicy, kms:PutKeyPolicy, kms:Decrypt: implicitDeny: the key policy neither allows it nor leaves it to IAM"),
        "{message}"
    );
}
