//! Proof that X-Ray still stores traces: write one synthetic, clearly marked segment with
//! `PutTraceSegments` and read it back with `BatchGetTraces`.
//!
//! X-Ray accepts segments it then drops (a key it cannot use makes it drop them with KMS errors
//! nobody sees), so a successful write proves nothing: only the read-back does. New traces take a
//! few seconds to become visible, so the read is retried until a deadline.
//!
//! X-Ray returns a trace encrypted with a customer managed key only to a reader the key lets
//! `kms:Decrypt` through X-Ray (it lists the others in `UnprocessedTraceIds`). When the trace does
//! not come back, the key policy of X-Ray's key is judged for the reader with the core's model, so
//! the failure says whether that is why, or that the cause is unknown and what could not be read.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::types::KeyState;
use aws_sdk_xray::types::EncryptionType;
use xray_cmk_core::key_policy::{Context, Decision, PolicyDocument, Request};
use xray_cmk_core::CollectionError;

use crate::error::classify;

/// The segment name, so anyone looking at the traces can tell what wrote it.
pub const SEGMENT_NAME: &str = "xray-cmk-verify";

/// How long to keep trying to read the segment back, and how often.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    pub timeout: Duration,
    pub first_retry: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            timeout: Duration::from_secs(60),
            first_retry: Duration::from_millis(500),
        }
    }
}

fn random_hex(digits: usize) -> String {
    let mut out = String::new();
    while out.len() < digits {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(digits);
    out
}

/// A new trace id in X-Ray's format: `1-` epoch seconds in hex `-` 96 random bits in hex.
pub fn new_trace_id(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("1-{secs:08x}-{}", random_hex(24))
}

/// The segment document: finished, named and annotated as xray-cmk's.
pub fn segment_document(trace_id: &str, segment_id: &str, now: SystemTime) -> String {
    let start = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    serde_json::json!({
        "name": SEGMENT_NAME,
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": start,
        "end_time": start + 0.001,
        "annotations": { "xray_cmk_verify": true },
        "metadata": { "default": {
            "purpose": "synthetic segment written by `xray-cmk verify` to prove traces are stored and readable; safe to ignore"
        } },
    })
    .to_string()
}

/// Why a target did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A call was denied, throttled or failed (the account could not be reached, say): whether
    /// X-Ray stores traces there is unknown, never a pass.
    #[error("could not be checked: {0}")]
    Unchecked(CollectionError),
    /// X-Ray refused the segment, or did not give it back: traces do not flow as they should.
    #[error("{0}")]
    Failed(String),
}

impl VerifyError {
    /// What failed, without the `could not be checked` lead: for the apply step, whose result
    /// says what failed.
    pub fn detail(&self) -> String {
        match self {
            VerifyError::Unchecked(err) => err.to_string(),
            VerifyError::Failed(why) => why.clone(),
        }
    }
}

/// Writes a marked segment and reads it back as `caller` (the identity of `xray`'s credentials,
/// when known). `Ok` says how long it took; `Err` says exactly what failed and, when the trace did
/// not read back, whether the key policy is why, or that the check itself could not be made.
pub async fn check(
    xray: &aws_sdk_xray::Client,
    kms: &aws_sdk_kms::Client,
    caller: Option<&str>,
    opts: VerifyOptions,
) -> Result<String, VerifyError> {
    let started = Instant::now();
    let now = SystemTime::now();
    let trace_id = new_trace_id(now);
    let segment_id = random_hex(16);
    let put = xray
        .put_trace_segments()
        .trace_segment_documents(segment_document(&trace_id, &segment_id, now))
        .send()
        .await
        .map_err(|e| VerifyError::Unchecked(classify("xray:PutTraceSegments", &e)))?;
    if let Some(bad) = put.unprocessed_trace_segments().first() {
        return Err(VerifyError::Failed(format!(
            "X-Ray did not accept the segment of trace {trace_id}: {}: {}",
            bad.error_code().unwrap_or("no error code"),
            bad.message().unwrap_or("no message")
        )));
    }
    let mut wait = opts.first_retry;
    let mut diagnosis: Option<Diagnosis> = None;
    loop {
        let got = xray
            .batch_get_traces()
            .trace_ids(&trace_id)
            .send()
            .await
            .map_err(|e| VerifyError::Unchecked(classify("xray:BatchGetTraces", &e)))?;
        let found = got.traces().iter().any(|t| {
            t.id() == Some(trace_id.as_str())
                && t.segments()
                    .iter()
                    .any(|s| s.id() == Some(segment_id.as_str()))
        });
        if found {
            return Ok(format!(
                "trace {trace_id} written and read back in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        let unprocessed = got.unprocessed_trace_ids().contains(&trace_id);
        if unprocessed && diagnosis.is_none() {
            let d = diagnose(xray, kms, caller).await;
            // Waiting does not change a key policy.
            if d.conclusive {
                return Err(VerifyError::Failed(format!(
                    "trace {trace_id} was accepted but could not be read back: X-Ray listed it as unprocessed, and {}",
                    d.text
                )));
            }
            diagnosis = Some(d);
        }
        if started.elapsed() + wait > opts.timeout {
            let d = match diagnosis {
                Some(d) => d,
                None => diagnose(xray, kms, caller).await,
            };
            return Err(VerifyError::Failed(format!(
                "trace {trace_id} was accepted but could not be read back within {} s: {}",
                opts.timeout.as_secs(),
                d.text
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Why a trace might not read back, as far as X-Ray's key can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Diagnosis {
    /// The cause is known (the key policy or the key's state), so retrying cannot help.
    conclusive: bool,
    text: String,
}

fn unknown(what: impl std::fmt::Display) -> Diagnosis {
    Diagnosis {
        conclusive: false,
        text: format!("the cause is unknown: {what}"),
    }
}

/// Reads X-Ray's key and its key policy, and judges `kms:Decrypt` through X-Ray for `caller`.
async fn diagnose(
    xray: &aws_sdk_xray::Client,
    kms: &aws_sdk_kms::Client,
    caller: Option<&str>,
) -> Diagnosis {
    let Some(region) = xray.config().region().map(ToString::to_string) else {
        return unknown("the region of the X-Ray client is not known");
    };
    let config = match xray.get_encryption_config().send().await {
        Ok(out) => out,
        Err(e) => {
            return unknown(format_args!(
                "X-Ray's encryption configuration could not be read ({})",
                classify("xray:GetEncryptionConfig", &e)
            ))
        }
    };
    let config = config.encryption_config();
    if config.and_then(|c| c.r#type()) != Some(&EncryptionType::Kms) {
        return unknown(
            "X-Ray uses its default encryption, so no key policy is involved; X-Ray may be dropping traces",
        );
    }
    let Some(key_id) = config.and_then(|c| c.key_id()) else {
        return unknown("X-Ray's encryption configuration names no key");
    };
    let meta = match kms.describe_key().key_id(key_id).send().await {
        Ok(out) => out.key_metadata,
        Err(e) => {
            return unknown(format_args!(
                "the key {key_id} X-Ray uses could not be read ({})",
                classify("kms:DescribeKey", &e)
            ))
        }
    };
    let arn = meta
        .as_ref()
        .and_then(|m| m.arn())
        .unwrap_or(key_id)
        .to_owned();
    match meta.as_ref().and_then(|m| m.key_state()) {
        Some(KeyState::Enabled) => {}
        Some(state) => {
            return Diagnosis {
                conclusive: true,
                text: format!(
                    "the key {arn} X-Ray uses is {}: X-Ray can neither encrypt nor decrypt traces with it",
                    state.as_str()
                ),
            }
        }
        None => {}
    }
    let Some(caller) = caller else {
        return unknown(format_args!(
            "the reader's identity (sts:GetCallerIdentity) could not be read, so the key policy of {arn} could not be judged for it"
        ));
    };
    let policy = match kms
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
    {
        Ok(out) => out.policy.unwrap_or_default(),
        Err(e) => {
            return unknown(format_args!(
                "the key policy of {arn} could not be read ({})",
                classify("kms:GetKeyPolicy", &e)
            ))
        }
    };
    let doc = match PolicyDocument::parse(&policy) {
        Ok(doc) => doc,
        Err(e) => {
            return unknown(format_args!(
                "the key policy of {arn} could not be parsed ({e})"
            ))
        }
    };
    let mut context = Context::new()
        .with("kms:ViaService", format!("xray.{region}.amazonaws.com"))
        .with("aws:RequestedRegion", region.as_str());
    if let Some((account, _)) = xray_cmk_core::model::arn_account_region(caller) {
        context = context.with("kms:CallerAccount", account);
    }
    match doc.evaluate(&Request::new(caller, "kms:Decrypt", &context)) {
        d @ (Decision::NotAllowed | Decision::ExplicitDeny { .. }) => Diagnosis {
            conclusive: true,
            text: format!(
                "the key policy of {arn} does not let {caller} kms:Decrypt through X-Ray ({d})"
            ),
        },
        d @ Decision::Allowed { .. } => unknown(format_args!(
            "the key policy of {arn} lets {caller} kms:Decrypt through X-Ray ({d}), so it is not why; X-Ray may be dropping traces"
        )),
        Decision::DelegatedToIam { account, .. } => unknown(format_args!(
            "the key policy of {arn} leaves {caller}'s kms:Decrypt through X-Ray to the IAM policies of account {account}; check that they allow it"
        )),
        Decision::Undetermined { reason } => unknown(format_args!(
            "whether the key policy of {arn} lets {caller} kms:Decrypt through X-Ray cannot be told ({reason})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`check`], as the apply step calls it.
    async fn verify(
        xray: &aws_sdk_xray::Client,
        kms: &aws_sdk_kms::Client,
        caller: Option<&str>,
        opts: VerifyOptions,
    ) -> Result<String, VerifyError> {
        check(xray, kms, caller, opts).await
    }
    use aws_config::Region;
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
    use aws_sdk_kms::types::KeyMetadata;
    use aws_sdk_xray::operation::batch_get_traces::BatchGetTracesOutput;
    use aws_sdk_xray::operation::get_encryption_config::GetEncryptionConfigOutput;
    use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsOutput;
    use aws_sdk_xray::types::{EncryptionConfig, Segment, Trace, UnprocessedTraceSegment};
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";
    const READER: &str = "arn:aws:sts::111122223333:assumed-role/TraceReader/s";

    fn fast() -> VerifyOptions {
        VerifyOptions {
            timeout: Duration::from_millis(300),
            first_retry: Duration::from_millis(10),
        }
    }

    fn xray(rules: &[&Rule]) -> aws_sdk_xray::Client {
        mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.region(Region::new("eu-west-1"))
        )
    }

    fn kms(rules: &[&Rule]) -> aws_sdk_kms::Client {
        mock_client!(aws_sdk_kms, RuleMode::MatchAny, rules.iter().copied())
    }

    fn put_ok() -> Rule {
        mock!(aws_sdk_xray::Client::put_trace_segments)
            .then_output(|| PutTraceSegmentsOutput::builder().build())
    }

    fn uses_key() -> Rule {
        mock!(aws_sdk_xray::Client::get_encryption_config).then_output(|| {
            GetEncryptionConfigOutput::builder()
                .encryption_config(
                    EncryptionConfig::builder()
                        .r#type(EncryptionType::Kms)
                        .key_id(KEY)
                        .build(),
                )
                .build()
        })
    }

    fn described(state: KeyState) -> Rule {
        mock!(aws_sdk_kms::Client::describe_key).then_output(move || {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("k1")
                        .arn(KEY)
                        .key_state(state.clone())
                        .build()
                        .expect("key id"),
                )
                .build()
        })
    }

    fn key_policy(statements: &'static str) -> Rule {
        mock!(aws_sdk_kms::Client::get_key_policy)
            .match_requests(|r| r.key_id() == Some(KEY) && r.policy_name() == Some("default"))
            .then_output(move || {
                GetKeyPolicyOutput::builder()
                    .policy(format!(
                        r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
                    ))
                    .build()
            })
    }

    const ROOT: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
    const ADMIN_ONLY: &str = r#"{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}"#;

    #[test]
    fn trace_ids_have_xrays_format() {
        let id = new_trace_id(UNIX_EPOCH + Duration::from_secs(0x5f84c7a2));
        assert!(id.starts_with("1-5f84c7a2-"), "{id}");
        assert_eq!(id.len(), 35);
        assert!(id[11..].bytes().all(|b| b.is_ascii_hexdigit()));
        let doc: serde_json::Value = serde_json::from_str(&segment_document(
            &id,
            "0123456789abcdef",
            SystemTime::now(),
        ))
        .expect("json");
        assert_eq!(doc["name"], SEGMENT_NAME);
        assert!(doc["end_time"].as_f64() > doc["start_time"].as_f64());
    }

    #[tokio::test]
    async fn read_back_is_retried_until_the_trace_is_visible() {
        let not_yet = mock!(aws_sdk_xray::Client::batch_get_traces)
            .then_output(|| BatchGetTracesOutput::builder().build());
        let seen: std::sync::Arc<std::sync::Mutex<Option<String>>> = Default::default();
        let seen_put = seen.clone();
        let put_capture = mock!(aws_sdk_xray::Client::put_trace_segments)
            .match_requests(move |r| {
                *seen_put.lock().expect("lock") = r.trace_segment_documents().first().cloned();
                true
            })
            .then_output(|| PutTraceSegmentsOutput::builder().build());
        let seen_get = seen.clone();
        let visible = mock!(aws_sdk_xray::Client::batch_get_traces).then_output(move || {
            let doc: serde_json::Value =
                serde_json::from_str(seen_get.lock().expect("lock").as_deref().expect("written"))
                    .expect("json");
            BatchGetTracesOutput::builder()
                .traces(
                    Trace::builder()
                        .id(doc["trace_id"].as_str().expect("id"))
                        .segments(
                            Segment::builder()
                                .id(doc["id"].as_str().expect("id"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let client = mock_client!(
            aws_sdk_xray,
            RuleMode::Sequential,
            [&put_capture, &not_yet, &visible]
        );
        let ok = verify(&client, &kms(&[]), Some(READER), fast())
            .await
            .expect("verified");
        assert!(ok.contains("written and read back"), "{ok}");
        assert_eq!(not_yet.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_trace_that_never_shows_up_is_a_failure_that_says_why() {
        let never = mock!(aws_sdk_xray::Client::batch_get_traces)
            .then_output(|| BatchGetTracesOutput::builder().build());
        let (put, cfg) = (put_ok(), uses_key());
        let (described, policy) = (described(KeyState::Enabled), key_policy(ROOT));
        let err = verify(
            &xray(&[&put, &never, &cfg]),
            &kms(&[&described, &policy]),
            Some(READER),
            fast(),
        )
        .await
        .expect_err("dropped")
        .detail();
        assert!(err.contains("could not be read back within"), "{err}");
        // The key policy leaves it to IAM: not known to be the cause.
        assert!(err.contains("the cause is unknown"), "{err}");
        assert!(
            err.contains(&format!(
                "the key policy of {KEY} leaves {READER}'s kms:Decrypt through X-Ray to the IAM policies of account 111122223333"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_key_policy_that_does_not_let_the_reader_decrypt_is_named_at_once() {
        let (put, cfg) = (put_ok(), uses_key());
        let (described, policy) = (described(KeyState::Enabled), key_policy(ADMIN_ONLY));
        let slow = VerifyOptions {
            timeout: Duration::from_secs(30),
            ..fast()
        };
        let client = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&put, &cfg, &unprocessed_echo()],
            |c| c.region(Region::new("eu-west-1"))
        );
        let started = Instant::now();
        let err = verify(&client, &kms(&[&described, &policy]), Some(READER), slow)
            .await
            .expect_err("held back")
            .detail();
        assert!(started.elapsed() < Duration::from_secs(5), "no waiting");
        assert!(
            err.contains(&format!(
                "the key policy of {KEY} does not let {READER} kms:Decrypt through X-Ray (not allowed by the key policy)"
            )),
            "{err}"
        );
        assert!(err.contains("listed it as unprocessed"), "{err}");
    }

    /// BatchGetTraces that lists the requested trace in `UnprocessedTraceIds`.
    fn unprocessed_echo() -> Rule {
        let asked: std::sync::Arc<std::sync::Mutex<String>> = Default::default();
        let seen = asked.clone();
        mock!(aws_sdk_xray::Client::batch_get_traces)
            .match_requests(move |r| {
                *seen.lock().expect("lock") = r.trace_ids().first().cloned().unwrap_or_default();
                true
            })
            .then_output(move || {
                BatchGetTracesOutput::builder()
                    .unprocessed_trace_ids(asked.lock().expect("lock").clone())
                    .build()
            })
    }

    #[tokio::test]
    async fn an_explicit_deny_in_the_key_policy_is_named() {
        let (put, cfg) = (put_ok(), uses_key());
        let described = described(KeyState::Enabled);
        let policy = key_policy(
            r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
               {"Sid":"NoReadingThroughXray","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
                "Condition":{"StringEquals":{"kms:ViaService":"xray.eu-west-1.amazonaws.com"}}}"#,
        );
        let client = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&put, &cfg, &unprocessed_echo()],
            |c| c.region(Region::new("eu-west-1"))
        );
        let err = verify(&client, &kms(&[&described, &policy]), Some(READER), fast())
            .await
            .expect_err("denied")
            .detail();
        assert!(
            err.contains(&format!(
                "does not let {READER} kms:Decrypt through X-Ray (explicitly denied by statement \"NoReadingThroughXray\")"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_key_policy_leaves_the_cause_unknown_and_says_what_was_not_read() {
        let (put, cfg) = (put_ok(), uses_key());
        let described = described(KeyState::Enabled);
        let denied = mock!(aws_sdk_kms::Client::get_key_policy).then_http_response(|| {
            crate::collect::tests::wire(
                400,
                None,
                r#"{"__type":"AccessDeniedException","message":"not authorized to perform: kms:GetKeyPolicy"}"#,
            )
        });
        let client = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&put, &cfg, &unprocessed_echo()],
            |c| c.region(Region::new("eu-west-1"))
        );
        let err = verify(&client, &kms(&[&described, &denied]), Some(READER), fast())
            .await
            .expect_err("unknown")
            .detail();
        assert!(err.contains("could not be read back within"), "{err}");
        assert!(
            err.contains(&format!(
                "the cause is unknown: the key policy of {KEY} could not be read (kms:GetKeyPolicy failed: AccessDeniedException"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unknown_reader_or_a_disabled_key_is_said_plainly() {
        let (put, cfg) = (put_ok(), uses_key());
        let never = mock!(aws_sdk_xray::Client::batch_get_traces)
            .then_output(|| BatchGetTracesOutput::builder().build());
        let described_ok = described(KeyState::Enabled);
        let err = verify(
            &xray(&[&put, &cfg, &never]),
            &kms(&[&described_ok]),
            None,
            fast(),
        )
        .await
        .expect_err("unknown reader")
        .detail();
        assert!(
            err.contains("the cause is unknown: the reader's identity"),
            "{err}"
        );

        let disabled = described(KeyState::Disabled);
        let client = mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&put, &cfg, &unprocessed_echo()],
            |c| c.region(Region::new("eu-west-1"))
        );
        let err = verify(&client, &kms(&[&disabled]), Some(READER), fast())
            .await
            .expect_err("disabled")
            .detail();
        assert!(
            err.contains(&format!("the key {KEY} X-Ray uses is Disabled")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unprocessed_segment_is_reported_with_its_code() {
        let put = mock!(aws_sdk_xray::Client::put_trace_segments).then_output(|| {
            PutTraceSegmentsOutput::builder()
                .unprocessed_trace_segments(
                    UnprocessedTraceSegment::builder()
                        .error_code("KMSAccessDenied")
                        .message("no access")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_xray, [&put]);
        let err = check(&client, &kms(&[]), Some(READER), fast())
            .await
            .expect_err("refused");
        // X-Ray answered, and said no: a failure, not an unknown.
        let VerifyError::Failed(err) = err else {
            panic!("a refused segment is a failure: {err:?}")
        };
        assert!(err.contains("KMSAccessDenied: no access"), "{err}");
    }

    #[tokio::test]
    async fn access_denied_on_write_is_reported_as_such() {
        let denied = mock!(aws_sdk_xray::Client::put_trace_segments).then_http_response(|| {
            crate::collect::tests::wire(
                403,
                Some("AccessDeniedException"),
                r#"{"Message":"not authorized to perform: xray:PutTraceSegments"}"#,
            )
        });
        let client = mock_client!(aws_sdk_xray, [&denied]);
        let err = check(&client, &kms(&[]), Some(READER), fast())
            .await
            .expect_err("denied");
        // Whether X-Ray stores traces there is unknown: the check could not be made.
        let VerifyError::Unchecked(err) = err else {
            panic!("a denied write is unknown, not a failure: {err:?}")
        };
        assert_eq!(err.kind, xray_cmk_core::ErrorKind::AccessDenied);
        assert!(
            err.to_string()
                .contains("xray:PutTraceSegments failed: AccessDeniedException"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_trace_that_never_shows_up_is_a_failure_not_an_unknown() {
        let never = mock!(aws_sdk_xray::Client::batch_get_traces)
            .then_output(|| BatchGetTracesOutput::builder().build());
        let (put, cfg) = (put_ok(), uses_key());
        let (described, policy) = (described(KeyState::Enabled), key_policy(ROOT));
        let err = check(
            &xray(&[&put, &never, &cfg]),
            &kms(&[&described, &policy]),
            Some(READER),
            fast(),
        )
        .await
        .expect_err("dropped");
        // X-Ray took the segment and never gave it back: whatever the cause, traces do not flow.
        assert!(matches!(err, VerifyError::Failed(_)), "{err:?}");
    }
}
