//! CloudTrail: which trails cover a region, and what each trail records.

use aws_sdk_cloudtrail::types::AdvancedFieldSelector;
use xray_cmk_core::model::{
    AdvancedSelector, BasicSelector, EventSelectors, FieldSelector, TrailRef, TrailState,
};
use xray_cmk_core::Observed;

use crate::error::classify;

/// `DescribeTrails` with shadow trails, so multi-region trails homed elsewhere are listed too.
pub async fn list_trails(ct: &aws_sdk_cloudtrail::Client) -> Observed<Vec<TrailRef>> {
    match ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
    {
        Ok(out) => Observed::Known(
            out.trail_list()
                .iter()
                // A trail without an ARN or home region cannot be followed up; AWS always sends both.
                .filter_map(|t| {
                    Some(TrailRef {
                        arn: t.trail_arn()?.to_owned(),
                        name: t.name().unwrap_or_default().to_owned(),
                        home_region: t.home_region()?.to_owned(),
                        multi_region: t.is_multi_region_trail().unwrap_or(false),
                        organization: t.is_organization_trail().unwrap_or(false),
                    })
                })
                .collect(),
        ),
        Err(err) => Observed::Unknown(classify("cloudtrail:DescribeTrails", &err)),
    }
}

/// `GetTrailStatus` and `GetEventSelectors` for one trail, in its home region.
pub async fn trail_state(ct: &aws_sdk_cloudtrail::Client, arn: &str) -> TrailState {
    let (status, selectors) = futures::join!(
        ct.get_trail_status().name(arn).send(),
        ct.get_event_selectors().trail_name(arn).send()
    );
    let logging = match status {
        Ok(out) => match out.is_logging() {
            Some(l) => Observed::Known(l),
            None => super::malformed("cloudtrail:GetTrailStatus", "IsLogging"),
        },
        Err(err) => Observed::Unknown(classify("cloudtrail:GetTrailStatus", &err)),
    };
    let selectors = match selectors {
        Ok(out) if !out.advanced_event_selectors().is_empty() => {
            Observed::Known(EventSelectors::Advanced(
                out.advanced_event_selectors()
                    .iter()
                    .map(|s| AdvancedSelector {
                        name: s.name().map(str::to_owned),
                        fields: s.field_selectors().iter().map(field).collect(),
                    })
                    .collect(),
            ))
        }
        Ok(out) => Observed::Known(EventSelectors::Basic(
            out.event_selectors()
                .iter()
                .map(|s| BasicSelector {
                    read_write_type: s.read_write_type().map(|r| r.as_str().to_owned()),
                    include_management_events: s.include_management_events(),
                    exclude_management_event_sources: s.exclude_management_event_sources().to_vec(),
                })
                .collect(),
        )),
        Err(err) => Observed::Unknown(classify("cloudtrail:GetEventSelectors", &err)),
    };
    TrailState { logging, selectors }
}

fn field(f: &AdvancedFieldSelector) -> FieldSelector {
    FieldSelector {
        field: f.field().to_owned(),
        equals: f.equals().to_vec(),
        not_equals: f.not_equals().to_vec(),
        starts_with: f.starts_with().to_vec(),
        not_starts_with: f.not_starts_with().to_vec(),
        ends_with: f.ends_with().to_vec(),
        not_ends_with: f.not_ends_with().to_vec(),
    }
}
