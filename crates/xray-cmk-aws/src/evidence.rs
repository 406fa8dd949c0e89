//! Audit evidence for one key, from CloudTrail and KMS: who used it (`LookupEvents` on the key's
//! ARN, every page, within CloudTrail's limit of 2 requests per second), whether it rotates
//! (`GetKeyRotationStatus`, `ListKeyRotations`), and its policy and tags now.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
pub use xray_cmk_core::evidence::{KeyEvent, RotationEvidence};
use xray_cmk_core::{CollectionError, ErrorKind};

use crate::collect::ClientSource;
use crate::error::classify;

/// CloudTrail's documented `LookupEvents` rate: 2 requests per second per account and region.
pub const LOOKUP_INTERVAL: Duration = Duration::from_millis(500);

/// How often a page still throttled after the SDK's retries is asked for again, each time after
/// a full rate window (two intervals). The SDK's backoff starts at 100 ms, shorter than the
/// window, so it can give up while another caller of the account and region (the previous
/// `xray-cmk evidence`, a script) still holds the budget.
const THROTTLED_PAGE_RETRIES: u32 = 5;

fn iso(t: &DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The acting principal from a CloudTrail record.
fn principal(record: &serde_json::Value, username: Option<&str>) -> String {
    let who = &record["userIdentity"];
    if let Some(service) = who["invokedBy"]
        .as_str()
        .filter(|_| who["type"] == "AWSService")
    {
        return service.to_owned();
    }
    let arn = who["sessionContext"]["sessionIssuer"]["arn"]
        .as_str()
        .or_else(|| who["arn"].as_str());
    arn.or(username).unwrap_or("unknown").to_owned()
}

/// Every CloudTrail management event on `key_arn` in its region since `since`, newest first.
/// Each page is asked for `interval` after the previous one was answered, so the requests
/// CloudTrail admits are at least that far apart even when one was retried; throttling (the
/// budget is shared with every caller in the account and region) is retried by the SDK, then
/// [`THROTTLED_PAGE_RETRIES`] times a rate window apart.
pub async fn key_events(
    clients: &dyn ClientSource,
    region: &str,
    key_arn: &str,
    since: SystemTime,
    interval: Duration,
) -> Result<Vec<KeyEvent>, CollectionError> {
    lookup(
        clients,
        region,
        (LookupAttributeKey::ResourceName, key_arn),
        since,
        interval,
        &|_| true,
        None,
    )
    .await
}

/// The newest `DisableKey` on `key_arn` CloudTrail has since `since`, if any: who disabled the
/// key, and when. CloudTrail takes one lookup attribute, so the account and region's `DisableKey`
/// events are read (paced as [`key_events`]) and the first naming the key is kept.
pub async fn last_disable_key(
    clients: &dyn ClientSource,
    region: &str,
    key_arn: &str,
    since: SystemTime,
    interval: Duration,
) -> Result<Option<KeyEvent>, CollectionError> {
    let names_key = |e: &aws_sdk_cloudtrail::types::Event| {
        e.resources()
            .iter()
            .any(|r| r.resource_name() == Some(key_arn))
    };
    Ok(lookup(
        clients,
        region,
        (LookupAttributeKey::EventName, "DisableKey"),
        since,
        interval,
        &names_key,
        Some(1),
    )
    .await?
    .into_iter()
    .next())
}

/// The events matching `attribute` since `since`, newest first, that `keep` keeps; with `limit`,
/// no more pages are read once that many were kept.
async fn lookup(
    clients: &dyn ClientSource,
    region: &str,
    (key, value): (LookupAttributeKey, &str),
    since: SystemTime,
    interval: Duration,
    keep: &(dyn Fn(&aws_sdk_cloudtrail::types::Event) -> bool + Send + Sync),
    limit: Option<usize>,
) -> Result<Vec<KeyEvent>, CollectionError> {
    let ct = clients.cloudtrail(region);
    let attribute = LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .map_err(|e| CollectionError {
            operation: "cloudtrail:LookupEvents".to_owned(),
            kind: ErrorKind::Other,
            code: None,
            message: e.to_string(),
        })?;
    // Every page must repeat the first call's parameters, so the window is fixed up front.
    let (start, end) = (DateTime::from(since), DateTime::from(SystemTime::now()));
    let mut token: Option<String> = None;
    let mut events = Vec::new();
    let mut last: Option<Instant> = None;
    loop {
        if let Some(at) = last {
            let wait = interval.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let mut throttled = 0;
        let page = loop {
            let sent = ct
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(start)
                .end_time(end)
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await;
            match sent.map_err(|e| classify("cloudtrail:LookupEvents", &e)) {
                Ok(page) => break page,
                Err(e) if e.kind == ErrorKind::Throttled && throttled < THROTTLED_PAGE_RETRIES => {
                    throttled += 1;
                    tokio::time::sleep(interval * 2).await;
                }
                Err(e) => return Err(e),
            }
        };
        // From the answer, not the first attempt: a retried request was admitted just now.
        last = Some(Instant::now());
        for e in page.events().iter().filter(|e| keep(e)) {
            let record: serde_json::Value = e
                .cloud_trail_event()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            events.push(KeyEvent {
                time: e.event_time().map(iso).unwrap_or_default(),
                name: e.event_name().unwrap_or("unknown").to_owned(),
                principal: principal(&record, e.username()),
                source_ip: record["sourceIPAddress"].as_str().map(str::to_owned),
            });
            if limit.is_some_and(|n| events.len() >= n) {
                return Ok(events);
            }
        }
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(events),
        }
    }
}

/// Rotation status and the completed rotations of `key_arn`.
pub async fn rotation(
    clients: &dyn ClientSource,
    region: &str,
    key_arn: &str,
) -> Result<RotationEvidence, CollectionError> {
    let kms = clients.kms(region);
    let status = kms
        .get_key_rotation_status()
        .key_id(key_arn)
        .send()
        .await
        .map_err(|e| classify("kms:GetKeyRotationStatus", &e))?;
    let mut rotations = Vec::new();
    let mut pages = kms
        .list_key_rotations()
        .key_id(key_arn)
        .into_paginator()
        .items()
        .send();
    while let Some(r) = pages.next().await {
        let r = r.map_err(|e| classify("kms:ListKeyRotations", &e))?;
        if let Some(t) = r.rotation_date() {
            rotations.push(iso(t));
        }
    }
    rotations.sort();
    Ok(RotationEvidence {
        enabled: status.key_rotation_enabled,
        period_days: status.rotation_period_in_days,
        next_rotation: status.next_rotation_date().map(iso),
        rotations,
    })
}

/// The key's `default` policy and its tags, now.
pub async fn policy_and_tags(
    clients: &dyn ClientSource,
    region: &str,
    key_arn: &str,
) -> Result<(String, Vec<(String, String)>), CollectionError> {
    let kms = clients.kms(region);
    let policy = kms
        .get_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| classify("kms:GetKeyPolicy", &e))?
        .policy
        .unwrap_or_default();
    let tags = kms
        .list_resource_tags()
        .key_id(key_arn)
        .send()
        .await
        .map_err(|e| classify("kms:ListResourceTags", &e))?
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    Ok((policy, tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_sdk_cloudtrail::types::Event;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    struct Clients(aws_sdk_cloudtrail::Client);

    impl ClientSource for Clients {
        fn xray(&self, _: &str) -> aws_sdk_xray::Client {
            unreachable!("not used")
        }
        fn kms(&self, _: &str) -> aws_sdk_kms::Client {
            unreachable!("not used")
        }
        fn cloudtrail(&self, _: &str) -> aws_sdk_cloudtrail::Client {
            self.0.clone()
        }
        fn logs(&self, _: &str) -> aws_sdk_cloudwatchlogs::Client {
            unreachable!("not used")
        }
        fn iam(&self) -> aws_sdk_iam::Client {
            unreachable!("not used")
        }
        fn config(&self, _: &str) -> aws_sdk_config::Client {
            unreachable!("not used")
        }
        fn events(&self, _: &str) -> aws_sdk_eventbridge::Client {
            unreachable!("not used")
        }
        fn home_region(&self) -> String {
            "us-east-1".into()
        }
    }

    fn event(name: &str, record: serde_json::Value) -> Event {
        Event::builder()
            .event_name(name)
            .event_time(DateTime::from_secs(1_796_083_200))
            .cloud_trail_event(record.to_string())
            .build()
    }

    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";

    #[tokio::test]
    async fn every_page_is_read_no_faster_than_the_limit() {
        let role = serde_json::json!({"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/TraceReader/s",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/TraceReader"}}},
            "sourceIPAddress": "10.0.0.1"});
        let xray = serde_json::json!({"userIdentity": {"type": "AWSService", "invokedBy": "xray.amazonaws.com"}});
        let first_window: std::sync::Arc<std::sync::Mutex<Option<(DateTime, DateTime)>>> =
            Default::default();
        let seen = first_window.clone();
        let page1 = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(move |r| {
                *seen.lock().expect("lock") = r.start_time().copied().zip(r.end_time().copied());
                r.next_token().is_none()
                    && r.lookup_attributes()[0].attribute_value() == KEY
                    && r.max_results() == Some(50)
            })
            .then_output(move || {
                LookupEventsOutput::builder()
                    .events(event("Decrypt", role.clone()))
                    .next_token("t1")
                    .build()
            });
        let window = first_window.clone();
        let page2 = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(move |r| {
                // The token is only valid with the first call's parameters.
                r.next_token() == Some("t1")
                    && r.start_time().copied().zip(r.end_time().copied())
                        == *window.lock().expect("lock")
            })
            .then_output(move || {
                LookupEventsOutput::builder()
                    .events(event("GenerateDataKey", xray.clone()))
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&page1, &page2]);
        let started = Instant::now();
        let events = key_events(
            &Clients(client),
            "eu-west-1",
            KEY,
            SystemTime::now() - Duration::from_secs(86_400),
            Duration::from_millis(200),
        )
        .await
        .expect("events");
        assert!(started.elapsed() >= Duration::from_millis(200), "paced");
        assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
        let got: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.name.as_str(), e.principal.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Decrypt", "arn:aws:iam::111122223333:role/TraceReader"),
                ("GenerateDataKey", "xray.amazonaws.com")
            ]
        );
    }

    #[tokio::test]
    async fn throttling_is_retried() {
        let throttled = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .sequence()
            .http_response(|| {
                crate::collect::tests::wire(
                    400,
                    None,
                    r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                )
            })
            .times(1)
            .output(|| LookupEventsOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&throttled], |c| c
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new()));
        let events = key_events(
            &Clients(client),
            "eu-west-1",
            KEY,
            SystemTime::now(),
            Duration::ZERO,
        )
        .await
        .expect("retried");
        assert!(events.is_empty());
        assert_eq!(throttled.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_page_still_throttled_after_the_sdks_retries_is_asked_again_a_window_later() {
        let throttle = || {
            crate::collect::tests::wire(
                400,
                None,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
        };
        let throttled = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .sequence()
            .http_response(throttle)
            .times(2)
            .output(|| LookupEventsOutput::builder().build())
            .build();
        // No SDK retries: every throttled attempt comes back to key_events.
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&throttled], |c| c
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1)));
        let started = Instant::now();
        let events = key_events(
            &Clients(client),
            "eu-west-1",
            KEY,
            SystemTime::now(),
            Duration::from_millis(100),
        )
        .await
        .expect("asked again");
        assert!(events.is_empty());
        assert_eq!(throttled.num_calls(), 3);
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "a window each"
        );

        // Throttled for good: the error says so.
        let always = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .sequence()
            .http_response(throttle)
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&always], |c| c
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1)));
        let err = key_events(
            &Clients(client),
            "eu-west-1",
            KEY,
            SystemTime::now(),
            Duration::ZERO,
        )
        .await
        .expect_err("gives up");
        assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
        assert!(err.to_string().contains("ThrottlingException"), "{err}");
        assert_eq!(always.num_calls(), 1 + THROTTLED_PAGE_RETRIES as usize);
    }
}
