//! CloudTrail: which trails cover a region, and what each trail records.

use aws_sdk_cloudtrail::types::AdvancedFieldSelector;
use xray_cmk_core::model::{
    AdvancedSelector, BasicSelector, EventSelectors, FieldSelector, TrailRef, TrailState,
};
use xray_cmk_core::Observed;

use super::ClientSource;
use crate::error::classify;

/// Every trail of the account, whatever its home region: `ListTrails` once, then `GetTrail` per
/// trail in its home region for the multi-region flag. One `ListTrails` per account instead of a
/// `DescribeTrails` per region keeps an organization scan within its call budget; which regions a
/// trail covers is then derived from its home region and multi-region flag, as AWS defines it.
pub async fn account_trails(clients: &dyn ClientSource, home: &str) -> Observed<Vec<TrailRef>> {
    let mut pages = clients
        .cloudtrail(home)
        .list_trails()
        .into_paginator()
        .send();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => listed.extend(
                page.trails()
                    .iter()
                    .filter_map(|t| Some((t.trail_arn()?.to_owned(), t.home_region()?.to_owned()))),
            ),
            Err(err) => return Observed::Unknown(classify("cloudtrail:ListTrails", &err)),
        }
    }
    let described = futures::future::join_all(listed.iter().map(|(arn, home)| async move {
        clients.cloudtrail(home).get_trail().name(arn).send().await
    }))
    .await;
    let mut trails = Vec::new();
    for ((arn, home), got) in listed.into_iter().zip(described) {
        let trail = match got {
            Ok(out) => out.trail().cloned(),
            Err(err) => return Observed::Unknown(classify("cloudtrail:GetTrail", &err)),
        };
        let Some(t) = trail else {
            return super::malformed("cloudtrail:GetTrail", "Trail");
        };
        trails.push(TrailRef {
            name: t.name().unwrap_or_default().to_owned(),
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            organization: t.is_organization_trail().unwrap_or(false),
            arn,
            home_region: home,
        });
    }
    trails.sort_by(|a, b| a.arn.cmp(&b.arn));
    Observed::Known(trails)
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
