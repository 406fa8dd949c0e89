//! Collector tests over recorded wire responses and modeled outputs.

use super::*;
use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
use aws_sdk_cloudtrail::operation::get_trail::GetTrailOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::list_trails::ListTrailsOutput;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType, Trail, TrailInfo,
};
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup as SdkLogGroup;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
use aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput;
use aws_sdk_kms::types::{AliasListEntry, KeyManagerType, KeyMetadata, KeySpec, KeyState, Tag};
use aws_sdk_xray::operation::get_encryption_config::GetEncryptionConfigOutput;
use aws_sdk_xray::operation::get_trace_segment_destination::GetTraceSegmentDestinationOutput;
use aws_sdk_xray::types::{
    EncryptionConfig, EncryptionStatus, EncryptionType as SdkEncryptionType,
    TraceSegmentDestination, TraceSegmentDestinationStatus,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use xray_cmk_core::model::EventSelectors;
use xray_cmk_core::{ErrorKind, KeyManager};

const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";
const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/all";

/// A recorded wire response: rest-json services name the error in `x-amzn-ErrorType`,
/// awsJson 1.1 services (KMS) in the body's `__type`.
pub(crate) fn wire(
    status: u16,
    error_type: Option<&str>,
    body: &'static str,
) -> aws_smithy_runtime_api::http::Response {
    let mut resp = aws_smithy_runtime_api::http::Response::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    );
    resp.headers_mut()
        .insert("content-type", "application/json");
    if let Some(t) = error_type {
        resp.headers_mut().insert("x-amzn-ErrorType", t.to_owned());
    }
    resp
}

/// Mocked clients that retry like the real ones (3 attempts), with real sleeps.
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {
        mock_client!($sdk, RuleMode::MatchAny, $rules.iter().copied(), |c| c
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new()))
    };
}

fn xray(rules: &[&Rule]) -> aws_sdk_xray::Client {
    mocked!(aws_sdk_xray, rules)
}
fn kms(rules: &[&Rule]) -> aws_sdk_kms::Client {
    mocked!(aws_sdk_kms, rules)
}
fn cloudtrail(rules: &[&Rule]) -> aws_sdk_cloudtrail::Client {
    mocked!(aws_sdk_cloudtrail, rules)
}
fn logs(rules: &[&Rule]) -> aws_sdk_cloudwatchlogs::Client {
    mocked!(aws_sdk_cloudwatchlogs, rules)
}
fn iam(rules: &[&Rule]) -> aws_sdk_iam::Client {
    mocked!(aws_sdk_iam, rules)
}

fn kms_config() -> GetEncryptionConfigOutput {
    GetEncryptionConfigOutput::builder()
        .encryption_config(
            EncryptionConfig::builder()
                .r#type(SdkEncryptionType::Kms)
                .key_id(KEY)
                .status(EncryptionStatus::Active)
                .build(),
        )
        .build()
}

fn metadata() -> KeyMetadata {
    KeyMetadata::builder()
        .key_id("k1")
        .arn(KEY)
        .key_manager(KeyManagerType::Customer)
        .key_state(KeyState::Enabled)
        .key_spec(KeySpec::SymmetricDefault)
        .build()
        .expect("key id set")
}

/// The four key reads after DescribeKey, answering as a well-kept key would.
fn key_detail_rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(true)
                .rotation_period_in_days(365)
                .build()
        }),
        mock!(aws_sdk_kms::Client::get_key_policy)
            .match_requests(|r| r.policy_name() == Some("default"))
            .then_output(|| {
                GetKeyPolicyOutput::builder()
                    .policy(r#"{"Statement":[]}"#)
                    .build()
            }),
        mock!(aws_sdk_kms::Client::list_resource_tags)
            .match_requests(|r| r.marker().is_none())
            .then_output(|| {
                ListResourceTagsOutput::builder()
                    .tags(
                        Tag::builder()
                            .tag_key("owner")
                            .tag_value("sec")
                            .build()
                            .expect("tag"),
                    )
                    .truncated(true)
                    .next_marker("m1")
                    .build()
            }),
        mock!(aws_sdk_kms::Client::list_resource_tags)
            .match_requests(|r| r.marker() == Some("m1"))
            .then_output(|| {
                ListResourceTagsOutput::builder()
                    .tags(
                        Tag::builder()
                            .tag_key("env")
                            .tag_value("")
                            .build()
                            .expect("tag"),
                    )
                    .truncated(false)
                    .build()
            }),
        mock!(aws_sdk_kms::Client::list_aliases).then_output(|| {
            ListAliasesOutput::builder()
                .aliases(
                    AliasListEntry::builder()
                        .alias_name("alias/xray-cmk")
                        .build(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn access_denied_becomes_unknown() {
    let denied = mock!(aws_sdk_xray::Client::get_encryption_config).then_http_response(|| {
        wire(
            403,
            Some("AccessDeniedException"),
            r#"{"Message":"User: arn:aws:sts::111122223333:assumed-role/XrayCmkAudit/s is not authorized to perform: xray:GetEncryptionConfig"}"#,
        )
    });
    let Observed::Unknown(err) = encryption_config(&xray(&[&denied])).await else {
        panic!("expected unknown")
    };
    assert_eq!(err.kind, ErrorKind::AccessDenied);
    assert_eq!(err.operation, "xray:GetEncryptionConfig");
    assert!(err.message.contains("not authorized"), "{}", err.message);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let throttled = mock!(aws_sdk_xray::Client::get_encryption_config)
        .sequence()
        .http_response(|| {
            wire(
                429,
                Some("ThrottledException"),
                r#"{"Message":"Rate exceeded"}"#,
            )
        })
        .times(2)
        .output(kms_config)
        .build();
    let enc = encryption_config(&xray(&[&throttled])).await;
    assert_eq!(throttled.num_calls(), 3);
    let enc = enc.known().expect("known after retries");
    assert_eq!(enc.encryption_type, EncryptionType::Kms);
    assert_eq!(enc.key_id.as_deref(), Some(KEY));
}

#[tokio::test]
async fn persistent_throttling_is_an_unknown_throttled() {
    let throttled = mock!(aws_sdk_xray::Client::get_encryption_config)
        .sequence()
        .http_response(|| {
            wire(
                429,
                Some("ThrottledException"),
                r#"{"Message":"Rate exceeded"}"#,
            )
        })
        .repeatedly()
        .build();
    let enc = encryption_config(&xray(&[&throttled])).await;
    assert_eq!(throttled.num_calls(), 3);
    let Observed::Unknown(err) = enc else {
        panic!("expected unknown")
    };
    assert_eq!(err.kind, ErrorKind::Throttled);
}

#[tokio::test]
async fn missing_optional_fields_do_not_panic() {
    let bare = mock!(aws_sdk_xray::Client::get_encryption_config)
        .then_output(|| GetEncryptionConfigOutput::builder().build());
    assert!(matches!(
        encryption_config(&xray(&[&bare])).await,
        Observed::Unknown(_)
    ));

    let no_type = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(|| {
        GetEncryptionConfigOutput::builder()
            .encryption_config(EncryptionConfig::builder().build())
            .build()
    });
    let enc = encryption_config(&xray(&[&no_type])).await;
    let enc = enc.known().expect("known");
    assert_eq!(
        enc.encryption_type,
        EncryptionType::Other(xray_cmk_core::model::MISSING_TYPE.into())
    );
    assert_eq!((enc.key_id.as_deref(), enc.status.as_deref()), (None, None));

    // DescribeKey with only the required KeyId; the follow-up reads all fail.
    let bare_key = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("k1")
                    .build()
                    .expect("key id set"),
            )
            .build()
    });
    let denied = || {
        wire(
            400,
            None,
            r#"{"__type":"AccessDeniedException","message":"denied"}"#,
        )
    };
    let rules = [
        mock!(aws_sdk_kms::Client::get_key_rotation_status).then_http_response(denied),
        mock!(aws_sdk_kms::Client::get_key_policy).then_http_response(denied),
        mock!(aws_sdk_kms::Client::list_resource_tags).then_http_response(denied),
        mock!(aws_sdk_kms::Client::list_aliases).then_http_response(denied),
    ];
    let all: Vec<&Rule> = std::iter::once(&bare_key).chain(rules.iter()).collect();
    let Observed::Known(key) = describe_key(&kms(&all), KEY, true).await else {
        panic!("expected known")
    };
    assert_eq!(
        (key.key_manager, key.key_state, key.key_spec),
        (None, None, None)
    );
    for (part, unknown) in [
        ("rotation", matches!(key.rotation, Observed::Unknown(_))),
        ("policy", matches!(key.policy, Observed::Unknown(_))),
        ("tags", matches!(key.tags, Observed::Unknown(_))),
        ("aliases", matches!(key.aliases, Observed::Unknown(_))),
    ] {
        assert!(unknown, "{part} should be unknown");
    }

    let no_meta = mock!(aws_sdk_kms::Client::describe_key)
        .then_output(|| DescribeKeyOutput::builder().build());
    assert!(matches!(
        describe_key(&kms(&[&no_meta]), KEY, true).await,
        Observed::Unknown(_)
    ));
}

#[tokio::test]
async fn describe_key_reads_everything_once_and_follows_pages() {
    let nf = mock!(aws_sdk_kms::Client::describe_key).then_http_response(|| {
        wire(
            400,
            None,
            r#"{"__type":"NotFoundException","message":"Key 'arn:aws:kms:eu-west-1:111122223333:key/k1' does not exist"}"#,
        )
    });
    let Observed::Unknown(err) = describe_key(&kms(&[&nf]), KEY, true).await else {
        panic!("expected unknown")
    };
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.code.as_deref(), Some("NotFoundException"));

    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(metadata())
            .build()
    });
    let details = key_detail_rules();
    let all: Vec<&Rule> = std::iter::once(&describe).chain(details.iter()).collect();
    let Observed::Known(key) = describe_key(&kms(&all), KEY, true).await else {
        panic!("expected known")
    };
    assert_eq!(key.key_manager, Some(KeyManager::Customer));
    assert_eq!(key.key_spec.as_deref(), Some("SYMMETRIC_DEFAULT"));
    let rotation = key.rotation.known().expect("rotation");
    assert_eq!((rotation.enabled, rotation.period_days), (true, Some(365)));
    assert_eq!(
        key.policy.known().map(String::as_str),
        Some(r#"{"Statement":[]}"#)
    );
    let tags = key.tags.known().expect("tags");
    assert_eq!(tags.get("owner").map(String::as_str), Some("sec"));
    assert_eq!(
        tags.get("env").map(String::as_str),
        Some(""),
        "second page read"
    );
    assert_eq!(
        key.aliases.known(),
        Some(&vec!["alias/xray-cmk".to_owned()])
    );
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn spans_log_group_is_read_only_for_cloudwatch_logs() {
    let cwl = mock!(aws_sdk_xray::Client::get_trace_segment_destination).then_output(|| {
        GetTraceSegmentDestinationOutput::builder()
            .destination(TraceSegmentDestination::CloudWatchLogs)
            .status(TraceSegmentDestinationStatus::Active)
            .build()
    });
    let groups = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| r.log_group_name_prefix() == Some("aws/spans"))
        .then_output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    SdkLogGroup::builder()
                        .log_group_name("aws/spans-archive")
                        .build(),
                )
                .log_groups(
                    SdkLogGroup::builder()
                        .log_group_name("aws/spans")
                        .kms_key_id(KEY)
                        .build(),
                )
                .build()
        });
    let dest = segment_destination(&xray(&[&cwl]), &logs(&[&groups])).await;
    let dest = dest.known().expect("known");
    assert_eq!(dest.destination, "CloudWatchLogs");
    let group = dest
        .spans_log_group
        .as_ref()
        .and_then(Observed::known)
        .and_then(Option::as_ref)
        .expect("aws/spans found");
    assert_eq!(group.kms_key_id.as_deref(), Some(KEY));

    let to_xray = mock!(aws_sdk_xray::Client::get_trace_segment_destination).then_output(|| {
        GetTraceSegmentDestinationOutput::builder()
            .destination(TraceSegmentDestination::XRay)
            .build()
    });
    let untouched = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .then_output(|| DescribeLogGroupsOutput::builder().build());
    let dest = segment_destination(&xray(&[&to_xray]), &logs(&[&untouched])).await;
    assert_eq!(
        dest.known().map(|d| d.spans_log_group.is_none()),
        Some(true)
    );
    assert_eq!(untouched.num_calls(), 0);
}

#[tokio::test]
async fn trail_selectors_basic_and_advanced() {
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let basic = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_output(|| {
        GetEventSelectorsOutput::builder()
            .event_selectors(
                EventSelector::builder()
                    .read_write_type(ReadWriteType::WriteOnly)
                    .include_management_events(true)
                    .exclude_management_event_sources("kms.amazonaws.com")
                    .build(),
            )
            .build()
    });
    let state = trail_state(&cloudtrail(&[&status, &basic]), TRAIL).await;
    assert_eq!(state.logging, Observed::Known(true));
    let Observed::Known(EventSelectors::Basic(sel)) = state.selectors else {
        panic!("basic selectors")
    };
    assert_eq!(sel[0].read_write_type.as_deref(), Some("WriteOnly"));
    assert_eq!(
        sel[0].exclude_management_event_sources,
        ["kms.amazonaws.com"]
    );

    let advanced = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_output(|| {
        GetEventSelectorsOutput::builder()
            .advanced_event_selectors(
                AdvancedEventSelector::builder()
                    .name("Management events")
                    .field_selectors(
                        AdvancedFieldSelector::builder()
                            .field("eventCategory")
                            .equals("Management")
                            .build()
                            .expect("field"),
                    )
                    .build()
                    .expect("selector"),
            )
            .build()
    });
    let state = trail_state(&cloudtrail(&[&status, &advanced]), TRAIL).await;
    let Observed::Known(EventSelectors::Advanced(sel)) = state.selectors else {
        panic!("advanced selectors")
    };
    assert_eq!(sel[0].fields[0].field, "eventCategory");
    assert_eq!(sel[0].fields[0].equals, ["Management"]);
}

#[derive(Clone)]
struct Mocked {
    xray: aws_sdk_xray::Client,
    kms: aws_sdk_kms::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: aws_sdk_iam::Client,
    config: aws_sdk_config::Client,
    events: aws_sdk_eventbridge::Client,
}

impl Mocked {
    /// Clients answering nothing but the given KMS and IAM rules.
    fn kms_and_iam(kms_rules: &[&Rule], iam_rules: &[&Rule]) -> Self {
        Mocked {
            xray: xray(&[]),
            kms: kms(kms_rules),
            cloudtrail: cloudtrail(&[]),
            logs: logs(&[]),
            iam: iam(iam_rules),
            config: mock_client!(aws_sdk_config, RuleMode::MatchAny, []),
            events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, []),
        }
    }
}

/// The scan's accounts: each reached with its own mocked clients.
struct TestAccounts(Vec<(&'static str, Mocked)>);

impl Accounts for TestAccounts {
    fn in_scope<'a>(&'a self, account: &'a str) -> BoxFuture<'a, bool> {
        let found = self.0.iter().any(|(a, _)| *a == account);
        Box::pin(async move { found })
    }

    fn clients<'a>(
        &'a self,
        account: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn ClientSource>, CollectionError>> {
        let found = self
            .0
            .iter()
            .find(|(a, _)| *a == account)
            .map(|(_, c)| c.clone());
        Box::pin(async move {
            found
                .map(|c| Arc::new(c) as Arc<dyn ClientSource>)
                .ok_or_else(|| CollectionError {
                    operation: "sts:AssumeRole".into(),
                    kind: ErrorKind::AccessDenied,
                    code: Some("AccessDenied".into()),
                    message: format!("{account} cannot be reached"),
                })
        })
    }
}

/// A scan's shared state over `accounts`, for `needs`, with `policy`.
struct Scan {
    accounts: TestAccounts,
    keys: KeyCache,
    answers: AnswerCache,
    needs: Needs,
    policy: OrgPolicy,
}

impl Scan {
    fn new(accounts: Vec<(&'static str, Mocked)>, needs: Needs) -> Self {
        Scan {
            accounts: TestAccounts(accounts),
            keys: KeyCache::default(),
            answers: AnswerCache::default(),
            needs,
            policy: OrgPolicy::default(),
        }
    }

    fn shared(&self) -> ScanShared<'_> {
        ScanShared {
            accounts: &self.accounts,
            keys: &self.keys,
            answers: &self.answers,
            needs: self.needs,
            policy: &self.policy,
            aggregated: None,
        }
    }

    async fn account(&self, clients: &Mocked, account: &str, regions: &[String]) -> Inventory {
        scan(clients, account, regions, 2, &self.shared()).await
    }
}

impl ClientSource for Mocked {
    fn xray(&self, _region: &str) -> aws_sdk_xray::Client {
        self.xray.clone()
    }
    fn kms(&self, _region: &str) -> aws_sdk_kms::Client {
        self.kms.clone()
    }
    fn cloudtrail(&self, _region: &str) -> aws_sdk_cloudtrail::Client {
        self.cloudtrail.clone()
    }
    fn logs(&self, _region: &str) -> aws_sdk_cloudwatchlogs::Client {
        self.logs.clone()
    }
    fn iam(&self) -> aws_sdk_iam::Client {
        self.iam.clone()
    }
    fn config(&self, _region: &str) -> aws_sdk_config::Client {
        self.config.clone()
    }
    fn events(&self, _region: &str) -> aws_sdk_eventbridge::Client {
        self.events.clone()
    }
    fn home_region(&self) -> String {
        "us-east-1".to_owned()
    }
}

#[tokio::test]
async fn scan_reads_each_key_and_trail_once() {
    let cfg = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(kms_config);
    let dest = mock!(aws_sdk_xray::Client::get_trace_segment_destination).then_output(|| {
        GetTraceSegmentDestinationOutput::builder()
            .destination(TraceSegmentDestination::XRay)
            .build()
    });
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(metadata())
            .build()
    });
    let details = key_detail_rules();
    let trails = mock!(aws_sdk_cloudtrail::Client::list_trails).then_output(|| {
        ListTrailsOutput::builder()
            .trails(
                TrailInfo::builder()
                    .name("all")
                    .trail_arn(TRAIL)
                    .home_region("us-east-1")
                    .build(),
            )
            .build()
    });
    let get_trail = mock!(aws_sdk_cloudtrail::Client::get_trail)
        .match_requests(|r| r.name() == Some(TRAIL))
        .then_output(|| {
            GetTrailOutput::builder()
                .trail(
                    Trail::builder()
                        .name("all")
                        .trail_arn(TRAIL)
                        .home_region("us-east-1")
                        .is_multi_region_trail(true)
                        .build(),
                )
                .build()
        });
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let selectors = mock!(aws_sdk_cloudtrail::Client::get_event_selectors)
        .then_output(|| GetEventSelectorsOutput::builder().build());
    let list_keys = mock!(aws_sdk_kms::Client::list_keys)
        .then_output(|| aws_sdk_kms::operation::list_keys::ListKeysOutput::builder().build());
    let kms_rules: Vec<&Rule> = [&describe, &list_keys]
        .into_iter()
        .chain(details.iter())
        .collect();
    let clients = Mocked {
        xray: xray(&[&cfg, &dest]),
        kms: kms(&kms_rules),
        cloudtrail: cloudtrail(&[&trails, &get_trail, &status, &selectors]),
        logs: logs(&[]),
        iam: iam(&[]),
        config: mock_client!(aws_sdk_config, RuleMode::MatchAny, []),
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, []),
    };
    let regions: Vec<String> = ["eu-west-1", "us-east-1", "eu-north-1"]
        .map(String::from)
        .into();
    let all = Needs::of(xray_cmk_core::rules::ALL);
    let sc = Scan::new(
        vec![
            ("111122223333", clients.clone()),
            ("444455556666", clients.clone()),
        ],
        all,
    );
    let inv = sc.account(&clients, "111122223333", &regions).await;
    assert_eq!((cfg.num_calls(), dest.num_calls()), (3, 3));
    assert_eq!(
        (trails.num_calls(), get_trail.num_calls()),
        (1, 1),
        "trails once per account"
    );
    let covered = inv.targets.iter().all(|t| {
        t.trails
            .as_ref()
            .and_then(Observed::known)
            .is_some_and(|ts| ts.iter().any(|tr| tr.covers(&t.region)))
    });
    assert!(covered, "the multi-region trail covers every region");
    assert_eq!(
        describe.num_calls(),
        1,
        "one DescribeKey for a key shared by three regions"
    );
    assert_eq!(
        (status.num_calls(), selectors.num_calls()),
        (1, 1),
        "one read per trail"
    );
    let order: Vec<_> = inv.targets.iter().map(|t| t.region.as_str()).collect();
    assert_eq!(order, ["eu-west-1", "us-east-1", "eu-north-1"]);
    assert!(inv.keys.contains_key(KEY));
    assert!(inv.trails.contains_key(TRAIL));
    assert!(
        inv.keys_judged_elsewhere.is_empty(),
        "the first account judges the key"
    );
    assert_eq!(list_keys.num_calls(), 3, "one ListKeys per region");
    assert_eq!(inv.unaliased_keys.len(), 3);

    // A second account of the same scan sharing the key reuses it and leaves judging it to the first.
    let again = sc.account(&clients, "444455556666", &regions[..1]).await;
    assert_eq!(describe.num_calls(), 1, "still one DescribeKey per scan");
    assert!(again.keys_judged_elsewhere.contains(KEY));
}

#[tokio::test]
async fn only_what_the_selected_rules_need_is_collected() {
    let cfg = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(kms_config);
    let dest = mock!(aws_sdk_xray::Client::get_trace_segment_destination)
        .then_output(|| GetTraceSegmentDestinationOutput::builder().build());
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(metadata())
            .build()
    });
    let details = key_detail_rules();
    let trails = mock!(aws_sdk_cloudtrail::Client::list_trails)
        .then_output(|| ListTrailsOutput::builder().build());
    let kms_rules: Vec<&Rule> = std::iter::once(&describe).chain(details.iter()).collect();
    let clients = Mocked {
        xray: xray(&[&cfg, &dest]),
        kms: kms(&kms_rules),
        cloudtrail: cloudtrail(&[&trails]),
        logs: logs(&[]),
        iam: iam(&[]),
        config: mock_client!(aws_sdk_config, RuleMode::MatchAny, []),
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, []),
    };
    let core = xray_cmk_core::select(&["xray-key-unusable".into()], &[]).expect("rule");
    let regions = vec!["eu-west-1".to_owned()];
    let sc = Scan::new(vec![("111122223333", clients.clone())], Needs::of(&core));
    let inv = sc.account(&clients, "111122223333", &regions).await;
    assert_eq!((cfg.num_calls(), describe.num_calls()), (1, 1));
    assert_eq!((dest.num_calls(), trails.num_calls()), (0, 0));
    assert_eq!(details.iter().map(Rule::num_calls).sum::<usize>(), 0);
    assert!(inv.targets[0].trails.is_none() && inv.targets[0].segment_destination.is_none());
}

#[test]
fn key_region_from_arn() {
    assert_eq!(key_region(KEY, "us-east-1"), "eu-west-1");
    assert_eq!(key_region("alias/x", "us-east-1"), "us-east-1");
    assert_eq!(key_region("1234-abcd", "ap-south-1"), "ap-south-1");
}

#[tokio::test]
async fn aws_managed_keys_read_only_what_rules_judge() {
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        let mut m = metadata();
        m.key_manager = Some(KeyManagerType::Aws);
        DescribeKeyOutput::builder().key_metadata(m).build()
    });
    let details = key_detail_rules();
    let all: Vec<&Rule> = std::iter::once(&describe).chain(details.iter()).collect();
    let Observed::Known(key) = describe_key(&kms(&all), KEY, true).await else {
        panic!("expected known")
    };
    assert!(key.policy.known().is_some() && key.aliases.known().is_some());
    assert!(key.rotation.known().is_none() && key.tags.known().is_none());
    // rotation, policy, tags page 1, tags page 2, aliases: only policy and aliases were called.
    let calls: Vec<usize> = details.iter().map(Rule::num_calls).collect();
    assert_eq!(calls, [0, 1, 0, 0, 1]);
}

/// A key of another account, 999988887777, that X-Ray in the scanned accounts uses.
const CENTRAL: &str = "arn:aws:kms:eu-west-1:999988887777:key/c1";
const OWNER: &str = "999988887777";

fn central_metadata() -> KeyMetadata {
    KeyMetadata::builder()
        .key_id("c1")
        .arn(CENTRAL)
        .key_manager(KeyManagerType::Customer)
        .key_state(KeyState::Enabled)
        .key_spec(KeySpec::SymmetricDefault)
        .build()
        .expect("key id set")
}

/// X-Ray in the scanned region encrypts with `CENTRAL`.
fn uses_central() -> Rule {
    mock!(aws_sdk_xray::Client::get_encryption_config).then_output(|| {
        GetEncryptionConfigOutput::builder()
            .encryption_config(
                EncryptionConfig::builder()
                    .r#type(SdkEncryptionType::Kms)
                    .key_id(CENTRAL)
                    .status(EncryptionStatus::Active)
                    .build(),
            )
            .build()
    })
}

fn describe_central() -> Rule {
    mock!(aws_sdk_kms::Client::describe_key)
        .match_requests(|r| r.key_id() == Some(CENTRAL))
        .then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(central_metadata())
                .build()
        })
}

/// A user account's clients: X-Ray on `CENTRAL`, KMS answering `kms_rules`.
fn user(xray_rules: &[&Rule], kms_rules: &[&Rule]) -> Mocked {
    Mocked {
        xray: xray(xray_rules),
        ..Mocked::kms_and_iam(kms_rules, &[])
    }
}

fn key_needs() -> Needs {
    Needs {
        key_metadata: true,
        key_details: true,
        ..Needs::default()
    }
}

#[tokio::test]
async fn a_key_is_read_with_its_owners_credentials_once_whoever_asks_first() {
    let describe = describe_central();
    let details = key_detail_rules();
    let owner_kms: Vec<&Rule> = std::iter::once(&describe).chain(details.iter()).collect();
    let owner = Mocked::kms_and_iam(&owner_kms, &[]);
    let config = uses_central();
    let users_describe = describe_central();
    let user_clients = user(&[&config], &[&users_describe]);
    let sc = Scan::new(
        vec![
            (OWNER, owner),
            ("111122223333", user_clients.clone()),
            ("444455556666", user_clients.clone()),
        ],
        key_needs(),
    );
    let regions = vec!["eu-west-1".to_owned()];
    let first = sc.account(&user_clients, "111122223333", &regions).await;
    let Some(Observed::Known(key)) = first.keys.get(CENTRAL) else {
        panic!("the central key is known: {:?}", first.keys)
    };
    assert!(
        first.keys_read_across_accounts.is_empty(),
        "read by its owner"
    );
    assert!(key.policy.known().is_some() && key.tags.known().is_some());
    assert!(first.keys_judged_elsewhere.is_empty());
    let second = sc.account(&user_clients, "444455556666", &regions).await;
    assert_eq!(second.keys.get(CENTRAL), first.keys.get(CENTRAL));
    assert!(second.keys_judged_elsewhere.contains(CENTRAL));
    assert_eq!(
        describe.num_calls(),
        1,
        "one DescribeKey, in the owner account"
    );
    assert_eq!(
        users_describe.num_calls(),
        0,
        "never with a user's credentials"
    );
}

#[tokio::test]
async fn a_key_whose_owner_is_not_in_the_scan_is_read_by_each_user_across_accounts() {
    let config = uses_central();
    let describe = describe_central();
    // Across accounts the key is named by its ARN, never by its bare id.
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status)
        .match_requests(|r| r.key_id() == Some(CENTRAL))
        .then_output(|| {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(true)
                .rotation_period_in_days(365)
                .build()
        });
    let others = key_detail_rules();
    let kms_rules: Vec<&Rule> = [&describe, &rotation]
        .into_iter()
        .chain(others.iter().skip(1))
        .collect();
    let clients = user(&[&config], &kms_rules);
    let sc = Scan::new(
        vec![
            ("111122223333", clients.clone()),
            ("444455556666", clients.clone()),
        ],
        key_needs(),
    );
    let regions = vec!["eu-west-1".to_owned()];
    for account in ["111122223333", "444455556666"] {
        let inv = sc.account(&clients, account, &regions).await;
        let Some(Observed::Known(key)) = inv.keys.get(CENTRAL) else {
            panic!("{account}: the central key is known")
        };
        assert!(inv.keys_read_across_accounts.contains(CENTRAL));
        assert!(
            inv.keys_judged_elsewhere.is_empty(),
            "each user judges its view"
        );
        assert_eq!(
            key.rotation.known().map(|r| r.enabled),
            Some(true),
            "GetKeyRotationStatus works across accounts"
        );
        for part in [
            key.policy.known().is_none(),
            key.tags.known().is_none(),
            key.aliases.known().is_none(),
        ] {
            assert!(part);
        }
        let Observed::Unknown(err) = &key.policy else {
            panic!("policy unknown")
        };
        assert_eq!(err.kind, ErrorKind::OwnerNotInScope);
        assert_eq!(
            err.to_string(),
            format!(
                "kms:GetKeyPolicy not called: KMS answers it only in the key's own account {OWNER}, not from {account}; include {OWNER} in the scan"
            )
        );
    }
    assert_eq!((describe.num_calls(), rotation.num_calls()), (2, 2));
    // GetKeyPolicy, ListResourceTags and ListAliases are never called across accounts.
    assert_eq!(others.iter().skip(1).map(Rule::num_calls).sum::<usize>(), 0);
}

/// `action` of `principal` decided `decision`, for the simulator mocks.
fn simulated(
    principal: &'static str,
    action: &'static str,
    check: fn(
        &aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyInput,
    ) -> bool,
    result: fn() -> aws_sdk_iam::types::EvaluationResult,
) -> Rule {
    mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(move |r| {
            r.policy_source_arn() == Some(principal)
                && r.action_names() == [action.to_owned()]
                && r.resource_arns() == [KEY.to_owned()]
                && check(r)
        })
        .then_output(move || {
            aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(result())
                .is_truncated(false)
                .build()
        })
}

fn result(
    action: &str,
    decision: aws_sdk_iam::types::PolicyEvaluationDecisionType,
) -> aws_sdk_iam::types::builders::EvaluationResultBuilder {
    aws_sdk_iam::types::EvaluationResult::builder()
        .eval_action_name(action)
        .eval_resource_name(KEY)
        .eval_decision(decision)
}

fn context_has(
    r: &aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyInput,
    key: &str,
    value: &str,
) -> bool {
    r.context_entries()
        .iter()
        .any(|e| e.context_key_name() == Some(key) && e.context_key_values() == [value.to_owned()])
}

const ADMIN: &str = "arn:aws:iam::111122223333:role/XrayAdmin";
const READER: &str = "arn:aws:iam::111122223333:user/Reader";
const GHOST: &str = "arn:aws:iam::111122223333:role/Ghost";

#[tokio::test]
async fn what_a_key_policy_leaves_to_iam_is_asked_of_the_simulator_once() {
    use aws_sdk_iam::types::{
        PermissionsBoundaryDecisionDetail, PolicyEvaluationDecisionType as D,
    };
    use xray_cmk_core::model::{KeyAction, SimulatedDecision};
    let cfg = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(kms_config);
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(metadata())
            .build()
    });
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
            )
            .build()
    });
    let details = key_detail_rules();
    // Rotation, tags and aliases as a well-kept key answers them; the policy is the default.
    let kms_rules: Vec<&Rule> = [&describe, &policy]
        .into_iter()
        .chain(
            details
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, r)| r),
        )
        .collect();
    // A role is simulated with its own policies; X-Ray's grant carries its context.
    let grant = simulated(
        ADMIN,
        "kms:CreateGrant",
        |r| {
            r.resource_policy().is_none()
                && r.caller_arn().is_none()
                && context_has(r, "kms:ViaService", "xray.eu-west-1.amazonaws.com")
                && context_has(r, "kms:GrantIsForAWSResource", "true")
        },
        || {
            result("kms:CreateGrant", D::Allowed)
                .missing_context_values("aws:SourceVpce")
                .build()
                .expect("result")
        },
    );
    let describe_sim = simulated(
        ADMIN,
        "kms:DescribeKey",
        |r| context_has(r, "kms:ViaService", "xray.eu-west-1.amazonaws.com"),
        || {
            result("kms:DescribeKey", D::ImplicitDeny)
                .permissions_boundary_decision_detail(
                    PermissionsBoundaryDecisionDetail::builder()
                        .allowed_by_permissions_boundary(false)
                        .build(),
                )
                .build()
                .expect("result")
        },
    );
    // An IAM user is simulated with the key policy, as the caller, in the key's account.
    let decrypt = simulated(
        READER,
        "kms:Decrypt",
        |r| {
            r.resource_policy().is_some_and(|p| p.contains("kms:*"))
                && r.caller_arn() == Some(READER)
                && r.resource_owner() == Some("arn:aws:iam::111122223333:root")
        },
        || result("kms:Decrypt", D::Allowed).build().expect("result"),
    );
    let ghost = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(|r| r.policy_source_arn() == Some(GHOST))
        .then_http_response(|| crate::permissions::tests::iam_error(404, "NoSuchEntity"));
    let clients = Mocked {
        xray: xray(&[&cfg]),
        ..Mocked::kms_and_iam(&kms_rules, &[&grant, &describe_sim, &decrypt, &ghost])
    };
    let mut sc = Scan::new(
        vec![("111122223333", clients.clone())],
        Needs {
            iam_simulation: true,
            ..key_needs()
        },
    );
    sc.policy = OrgPolicy::parse(
        r#"[access]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:user/Reader", "arn:aws:iam::{account}:role/Ghost"]
"#,
        "test.toml",
        &[],
    )
    .expect("policy");
    let regions = vec!["eu-west-1".to_owned()];
    let inv = sc.account(&clients, "111122223333", &regions).await;
    let answer = |principal: &str, action: KeyAction| {
        inv.iam_answers
            .get(&AccessQuestion {
                principal: principal.to_owned(),
                action,
                key_arn: KEY.to_owned(),
                region: "eu-west-1".to_owned(),
            })
            .and_then(Observed::known)
            .unwrap_or_else(|| panic!("{principal} {action}: {:?}", inv.iam_answers))
            .clone()
    };
    let grant_answer = answer(ADMIN, KeyAction::CreateGrant);
    assert_eq!(grant_answer.decision, SimulatedDecision::Allowed);
    assert_eq!(grant_answer.missing_context, ["aws:SourceVpce"]);
    assert_eq!(
        answer(ADMIN, KeyAction::DescribeKey).decision,
        SimulatedDecision::ImplicitDeny {
            why: vec!["outside the permissions boundary".into()]
        }
    );
    assert_eq!(
        answer(READER, KeyAction::Decrypt).decision,
        SimulatedDecision::Allowed
    );
    assert_eq!(
        answer(GHOST, KeyAction::Decrypt).decision,
        SimulatedDecision::NoSuchPrincipal
    );
    assert_eq!(inv.iam_answers.len(), 4);

    // The same questions later in the scan are not asked again.
    sc.account(&clients, "111122223333", &regions).await;
    let calls: Vec<usize> = [&grant, &describe_sim, &decrypt, &ghost]
        .iter()
        .map(|r| r.num_calls())
        .collect();
    assert_eq!(calls, [1, 1, 1, 1]);

    // The rule reads the answers: the boundary's denial and the missing principal fail it.
    let findings = xray_cmk_core::evaluate(&xray_cmk_core::Context {
        inventory: &inv,
        policy: &sc.policy,
        today: xray_cmk_core::Date::new(2026, 11, 28).expect("date"),
        rules: xray_cmk_core::rules::ALL,
    });
    let access = findings
        .iter()
        .find(|f| f.rule() == "kms-key-policy-xray-access")
        .expect("judged");
    assert_eq!(
        access.status(),
        xray_cmk_core::Status::Fail,
        "{}",
        access.message()
    );
    assert!(
        access.message().contains("XrayAdmin kms:DescribeKey")
            && access
                .message()
                .contains("Ghost kms:Decrypt in eu-west-1: the principal does not exist"),
        "{}",
        access.message()
    );
}

#[tokio::test]
async fn a_simulation_that_is_denied_is_unknown_never_an_answer() {
    use xray_cmk_core::model::KeyAction;
    let denied = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .then_http_response(|| crate::permissions::tests::iam_error(403, "AccessDenied"));
    let question = AccessQuestion {
        principal: ADMIN.to_owned(),
        action: KeyAction::CreateGrant,
        key_arn: KEY.to_owned(),
        region: "eu-west-1".to_owned(),
    };
    let Observed::Unknown(err) =
        simulate_access(&iam(&[&denied]), &question, r#"{"Statement":[]}"#).await
    else {
        panic!("unknown")
    };
    assert_eq!(
        (err.operation.as_str(), err.kind),
        ("iam:SimulatePrincipalPolicy", ErrorKind::AccessDenied)
    );
}

#[tokio::test]
async fn unaliased_keys_are_tag_read_and_only_ours_described() {
    use aws_sdk_kms::operation::list_keys::ListKeysOutput;
    use aws_sdk_kms::types::KeyListEntry;
    let arn = |id: &str| format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
    let aliases = mock!(aws_sdk_kms::Client::list_aliases).then_output(|| {
        ListAliasesOutput::builder()
            .aliases(
                AliasListEntry::builder()
                    .alias_name("alias/aws/xray")
                    .target_key_id("aws-managed")
                    .build(),
            )
            // A predefined alias whose key does not exist yet names none.
            .aliases(AliasListEntry::builder().alias_name("alias/aws/s3").build())
            .build()
    });
    let keys = mock!(aws_sdk_kms::Client::list_keys).then_output(move || {
        let mut out = ListKeysOutput::builder();
        for id in ["aws-managed", "theirs", "ours", "locked"] {
            out = out.keys(KeyListEntry::builder().key_id(id).key_arn(arn(id)).build());
        }
        out.build()
    });
    let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().expect("tag");
    let theirs = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("theirs"))
        .then_output(move || {
            ListResourceTagsOutput::builder()
                .tags(tag("owner", "data"))
                .build()
        });
    let ours = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("ours"))
        .then_output(move || {
            ListResourceTagsOutput::builder()
                .tags(tag("managed-by", "xray-cmk"))
                .tags(tag("xray-cmk-orphan", "lost-alias-race"))
                .build()
        });
    let locked = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("locked"))
        .then_http_response(|| {
            wire(
                400,
                None,
                r#"{"__type":"AccessDeniedException","message":"not authorized"}"#,
            )
        });
    let aws_managed = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("aws-managed"))
        .then_output(|| ListResourceTagsOutput::builder().build());
    let describe = mock!(aws_sdk_kms::Client::describe_key)
        .match_requests(|r| r.key_id() == Some("ours"))
        .then_output(|| {
            let mut m = metadata();
            m.key_state = Some(KeyState::PendingDeletion);
            m.deletion_date = Some(aws_smithy_types::DateTime::from_secs(1_798_416_000));
            DescribeKeyOutput::builder().key_metadata(m).build()
        });
    let client = kms(&[
        &aliases,
        &keys,
        &theirs,
        &ours,
        &locked,
        &aws_managed,
        &describe,
    ]);
    let Observed::Known(found) = kms::unaliased_keys(&client).await else {
        panic!("listed")
    };
    let ids: Vec<&str> = found.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(
        ids,
        ["theirs", "ours", "locked"],
        "aliased keys are not read"
    );
    assert_eq!(aws_managed.num_calls(), 0);
    assert!(found[0].described.is_none(), "not ours: not described");
    assert_eq!(
        found[1].described,
        Some(Observed::Known(xray_cmk_core::model::KeyStatus {
            state: Some(xray_cmk_core::KeyState::PendingDeletion),
            deletion_date: Some("2026-12-28T00:00:00Z".into()),
        }))
    );
    assert_eq!(describe.num_calls(), 1);
    let Observed::Unknown(err) = &found[2].tags else {
        panic!("a denied tag read is unknown")
    };
    assert_eq!(err.kind, ErrorKind::AccessDenied);

    let denied = mock!(aws_sdk_kms::Client::list_keys).then_http_response(|| {
        wire(
            400,
            None,
            r#"{"__type":"AccessDeniedException","message":"not authorized"}"#,
        )
    });
    assert!(matches!(
        kms::unaliased_keys(&kms(&[&aliases, &denied])).await,
        Observed::Unknown(e) if e.operation == "kms:ListKeys"
    ));
}

/// `respond` reads X-Ray's `Type` too: a configuration without one names no key to act on, and
/// says its type is unknown (never `NONE`, never `KMS`).
#[tokio::test]
async fn respond_takes_a_missing_type_for_unknown_not_none_or_kms() {
    let no_type = mock!(aws_sdk_xray::Client::get_encryption_config).then_output(|| {
        GetEncryptionConfigOutput::builder()
            .encryption_config(
                EncryptionConfig::builder()
                    .key_id("arn:aws:kms:eu-west-1:111122223333:key/k")
                    .build(),
            )
            .build()
    });
    let clients = Mocked {
        xray: xray(&[&no_type]),
        ..Mocked::kms_and_iam(&[], &[])
    };
    let err = crate::respond::xray_key(&clients, "eu-west-1")
        .await
        .expect_err("no key to act on");
    let crate::respond::RespondError::NoKey {
        encryption_type, ..
    } = err
    else {
        panic!("a missing Type names no key: {err:?}")
    };
    assert_eq!(encryption_type, EncryptionType::from_wire(None));
    assert!(!matches!(
        encryption_type,
        EncryptionType::None | EncryptionType::Kms
    ));
}
