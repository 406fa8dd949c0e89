//! The guardrail's collectors over modeled outputs and recorded wire errors.

use super::*;
use crate::collect::tests::wire;
use aws_sdk_config::operation::describe_config_rules::DescribeConfigRulesOutput;
use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
use aws_sdk_config::operation::describe_configuration_recorders::DescribeConfigurationRecordersOutput;
use aws_sdk_config::types::{
    ConfigRule as SdkConfigRule, ConfigRuleState, ConfigurationRecorder,
    ConfigurationRecorderStatus, ExclusionByResourceTypes, Owner, RecordingStrategy, ResourceType,
    Scope, Source,
};
use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput;
use aws_sdk_eventbridge::types::{Rule as SdkRule, RuleState, Target};
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
use aws_sdk_organizations::operation::describe_policy::DescribePolicyOutput;
use aws_sdk_organizations::operation::list_parents::ListParentsOutput;
use aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput;
use aws_sdk_organizations::types::{Organization, Parent, Policy, PolicySummary};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use xray_cmk_core::ErrorKind;

macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {
        mock_client!($sdk, RuleMode::MatchAny, $rules.iter().copied(), |c| c
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new()))
    };
}

/// An awsJson 1.1 error (Config, EventBridge, Organizations name it in the body's `__type`).
fn json_error(status: u16, kind: &'static str) -> aws_smithy_runtime_api::http::Response {
    let body: &'static str = match kind {
        "AccessDeniedException" => {
            r#"{"__type":"AccessDeniedException","message":"not authorized"}"#
        }
        "ThrottlingException" => r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        _ => r#"{"__type":"InternalFailure","message":"boom"}"#,
    };
    wire(status, None, body)
}

fn recorders_ok() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_config::Client::describe_configuration_recorders).then_output(|| {
            DescribeConfigurationRecordersOutput::builder()
                .configuration_recorders(
                    ConfigurationRecorder::builder()
                        .name("default")
                        .recording_group(
                            RecordingGroup::builder()
                                .recording_strategy(
                                    RecordingStrategy::builder()
                                        .use_only(RecordingStrategyType::ExclusionByResourceTypes)
                                        .build(),
                                )
                                .exclusion_by_resource_types(
                                    ExclusionByResourceTypes::builder()
                                        .resource_types(ResourceType::from("AWS::S3::Bucket"))
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .configuration_recorders(
                    ConfigurationRecorder::builder()
                        .name("linked")
                        .service_principal("securityhub.amazonaws.com")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_config::Client::describe_configuration_recorder_status).then_output(|| {
            DescribeConfigurationRecorderStatusOutput::builder()
                .configuration_recorders_status(
                    ConfigurationRecorderStatus::builder()
                        .name("default")
                        .recording(true)
                        .build(),
                )
                .build()
        }),
    ]
}

fn config_rule(name: &str) -> SdkConfigRule {
    SdkConfigRule::builder()
        .config_rule_name(name)
        .config_rule_state(ConfigRuleState::Active)
        .source(
            Source::builder()
                .owner(Owner::CustomPolicy)
                .build()
                .expect("owner"),
        )
        .scope(
            Scope::builder()
                .compliance_resource_types("AWS::XRay::EncryptionConfig")
                .build(),
        )
        .build()
}

fn rules_pages() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_config::Client::describe_config_rules)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                DescribeConfigRulesOutput::builder()
                    .config_rules(config_rule("first"))
                    .next_token("t")
                    .build()
            }),
        mock!(aws_sdk_config::Client::describe_config_rules)
            .match_requests(|r| r.next_token() == Some("t"))
            .then_output(|| {
                DescribeConfigRulesOutput::builder()
                    .config_rules(config_rule("xray-cmk-encryption"))
                    .build()
            }),
    ]
}

fn event_rule(name: &str, state: RuleState, pattern: Option<&str>) -> SdkRule {
    let b = SdkRule::builder().name(name).state(state);
    match pattern {
        Some(p) => b.event_pattern(p).build(),
        None => b.schedule_expression("rate(1 day)").build(),
    }
}

fn events_ok(targets: Rule) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_eventbridge::Client::list_rules).then_output(|| {
            ListRulesOutput::builder()
                .rules(event_rule(
                    "alert",
                    RuleState::Enabled,
                    Some(r#"{"source":["aws.xray"]}"#),
                ))
                .rules(event_rule(
                    "off",
                    RuleState::Disabled,
                    Some(r#"{"source":["aws.xray"]}"#),
                ))
                .rules(event_rule("nightly", RuleState::Enabled, None))
                .build()
        }),
        targets,
    ]
}

fn targets_ok() -> Rule {
    mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .match_requests(|r| r.rule() == Some("alert"))
        .then_output(|| {
            ListTargetsByRuleOutput::builder()
                .targets(
                    Target::builder()
                        .id("sns")
                        .arn("arn:aws:sns:eu-west-1:111122223333:alerts")
                        .build()
                        .expect("target"),
                )
                .build()
        })
}

#[tokio::test]
async fn the_guardrail_is_read_into_the_model() {
    let mut config_rules: Vec<Rule> = recorders_ok();
    config_rules.extend(rules_pages());
    let targets = targets_ok();
    let listed = events_ok(targets.clone());
    let config: aws_sdk_config::Client =
        mocked!(aws_sdk_config, config_rules.iter().collect::<Vec<_>>());
    let events: aws_sdk_eventbridge::Client =
        mocked!(aws_sdk_eventbridge, listed.iter().collect::<Vec<_>>());
    let g = guardrail(&config, &events).await;

    let recorders = g.recorders.known().expect("recorders");
    assert_eq!(
        recorders,
        &vec![
            ConfigRecorder {
                name: "default".into(),
                scope: RecordingScope::AllExcept(vec!["AWS::S3::Bucket".into()]),
                recording: Some(true),
                service_principal: None,
            },
            ConfigRecorder {
                name: "linked".into(),
                scope: RecordingScope::AllSupported,
                recording: None,
                service_principal: Some("securityhub.amazonaws.com".into()),
            },
        ]
    );
    let names: Vec<&str> = g
        .config_rules
        .known()
        .expect("rules")
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["first", "xray-cmk-encryption"], "every page");
    let rule = &g.config_rules.known().expect("rules")[1];
    assert_eq!(rule.owner.as_deref(), Some("CUSTOM_POLICY"));
    assert_eq!(rule.resource_types, ["AWS::XRay::EncryptionConfig"]);

    let ev = g.event_rules.known().expect("event rules");
    assert_eq!(ev.len(), 3);
    assert_eq!(
        ev[0].targets,
        Observed::Known(vec!["arn:aws:sns:eu-west-1:111122223333:alerts".into()])
    );
    // Targets are read only where they could matter: an enabled rule with a pattern.
    assert_eq!(targets.num_calls(), 1);
    assert!(ev[1].targets.known().is_none() && ev[2].targets.known().is_none());
    assert_eq!(ev[2].event_pattern, None);
}

#[tokio::test]
async fn a_denied_or_throttled_read_is_unknown_with_its_kind() {
    let denied = mock!(aws_sdk_config::Client::describe_config_rules)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let config: aws_sdk_config::Client = mocked!(aws_sdk_config, [&denied]);
    let Observed::Unknown(err) = config_rules(&config).await else {
        panic!("expected unknown")
    };
    assert_eq!(
        (err.kind, err.operation.as_str()),
        (ErrorKind::AccessDenied, "config:DescribeConfigRules")
    );

    let status_denied = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let mut rules = recorders_ok();
    rules.truncate(1);
    rules.push(status_denied);
    let config: aws_sdk_config::Client = mocked!(aws_sdk_config, rules.iter().collect::<Vec<_>>());
    let Observed::Unknown(err) = recorders(&config).await else {
        panic!("expected unknown")
    };
    assert_eq!(err.operation, "config:DescribeConfigurationRecorderStatus");

    let throttled = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException"))
        .repeatedly()
        .build();
    let listed = events_ok(throttled.clone());
    let events: aws_sdk_eventbridge::Client =
        mocked!(aws_sdk_eventbridge, listed.iter().collect::<Vec<_>>());
    let ev = event_rules_of(&events).await;
    assert_eq!(throttled.num_calls(), 3, "retried to exhaustion");
    let Observed::Unknown(err) = &ev[0].targets else {
        panic!("expected unknown targets")
    };
    assert_eq!(err.kind, ErrorKind::Throttled);

    let list_denied = mock!(aws_sdk_eventbridge::Client::list_rules)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let events: aws_sdk_eventbridge::Client = mocked!(aws_sdk_eventbridge, [&list_denied]);
    assert!(
        matches!(event_rules(&events).await, Observed::Unknown(e) if e.kind == ErrorKind::AccessDenied)
    );
}

async fn event_rules_of(events: &aws_sdk_eventbridge::Client) -> Vec<EventRule> {
    event_rules(events).await.known().expect("listed").clone()
}

/// The rules judge what the collectors read: a throttled target list is an `error` of
/// `guard-drift-alert-missing`, never a pass.
#[tokio::test]
async fn an_unreadable_input_makes_the_rule_an_error() {
    let throttled = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException"))
        .repeatedly()
        .build();
    let mut config_rules: Vec<Rule> = recorders_ok();
    config_rules.extend(rules_pages());
    let listed = events_ok(throttled);
    let config: aws_sdk_config::Client =
        mocked!(aws_sdk_config, config_rules.iter().collect::<Vec<_>>());
    let events: aws_sdk_eventbridge::Client =
        mocked!(aws_sdk_eventbridge, listed.iter().collect::<Vec<_>>());
    let g = guardrail(&config, &events).await;
    let mut inv = xray_cmk_core::Inventory {
        targets: vec![xray_cmk_core::XrayTarget {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            origin: xray_cmk_core::Origin::Live,
            encryption: Observed::Known(xray_cmk_core::XrayEncryption {
                encryption_type: xray_cmk_core::EncryptionType::None,
                key_id: None,
                status: None,
            }),
            trails: None,
            segment_destination: None,
        }],
        ..Default::default()
    };
    inv.guardrails
        .insert(("111122223333".into(), "eu-west-1".into()), g);
    let rules = xray_cmk_core::select(&["guard-*".into()], &[]).expect("rules");
    let policy = xray_cmk_core::OrgPolicy::default();
    let findings = xray_cmk_core::evaluate(&xray_cmk_core::Context {
        inventory: &inv,
        policy: &policy,
        today: xray_cmk_core::Date::new(2026, 11, 28).expect("date"),
        rules: &rules,
    });
    let status: Vec<(&str, xray_cmk_core::Status)> = findings
        .iter()
        .map(|f| (f.rule().as_str(), f.status()))
        .collect();
    assert_eq!(
        status,
        [
            ("guard-config-rule-missing", xray_cmk_core::Status::Pass),
            ("guard-drift-alert-missing", xray_cmk_core::Status::Error),
        ]
    );
}

fn org_rules(content: Rule) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    Organization::builder()
                        .master_account_id("999999999999")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_organizations::Client::list_parents)
            .match_requests(|r| r.child_id() == Some("111122223333"))
            .then_output(|| {
                ListParentsOutput::builder()
                    .parents(
                        Parent::builder()
                            .id("ou-ab-1")
                            .r#type(ParentType::OrganizationalUnit)
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_parents)
            .match_requests(|r| r.child_id() == Some("ou-ab-1"))
            .then_output(|| {
                ListParentsOutput::builder()
                    .parents(
                        Parent::builder()
                            .id("r-ab")
                            .r#type(ParentType::Root)
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| {
                r.filter() == Some(&PolicyType::ServiceControlPolicy)
                    && r.target_id() == Some("ou-ab-1")
            })
            .then_output(|| {
                ListPoliciesForTargetOutput::builder()
                    .policies(
                        PolicySummary::builder()
                            .id("p-guard")
                            .name("xray-cmk-guard")
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| r.target_id() != Some("ou-ab-1"))
            .then_output(|| ListPoliciesForTargetOutput::builder().build()),
        content,
    ]
}

#[tokio::test]
async fn the_scp_path_runs_from_the_account_to_the_root_once_per_node() {
    let content = mock!(aws_sdk_organizations::Client::describe_policy)
        .match_requests(|r| r.policy_id() == Some("p-guard"))
        .then_output(|| {
            DescribePolicyOutput::builder()
                .policy(Policy::builder().content(r#"{"Statement":[]}"#).build())
                .build()
        });
    let rules = org_rules(content.clone());
    let org: aws_sdk_organizations::Client =
        mocked!(aws_sdk_organizations, rules.iter().collect::<Vec<_>>());
    let cache = OrgCache::default();
    let path = scp_path(&org, "111122223333", &cache).await;
    let path = path.known().expect("path");
    assert!(!path.management_account);
    let ids: Vec<&str> = path.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["111122223333", "ou-ab-1", "r-ab"]);
    assert_eq!(path.nodes[1].policies[0].id, "p-guard");
    assert_eq!(
        path.nodes[1].policies[0].content,
        Observed::Known(r#"{"Statement":[]}"#.into())
    );
    // A second account under the same OU reads only what is its own.
    scp_path(&org, "111122223333", &cache).await;
    assert_eq!(content.num_calls(), 1);
}

#[tokio::test]
async fn an_scp_that_cannot_be_read_is_unknown_content() {
    let denied = mock!(aws_sdk_organizations::Client::describe_policy)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let rules = org_rules(denied);
    let org: aws_sdk_organizations::Client =
        mocked!(aws_sdk_organizations, rules.iter().collect::<Vec<_>>());
    let path = scp_path(&org, "111122223333", &OrgCache::default()).await;
    let Observed::Unknown(err) = &path.known().expect("path").nodes[1].policies[0].content else {
        panic!("expected unknown content")
    };
    assert_eq!(err.kind, ErrorKind::AccessDenied);

    let parents_denied = mock!(aws_sdk_organizations::Client::list_parents)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let rules = org_rules(
        mock!(aws_sdk_organizations::Client::describe_policy)
            .then_output(|| DescribePolicyOutput::builder().build()),
    );
    let org: aws_sdk_organizations::Client = mocked!(
        aws_sdk_organizations,
        [&rules[0], &parents_denied, &rules[3], &rules[4]]
    );
    let Observed::Unknown(err) = scp_path(&org, "111122223333", &OrgCache::default()).await else {
        panic!("expected unknown")
    };
    assert_eq!(err.operation, "organizations:ListParents");
}
