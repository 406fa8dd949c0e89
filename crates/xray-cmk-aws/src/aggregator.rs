//! X-Ray's encryption configuration of a whole organization from one AWS Config aggregator
//! (`audit --from-config-aggregator NAME`): `config:SelectAggregateResourceConfig` over the
//! `AWS::XRay::EncryptionConfig` configuration items, one query per region in parallel (paginated,
//! 100 rows a page), instead of a `GetEncryptionConfig` in every account-region.
//!
//! An item is used only for what it says: a row that is not a well-formed, current
//! (`OK`/`ResourceDiscovered`) item no older than the maximum age is not used, and that
//! account-region is read live as without the aggregator. An aggregator that cannot be read makes
//! every target unknown (an `error`, exit 3), never a pass and never a silent fall back.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use xray_cmk_core::model::ConfigCapture;
use xray_cmk_core::{CollectionError, EncryptionType, ErrorKind, XrayEncryption};

use crate::error::classify;

/// The configuration item type AWS Config records X-Ray's encryption configuration as.
pub const RESOURCE_TYPE: &str = "AWS::XRay::EncryptionConfig";
/// Rows per page: the most `SelectAggregateResourceConfig` returns.
const PAGE: i32 = 100;
/// Pages one query may take: 10,000,000 rows, far past any organization (one item per
/// account-region); an aggregator answering more is refused rather than read forever.
const MAX_PAGES: usize = 100_000;

const OPERATION: &str = "config:SelectAggregateResourceConfig";

/// One item used in place of `GetEncryptionConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatedItem {
    pub encryption: XrayEncryption,
    pub capture: ConfigCapture,
    captured: SystemTime,
}

/// What the aggregator holds for the scan, and what of it could not be used.
#[derive(Debug, Clone, Default)]
pub struct AggregatedXray {
    pub aggregator: String,
    items: HashMap<(String, String), AggregatedItem>,
    /// Why the aggregator could not be read: then no target may be judged from it, or pass.
    pub unreadable: Option<CollectionError>,
    /// Rows not used, by why: older than the maximum age, not a current item (deleted, not
    /// recorded), or not a well-formed row. Their account-regions are read live.
    pub stale: usize,
    pub not_current: usize,
    pub malformed: usize,
    /// Queries sent (pages).
    pub queries: usize,
}

/// What an account-region's X-Ray encryption configuration is read from.
#[derive(Debug, Clone, PartialEq)]
pub enum XraySource<'a> {
    /// X-Ray itself (`GetEncryptionConfig`).
    Live,
    /// A fresh configuration item.
    Item(&'a AggregatedItem),
    /// The aggregator could not be read.
    Unreadable(&'a CollectionError),
}

impl AggregatedXray {
    /// Where `account`'s X-Ray configuration in `region` is read from.
    pub fn source(&self, account: &str, region: &str) -> XraySource<'_> {
        if let Some(err) = &self.unreadable {
            return XraySource::Unreadable(err);
        }
        match self.items.get(&(account.to_owned(), region.to_owned())) {
            Some(item) => XraySource::Item(item),
            None => XraySource::Live,
        }
    }

    /// Account-regions with a usable item.
    pub fn items(&self) -> usize {
        self.items.len()
    }

    /// Adds the rows of one page. A row for an account-region already seen keeps the later
    /// capture (Config keeps one current item per resource, but a region may be queried twice).
    fn add_rows(&mut self, rows: &[String], oldest: SystemTime) {
        for row in rows {
            match parse_row(row, &self.aggregator) {
                Row::Item(_, _, item) if item.captured < oldest => self.stale += 1,
                Row::Item(account, region, item) => {
                    let slot = self.items.entry((account, region));
                    match slot {
                        std::collections::hash_map::Entry::Occupied(mut o) => {
                            if o.get().captured < item.captured {
                                o.insert(item);
                            }
                        }
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(item);
                        }
                    }
                }
                Row::NotCurrent => self.not_current += 1,
                Row::Malformed => self.malformed += 1,
            }
        }
    }
}

enum Row {
    Item(String, String, AggregatedItem),
    NotCurrent,
    Malformed,
}

/// The query for `region` (all regions when `None`). Region names are checked by the caller's
/// parser (`[a-z0-9-]`); a quote is refused here anyway, so a name can never become SQL.
pub fn query(region: Option<&str>) -> Result<String, NotARegion> {
    let base = format!(
        "SELECT accountId, awsRegion, configuration, configurationItemCaptureTime, \
         configurationItemStatus WHERE resourceType = '{RESOURCE_TYPE}'"
    );
    match region {
        None => Ok(base),
        Some(r) if r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !r.is_empty() => {
            Ok(format!("{base} AND awsRegion = '{r}'"))
        }
        Some(r) => Err(NotARegion(r.to_owned())),
    }
}

/// A region name that cannot go into a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a region name")]
pub struct NotARegion(pub String);

fn parse_row(row: &str, aggregator: &str) -> Row {
    let Ok(v) = serde_json::from_str::<Value>(row) else {
        return Row::Malformed;
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(account), Some(region), Some(captured_at)) = (
        text("accountId"),
        text("awsRegion"),
        text("configurationItemCaptureTime"),
    ) else {
        return Row::Malformed;
    };
    match text("configurationItemStatus").as_deref() {
        Some("OK" | "ResourceDiscovered") => {}
        Some(_) => return Row::NotCurrent,
        None => return Row::Malformed,
    }
    let Ok(captured) = DateTime::from_str(&captured_at, Format::DateTime)
        .map_err(|_| ())
        .and_then(|d| SystemTime::try_from(d).map_err(|_| ()))
    else {
        return Row::Malformed;
    };
    // `configuration` is an object; some clients see it as a JSON string.
    let configuration = match v.get("configuration") {
        Some(Value::Object(_)) => v["configuration"].clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(c @ Value::Object(_)) => c,
            _ => return Row::Malformed,
        },
        _ => return Row::Malformed,
    };
    let encryption_type = match configuration.get("type").and_then(Value::as_str) {
        Some(t) => EncryptionType::parse(t),
        None => return Row::Malformed,
    };
    let key_id = configuration
        .get("keyId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let status = configuration
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Row::Item(
        account,
        region,
        AggregatedItem {
            encryption: XrayEncryption {
                encryption_type,
                key_id,
                status,
            },
            capture: ConfigCapture {
                aggregator: aggregator.to_owned(),
                captured_at: Some(captured_at),
            },
            captured,
        },
    )
}

/// Reads `aggregator`'s X-Ray items with `client` (its account and region), one query per region
/// of `regions` (one query over all regions when empty), at most `concurrency` at a time. Items
/// captured before `now - max_age` are not used.
pub async fn read(
    client: &aws_sdk_config::Client,
    aggregator: &str,
    regions: &[String],
    max_age: Duration,
    now: SystemTime,
    concurrency: usize,
) -> AggregatedXray {
    let mut out = AggregatedXray {
        aggregator: aggregator.to_owned(),
        ..AggregatedXray::default()
    };
    let oldest = now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    let scopes: Vec<Option<&str>> = if regions.is_empty() {
        vec![None]
    } else {
        regions.iter().map(|r| Some(r.as_str())).collect()
    };
    let pages: Vec<Result<Pages, CollectionError>> = stream::iter(scopes)
        .map(|region| query_all(client, aggregator, region))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for result in pages {
        match result {
            Ok((pages, sent)) => {
                out.queries += sent;
                for rows in pages {
                    out.add_rows(&rows, oldest);
                }
            }
            Err(err) => {
                out.unreadable.get_or_insert(err);
            }
        }
    }
    if out.unreadable.is_some() {
        out.items.clear();
    }
    out
}

/// The rows of every page of one query, and how many pages were asked for.
type Pages = (Vec<Vec<String>>, usize);

/// Every page of one query.
async fn query_all(
    client: &aws_sdk_config::Client,
    aggregator: &str,
    region: Option<&str>,
) -> Result<Pages, CollectionError> {
    let expression = query(region).map_err(|err| CollectionError {
        operation: OPERATION.to_owned(),
        kind: ErrorKind::Invalid,
        code: None,
        message: err.to_string(),
    })?;
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    for sent in 1..=MAX_PAGES {
        let out = client
            .select_aggregate_resource_config()
            .configuration_aggregator_name(aggregator)
            .expression(&expression)
            .limit(PAGE)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify(OPERATION, &e))?;
        pages.push(out.results().to_vec());
        match out.next_token() {
            Some(next) if !next.is_empty() => {
                if token.as_deref() == Some(next) {
                    return Err(CollectionError {
                        operation: OPERATION.to_owned(),
                        kind: ErrorKind::Other,
                        code: None,
                        message: "the aggregator returned the same NextToken twice".to_owned(),
                    });
                }
                token = Some(next.to_owned());
            }
            _ => return Ok((pages, sent)),
        }
    }
    Err(CollectionError {
        operation: OPERATION.to_owned(),
        kind: ErrorKind::Other,
        code: None,
        message: format!("more than {MAX_PAGES} pages of results; the query was stopped"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn row(account: &str, region: &str, config: &str, time: &str, status: &str) -> String {
        format!(
            r#"{{"accountId":"{account}","awsRegion":"{region}","configuration":{config},"configurationItemCaptureTime":"{time}","configurationItemStatus":"{status}"}}"#
        )
    }

    fn read_rows(rows: &[String]) -> AggregatedXray {
        let mut out = AggregatedXray {
            aggregator: "org".into(),
            ..Default::default()
        };
        out.add_rows(rows, at(NOW - 86_400));
        out
    }

    #[test]
    fn only_current_fresh_well_formed_items_are_used() {
        let fresh = DateTime::from_secs((NOW - 60) as i64)
            .fmt(Format::DateTime)
            .expect("fmt");
        let old = DateTime::from_secs((NOW - 90_000) as i64)
            .fmt(Format::DateTime)
            .expect("fmt");
        let kms = r#"{"type":"KMS","keyId":"arn:aws:kms:us-east-1:111122223333:key/k","status":"ACTIVE"}"#;
        let got = read_rows(&[
            row("111122223333", "us-east-1", kms, &fresh, "OK"),
            row(
                "111122223333",
                "eu-west-1",
                r#"{"type":"NONE","status":"ACTIVE"}"#,
                &fresh,
                "ResourceDiscovered",
            ),
            row("111122223333", "us-west-2", kms, &old, "OK"),
            row("111122223333", "ap-south-1", kms, &fresh, "ResourceDeleted"),
            row(
                "111122223333",
                "sa-east-1",
                r#""{\"type\":\"KMS\"}""#,
                &fresh,
                "OK",
            ),
            row(
                "111122223333",
                "ca-central-1",
                r#"{"status":"ACTIVE"}"#,
                &fresh,
                "OK",
            ),
            row("111122223333", "eu-north-1", kms, "yesterday", "OK"),
            "not json".to_owned(),
            r#"{"accountId":"111122223333"}"#.to_owned(),
        ]);
        assert_eq!(got.items(), 3, "{got:#?}");
        assert_eq!((got.stale, got.not_current, got.malformed), (1, 1, 4));
        match got.source("111122223333", "us-east-1") {
            XraySource::Item(item) => {
                assert_eq!(item.encryption.encryption_type, EncryptionType::Kms);
                assert_eq!(item.capture.captured_at.as_deref(), Some(fresh.as_str()));
            }
            other => panic!("{other:?}"),
        }
        match got.source("111122223333", "sa-east-1") {
            XraySource::Item(item) => assert_eq!(item.encryption.key_id, None),
            other => panic!("a configuration given as a JSON string is read: {other:?}"),
        }
        for region in [
            "us-west-2",
            "ap-south-1",
            "ca-central-1",
            "eu-north-1",
            "me-south-1",
        ] {
            assert_eq!(
                got.source("111122223333", region),
                XraySource::Live,
                "{region}"
            );
        }
    }

    #[test]
    fn an_unreadable_aggregator_judges_nothing() {
        let mut got = read_rows(&[]);
        got.unreadable = Some(CollectionError {
            operation: OPERATION.into(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDeniedException".into()),
            message: "denied".into(),
        });
        assert!(matches!(
            got.source("111122223333", "us-east-1"),
            XraySource::Unreadable(_)
        ));
    }

    fn client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_config::Client {
        aws_smithy_mocks::mock_client!(
            aws_sdk_config,
            aws_smithy_mocks::RuleMode::Sequential,
            rules.iter().copied()
        )
    }

    fn page(rows: Vec<String>, next: Option<&str>) -> aws_sdk_config::operation::select_aggregate_resource_config::SelectAggregateResourceConfigOutput{
        aws_sdk_config::operation::select_aggregate_resource_config::SelectAggregateResourceConfigOutput::builder()
            .set_results(Some(rows))
            .set_next_token(next.map(str::to_owned))
            .build()
    }

    fn fresh_row(region: &str) -> String {
        let now = DateTime::from(SystemTime::now())
            .fmt(Format::DateTime)
            .expect("fmt");
        row("111122223333", region, r#"{"type":"NONE"}"#, &now, "OK")
    }

    #[tokio::test]
    async fn every_page_is_read_and_the_token_passed_on() {
        let first =
            aws_smithy_mocks::mock!(aws_sdk_config::Client::select_aggregate_resource_config)
                .match_requests(|r| {
                    r.next_token().is_none()
                        && r.limit() == Some(PAGE)
                        && r.configuration_aggregator_name() == Some("org")
                })
                .then_output(|| page(vec![fresh_row("us-east-1")], Some("t1")));
        let second =
            aws_smithy_mocks::mock!(aws_sdk_config::Client::select_aggregate_resource_config)
                .match_requests(|r| r.next_token() == Some("t1"))
                .then_output(|| page(vec![fresh_row("eu-west-1")], None));
        let got = read(
            &client(&[&first, &second]),
            "org",
            &[],
            Duration::from_secs(86_400),
            SystemTime::now(),
            4,
        )
        .await;
        assert!(got.unreadable.is_none(), "{:?}", got.unreadable);
        assert_eq!((got.items(), got.queries), (2, 2));
    }

    #[tokio::test]
    async fn a_denied_query_or_a_looping_token_is_unreadable_and_no_item_is_used() {
        let ok = aws_smithy_mocks::mock!(aws_sdk_config::Client::select_aggregate_resource_config)
            .then_output(|| page(vec![fresh_row("us-east-1")], None));
        let denied = aws_smithy_mocks::mock!(aws_sdk_config::Client::select_aggregate_resource_config)
            .then_http_response(|| {
                crate::collect::tests::wire(
                    400,
                    None,
                    r#"{"__type":"AccessDeniedException","message":"not authorized to perform: config:SelectAggregateResourceConfig"}"#,
                )
            });
        let regions = ["eu-west-1".to_owned(), "us-east-1".to_owned()];
        let got = read(
            &client(&[&ok, &denied]),
            "org",
            &regions,
            Duration::from_secs(60),
            SystemTime::now(),
            1,
        )
        .await;
        let err = got.unreadable.as_ref().expect("unreadable");
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        assert_eq!(err.operation, OPERATION);
        assert_eq!(
            got.items(),
            0,
            "one region's answer is not used when another's is missing"
        );
        assert!(matches!(
            got.source("111122223333", "us-east-1"),
            XraySource::Unreadable(_)
        ));

        let looping =
            aws_smithy_mocks::mock!(aws_sdk_config::Client::select_aggregate_resource_config)
                .sequence()
                .output(|| page(vec![], Some("same")))
                .times(2)
                .build();
        let got = read(
            &client(&[&looping]),
            "org",
            &[],
            Duration::from_secs(60),
            SystemTime::now(),
            1,
        )
        .await;
        assert!(got
            .unreadable
            .expect("unreadable")
            .message
            .contains("same NextToken"));
    }

    #[test]
    fn the_query_names_only_a_region() {
        assert!(query(Some("eu-west-1")).expect("sql").ends_with(
            "WHERE resourceType = 'AWS::XRay::EncryptionConfig' AND awsRegion = 'eu-west-1'"
        ));
        assert!(query(Some("x' OR '1'='1")).is_err());
        assert!(query(Some("")).is_err());
        assert!(!query(None).expect("sql").contains("awsRegion ="));
    }
}
