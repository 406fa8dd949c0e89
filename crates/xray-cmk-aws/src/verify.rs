//! Proof that X-Ray still stores traces: write one synthetic, clearly marked segment with
//! `PutTraceSegments` and read it back with `BatchGetTraces`.
//!
//! X-Ray accepts segments it then drops (a key it cannot use makes it drop them with KMS errors
//! nobody sees), so a successful write proves nothing: only the read-back does. New traces take a
//! few seconds to become visible, so the read is retried until a deadline.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Writes a marked segment and reads it back. `Ok` says how long it took; `Err` says exactly
/// what failed.
pub async fn verify(xray: &aws_sdk_xray::Client, opts: VerifyOptions) -> Result<String, String> {
    let started = Instant::now();
    let now = SystemTime::now();
    let trace_id = new_trace_id(now);
    let segment_id = random_hex(16);
    let put = xray
        .put_trace_segments()
        .trace_segment_documents(segment_document(&trace_id, &segment_id, now))
        .send()
        .await
        .map_err(|e| classify("xray:PutTraceSegments", &e).to_string())?;
    if let Some(bad) = put.unprocessed_trace_segments().first() {
        return Err(format!(
            "X-Ray did not accept the segment of trace {trace_id}: {}: {}",
            bad.error_code().unwrap_or("no error code"),
            bad.message().unwrap_or("no message")
        ));
    }
    let mut wait = opts.first_retry;
    loop {
        let got = xray
            .batch_get_traces()
            .trace_ids(&trace_id)
            .send()
            .await
            .map_err(|e| classify("xray:BatchGetTraces", &e).to_string())?;
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
        if started.elapsed() + wait > opts.timeout {
            return Err(format!(
                "trace {trace_id} was accepted but could not be read back within {} s: X-Ray is dropping or cannot decrypt traces. Check that the KMS key is Enabled and that its policy lets X-Ray use it (xray-cmk audit)",
                opts.timeout.as_secs()
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_xray::operation::batch_get_traces::BatchGetTracesOutput;
    use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsOutput;
    use aws_sdk_xray::types::{Segment, Trace, UnprocessedTraceSegment};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn fast() -> VerifyOptions {
        VerifyOptions {
            timeout: Duration::from_millis(300),
            first_retry: Duration::from_millis(10),
        }
    }

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
        let ok = verify(&client, fast()).await.expect("verified");
        assert!(ok.contains("written and read back"), "{ok}");
        assert_eq!(not_yet.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_trace_that_never_shows_up_is_a_failure_that_says_why() {
        let put = mock!(aws_sdk_xray::Client::put_trace_segments)
            .then_output(|| PutTraceSegmentsOutput::builder().build());
        let never = mock!(aws_sdk_xray::Client::batch_get_traces)
            .then_output(|| BatchGetTracesOutput::builder().build());
        let client = mock_client!(aws_sdk_xray, RuleMode::MatchAny, [&put, &never]);
        let err = verify(&client, fast()).await.expect_err("dropped");
        assert!(err.contains("could not be read back"), "{err}");
        assert!(err.contains("KMS key"), "{err}");
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
        let err = verify(&client, fast()).await.expect_err("refused");
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
        let err = verify(&client, fast()).await.expect_err("denied");
        assert!(
            err.contains("xray:PutTraceSegments failed: AccessDeniedException"),
            "{err}"
        );
    }
}
