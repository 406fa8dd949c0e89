//! X-Ray: the encryption configuration, and where spans go (with the `aws/spans` log group).

use aws_sdk_xray::types::{EncryptionType as SdkEncryptionType, TraceSegmentDestination};
use xray_cmk_core::model::{LogGroup, SegmentDestination};
use xray_cmk_core::{EncryptionType, Observed, XrayEncryption};

use super::malformed;
use crate::error::classify;

/// The log group X-Ray writes spans to when Transaction Search sends them to CloudWatch Logs.
pub const SPANS_LOG_GROUP: &str = "aws/spans";

/// `GetEncryptionConfig`.
pub async fn encryption_config(xray: &aws_sdk_xray::Client) -> Observed<XrayEncryption> {
    match xray.get_encryption_config().send().await {
        Ok(out) => match out.encryption_config() {
            Some(cfg) => Observed::Known(XrayEncryption {
                encryption_type: EncryptionType::from_wire(
                    cfg.r#type().map(SdkEncryptionType::as_str),
                ),
                key_id: cfg.key_id().map(str::to_owned),
                status: cfg.status().map(|s| s.as_str().to_owned()),
            }),
            // No EncryptionConfig at all: we cannot tell what X-Ray does, so it is unknown.
            None => malformed("xray:GetEncryptionConfig", "EncryptionConfig"),
        },
        Err(err) => Observed::Unknown(classify("xray:GetEncryptionConfig", &err)),
    }
}

/// `GetTraceSegmentDestination`, and for `CloudWatchLogs` the `aws/spans` log group.
pub async fn segment_destination(
    xray: &aws_sdk_xray::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
) -> Observed<SegmentDestination> {
    let out = match xray.get_trace_segment_destination().send().await {
        Ok(out) => out,
        Err(err) => return Observed::Unknown(classify("xray:GetTraceSegmentDestination", &err)),
    };
    let Some(destination) = out.destination() else {
        return malformed("xray:GetTraceSegmentDestination", "Destination");
    };
    let spans_log_group = match destination {
        TraceSegmentDestination::CloudWatchLogs => Some(spans_log_group(logs).await),
        _ => None,
    };
    Observed::Known(SegmentDestination {
        destination: destination.as_str().to_owned(),
        status: out.status().map(|s| s.as_str().to_owned()),
        spans_log_group,
    })
}

/// The `aws/spans` log group, `Known(None)` when it does not exist.
async fn spans_log_group(logs: &aws_sdk_cloudwatchlogs::Client) -> Observed<Option<LogGroup>> {
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(SPANS_LOG_GROUP)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        match item {
            // The prefix also matches `aws/spans-archive`; only the exact name counts.
            Ok(group) if group.log_group_name() == Some(SPANS_LOG_GROUP) => {
                return Observed::Known(Some(LogGroup {
                    name: SPANS_LOG_GROUP.to_owned(),
                    kms_key_id: group.kms_key_id().map(str::to_owned),
                }))
            }
            Ok(_) => {}
            Err(err) => return Observed::Unknown(classify("logs:DescribeLogGroups", &err)),
        }
    }
    Observed::Known(None)
}
