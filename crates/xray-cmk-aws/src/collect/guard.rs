//! The guardrail as deployed: AWS Config's recorders and rules and EventBridge's rules in each
//! region, and the SCPs on each account's path from the organization's root.

use std::collections::BTreeMap;

use aws_sdk_config::types::{RecordingGroup, RecordingStrategyType};
use aws_sdk_organizations::types::{ParentType, PolicyType};
use xray_cmk_core::model::{
    ConfigRecorder, ConfigRule, EventRule, Guardrail, OrgNode, RecordingScope, Scp, ScpPath,
};
use xray_cmk_core::{CollectionError, Observed};

use super::{malformed, Once};
use crate::error::classify;

/// Config and EventBridge reads of one account and region.
pub async fn guardrail(
    config: &aws_sdk_config::Client,
    events: &aws_sdk_eventbridge::Client,
) -> Guardrail {
    let (recorders, config_rules, event_rules) =
        futures::join!(recorders(config), config_rules(config), event_rules(events));
    Guardrail {
        recorders,
        config_rules,
        event_rules,
    }
}

fn scope(group: Option<&RecordingGroup>) -> RecordingScope {
    let Some(g) = group else {
        // AWS's default recording group records every supported type.
        return RecordingScope::AllSupported;
    };
    let included = || {
        g.resource_types()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect()
    };
    match g.recording_strategy().and_then(|s| s.use_only()) {
        Some(RecordingStrategyType::AllSupportedResourceTypes) => RecordingScope::AllSupported,
        Some(RecordingStrategyType::InclusionByResourceTypes) => RecordingScope::Only(included()),
        Some(RecordingStrategyType::ExclusionByResourceTypes) => RecordingScope::AllExcept(
            g.exclusion_by_resource_types()
                .map(|e| {
                    e.resource_types()
                        .iter()
                        .map(|t| t.as_str().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some(other) => RecordingScope::Other(other.as_str().to_owned()),
        // Before recording strategies: allSupported, else the listed types.
        None if g.all_supported() => RecordingScope::AllSupported,
        None => RecordingScope::Only(included()),
    }
}

/// `DescribeConfigurationRecorders` and `DescribeConfigurationRecorderStatus`.
pub async fn recorders(config: &aws_sdk_config::Client) -> Observed<Vec<ConfigRecorder>> {
    let (described, status) = futures::join!(
        config.describe_configuration_recorders().send(),
        config.describe_configuration_recorder_status().send()
    );
    let described = match described {
        Ok(out) => out,
        Err(err) => {
            return Observed::Unknown(classify("config:DescribeConfigurationRecorders", &err))
        }
    };
    let status = match status {
        Ok(out) => out,
        Err(err) => {
            return Observed::Unknown(classify("config:DescribeConfigurationRecorderStatus", &err))
        }
    };
    let recording: BTreeMap<&str, bool> = status
        .configuration_recorders_status()
        .iter()
        .filter_map(|s| Some((s.name()?, s.recording())))
        .collect();
    let mut out = Vec::new();
    for r in described.configuration_recorders() {
        let Some(name) = r.name() else {
            return malformed("config:DescribeConfigurationRecorders", "recorder name");
        };
        out.push(ConfigRecorder {
            name: name.to_owned(),
            scope: scope(r.recording_group()),
            recording: recording.get(name).copied(),
            service_principal: r.service_principal().map(str::to_owned),
        });
    }
    Observed::Known(out)
}

/// `DescribeConfigRules`, every page.
pub async fn config_rules(config: &aws_sdk_config::Client) -> Observed<Vec<ConfigRule>> {
    let mut pages = config.describe_config_rules().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(err) => return Observed::Unknown(classify("config:DescribeConfigRules", &err)),
        };
        for r in page.config_rules() {
            let scope = r.scope();
            out.push(ConfigRule {
                name: r.config_rule_name().unwrap_or_default().to_owned(),
                state: r.config_rule_state().map(|s| s.as_str().to_owned()),
                owner: r.source().map(|s| s.owner().as_str().to_owned()),
                resource_types: scope
                    .map(|s| s.compliance_resource_types().to_vec())
                    .unwrap_or_default(),
                resource_id: scope
                    .and_then(|s| s.compliance_resource_id())
                    .map(str::to_owned),
                tag_key: scope.and_then(|s| s.tag_key()).map(str::to_owned),
            });
        }
    }
    Observed::Known(out)
}

/// `ListRules` of the default bus, every page, and `ListTargetsByRule` of each enabled rule with
/// an event pattern (the others cannot alert on anything).
pub async fn event_rules(events: &aws_sdk_eventbridge::Client) -> Observed<Vec<EventRule>> {
    // The SDK has no paginator for EventBridge's lists: NextToken is followed by hand.
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        match events
            .list_rules()
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(p) => {
                listed.extend(p.rules().iter().cloned());
                match p.next_token() {
                    Some(t) => token = Some(t.to_owned()),
                    None => break,
                }
            }
            Err(err) => return Observed::Unknown(classify("events:ListRules", &err)),
        }
    }
    let mut out = Vec::new();
    for r in listed {
        let Some(name) = r.name() else {
            return malformed("events:ListRules", "rule name");
        };
        let state = r.state().map(|s| s.as_str().to_owned());
        let enabled = matches!(
            state.as_deref(),
            Some("ENABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
        );
        let targets = if enabled && r.event_pattern().is_some() {
            targets(events, name).await
        } else {
            Observed::not_collected("events:ListTargetsByRule")
        };
        out.push(EventRule {
            name: name.to_owned(),
            state,
            event_pattern: r.event_pattern().map(str::to_owned),
            targets,
        });
    }
    Observed::Known(out)
}

async fn targets(events: &aws_sdk_eventbridge::Client, rule: &str) -> Observed<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = events
            .list_targets_by_rule()
            .rule(rule)
            .set_next_token(token.take())
            .send()
            .await;
        match page {
            Ok(p) => {
                out.extend(p.targets().iter().map(|t| t.arn().to_owned()));
                match p.next_token() {
                    Some(t) => token = Some(t.to_owned()),
                    None => return Observed::Known(out),
                }
            }
            Err(err) => return Observed::Unknown(classify("events:ListTargetsByRule", &err)),
        }
    }
}

/// An SCP attached to a node: its id and name.
type Attached = (String, Option<String>);

/// What an organization scan reads once per scan and shares between accounts: the management
/// account, each node's parent, and each node's SCPs and each SCP's content.
#[derive(Default)]
pub struct OrgCache {
    management: Once<(), Result<String, CollectionError>>,
    parents: Once<String, Result<(String, bool), CollectionError>>,
    attached: Once<String, Result<Vec<Attached>, CollectionError>>,
    content: Once<String, Observed<String>>,
}

impl std::fmt::Debug for OrgCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgCache").finish_non_exhaustive()
    }
}

/// The account's path to the root with the SCPs attached at each step (`ListParents`,
/// `ListPoliciesForTarget`, `DescribePolicy`, and `DescribeOrganization` for the management
/// account), read with the organization's management (or delegated administrator) credentials.
pub async fn scp_path(
    org: &aws_sdk_organizations::Client,
    account: &str,
    cache: &OrgCache,
) -> Observed<ScpPath> {
    match read_path(org, account, cache).await {
        Ok(path) => Observed::Known(path),
        Err(err) => Observed::Unknown(err),
    }
}

async fn read_path(
    org: &aws_sdk_organizations::Client,
    account: &str,
    cache: &OrgCache,
) -> Result<ScpPath, CollectionError> {
    let (management, _) = cache
        .management
        .get_or_compute((), async {
            match org.describe_organization().send().await {
                Ok(out) => out
                    .organization()
                    .and_then(|o| o.master_account_id())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        missing("organizations:DescribeOrganization", "MasterAccountId")
                    }),
                Err(err) => Err(classify("organizations:DescribeOrganization", &err)),
            }
        })
        .await;
    let management = management?;
    let mut nodes = Vec::new();
    let mut id = account.to_owned();
    // An organization nests OUs at most five deep; the bound keeps a malformed answer finite.
    for _ in 0..8 {
        let (policies, _) = cache
            .attached
            .get_or_compute(id.clone(), attached(org, &id))
            .await;
        let mut scps = Vec::new();
        for (policy_id, name) in policies? {
            let (content, _) = cache
                .content
                .get_or_compute(policy_id.clone(), content(org, &policy_id))
                .await;
            scps.push(Scp {
                id: policy_id,
                name,
                content,
            });
        }
        nodes.push(OrgNode {
            id: id.clone(),
            policies: scps,
        });
        if id.starts_with("r-") {
            return Ok(ScpPath {
                management_account: management == account,
                nodes,
            });
        }
        let (parent, _) = cache
            .parents
            .get_or_compute(id.clone(), parent(org, &id))
            .await;
        let (parent, is_root) = parent?;
        if is_root && !parent.starts_with("r-") {
            return Err(missing("organizations:ListParents", "a root id (r-…)"));
        }
        id = parent;
    }
    Err(missing(
        "organizations:ListParents",
        "a path that reaches the root",
    ))
}

fn missing(operation: &str, what: &str) -> CollectionError {
    match malformed::<()>(operation, what) {
        Observed::Unknown(err) => err,
        Observed::Known(()) => unreachable!("malformed is always unknown"),
    }
}

async fn parent(
    org: &aws_sdk_organizations::Client,
    child: &str,
) -> Result<(String, bool), CollectionError> {
    let out = org
        .list_parents()
        .child_id(child)
        .send()
        .await
        .map_err(|e| classify("organizations:ListParents", &e))?;
    let p = out
        .parents()
        .first()
        .ok_or_else(|| missing("organizations:ListParents", "Parents"))?;
    let id = p
        .id()
        .ok_or_else(|| missing("organizations:ListParents", "Parent.Id"))?;
    Ok((id.to_owned(), p.r#type() == Some(&ParentType::Root)))
}

async fn attached(
    org: &aws_sdk_organizations::Client,
    target: &str,
) -> Result<Vec<Attached>, CollectionError> {
    let mut pages = org
        .list_policies_for_target()
        .target_id(target)
        .filter(PolicyType::ServiceControlPolicy)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("organizations:ListPoliciesForTarget", &e))?;
        for p in page.policies() {
            let id = p.id().ok_or_else(|| {
                missing("organizations:ListPoliciesForTarget", "PolicySummary.Id")
            })?;
            out.push((id.to_owned(), p.name().map(str::to_owned)));
        }
    }
    Ok(out)
}

async fn content(org: &aws_sdk_organizations::Client, policy: &str) -> Observed<String> {
    match org.describe_policy().policy_id(policy).send().await {
        Ok(out) => match out.policy().and_then(|p| p.content()) {
            Some(c) => Observed::Known(c.to_owned()),
            None => malformed("organizations:DescribePolicy", "Policy.Content"),
        },
        Err(err) => Observed::Unknown(classify("organizations:DescribePolicy", &err)),
    }
}

#[cfg(test)]
mod tests;
