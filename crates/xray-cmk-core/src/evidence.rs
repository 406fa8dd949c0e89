//! Audit evidence for one key, aggregated: who used it (by principal, event and day), whether it
//! rotates, and its policy and tags now. Pure: what the AWS crate collected in, one
//! [`Evidence`] value out, for the report crate to render and the history to record.

use std::collections::{BTreeMap, BTreeSet};

use crate::OrgPolicy;

/// One CloudTrail event on the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub time: String,
    pub name: String,
    /// The principal: the IAM ARN, or the AWS service that acted (`xray.amazonaws.com`).
    pub principal: String,
    pub source_ip: Option<String>,
}

/// Rotation as KMS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvidence {
    pub enabled: bool,
    pub period_days: Option<i32>,
    pub next_rotation: Option<String>,
    /// Completed rotations, oldest first (`ListKeyRotations`).
    pub rotations: Vec<String>,
}

/// The key the evidence is about, as KMS described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceKey {
    pub arn: String,
    pub account: String,
    pub region: String,
    pub state: String,
    pub aliases: Vec<String>,
}

/// What was collected for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub key: EvidenceKey,
    /// How far back CloudTrail was searched.
    pub days: u64,
    /// Newest first, as CloudTrail returns them.
    pub events: Vec<KeyEvent>,
    pub rotation: RotationEvidence,
    /// The key policy's text.
    pub key_policy: String,
    /// In the order KMS lists them.
    pub tags: Vec<(String, String)>,
}

/// One principal's use of the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalUse {
    pub events: usize,
    pub event_names: BTreeSet<String>,
    /// The policy file names it (as a key admin, X-Ray admin, trace reader or cross-account
    /// reader), or it is X-Ray itself.
    pub in_policy_access_lists: bool,
}

/// The evidence for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub key: EvidenceKey,
    pub days: u64,
    pub events: Vec<KeyEvent>,
    pub by_principal: BTreeMap<String, PrincipalUse>,
    pub by_event: BTreeMap<String, usize>,
    /// Events per UTC day (`YYYY-MM-DD`).
    pub by_day: BTreeMap<String, usize>,
    pub rotation: RotationEvidence,
    /// One-line summaries of the key policy's statements (or why it is not analysable).
    pub key_policy: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// Every principal the policy file expects to use keys of the account.
    pub expected: Vec<String>,
}

impl Evidence {
    /// Whether the policy file's access lists name `principal`.
    pub fn in_policy_access_lists(&self, principal: &str) -> bool {
        self.expected.iter().any(|x| x == principal)
    }
}

/// The principals the policy file expects to use `account`'s X-Ray key: its key admins, X-Ray
/// admins, trace readers, cross-account readers, and X-Ray itself.
pub fn expected_principals(policy: &OrgPolicy, account: &str) -> Vec<String> {
    let mut all = policy.key_admins_for(account);
    all.extend(policy.xray_admins_for(account));
    all.extend(policy.trace_readers_for(account));
    all.extend(policy.access.cross_account_readers.iter().cloned());
    all.push("xray.amazonaws.com".to_owned());
    all
}

/// Counts of `events` by principal (with the event names each used), by event name and by day.
type Counts = (
    BTreeMap<String, PrincipalUse>,
    BTreeMap<String, usize>,
    BTreeMap<String, usize>,
);

fn counts(events: &[KeyEvent], expected: &[String]) -> Counts {
    let mut by_principal: BTreeMap<String, PrincipalUse> = BTreeMap::new();
    let mut by_event: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_day: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        let p = by_principal
            .entry(e.principal.clone())
            .or_insert_with(|| PrincipalUse {
                in_policy_access_lists: expected.contains(&e.principal),
                ..PrincipalUse::default()
            });
        p.events += 1;
        p.event_names.insert(e.name.clone());
        *by_event.entry(e.name.clone()).or_default() += 1;
        *by_day
            .entry(e.time.get(..10).unwrap_or(&e.time).to_owned())
            .or_default() += 1;
    }
    (by_principal, by_event, by_day)
}

/// One-line summaries of a key policy's statements, or one line saying why it cannot be read.
pub fn policy_summary(text: &str) -> Vec<String> {
    match crate::key_policy::PolicyDocument::parse(text) {
        Ok(doc) => doc.statements.iter().map(|s| s.summary()).collect(),
        Err(e) => vec![format!("not analysable: {e}")],
    }
}

/// The evidence of what was collected, judged against the principals the policy file expects.
pub fn aggregate(collected: Collected, expected: Vec<String>) -> Evidence {
    let (by_principal, by_event, by_day) = counts(&collected.events, &expected);
    Evidence {
        key_policy: policy_summary(&collected.key_policy),
        key: collected.key,
        days: collected.days,
        events: collected.events,
        by_principal,
        by_event,
        by_day,
        rotation: collected.rotation,
        tags: collected.tags,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: &str, name: &str, principal: &str) -> KeyEvent {
        KeyEvent {
            time: time.into(),
            name: name.into(),
            principal: principal.into(),
            source_ip: None,
        }
    }

    #[test]
    fn events_are_counted_by_principal_event_and_day() {
        let reader = "arn:aws:iam::111122223333:role/TraceReader";
        let stranger = "arn:aws:iam::111122223333:user/someone";
        let collected = Collected {
            key: EvidenceKey {
                arn: "arn:aws:kms:eu-west-1:111122223333:key/k1".into(),
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                state: "Enabled".into(),
                aliases: vec![],
            },
            days: 7,
            events: vec![
                event("2026-12-02T10:00:00Z", "Decrypt", reader),
                event(
                    "2026-12-02T09:00:00Z",
                    "GenerateDataKey",
                    "xray.amazonaws.com",
                ),
                event("2026-12-01T09:00:00Z", "Decrypt", stranger),
                event("2026-12-01T08:00:00Z", "DescribeKey", reader),
            ],
            rotation: RotationEvidence {
                enabled: true,
                period_days: Some(365),
                next_rotation: None,
                rotations: vec![],
            },
            key_policy: "not json".into(),
            tags: vec![],
        };
        let expected = vec![reader.to_owned(), "xray.amazonaws.com".to_owned()];
        let ev = aggregate(collected, expected);
        let r = &ev.by_principal[reader];
        assert_eq!(r.events, 2);
        assert_eq!(
            r.event_names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["Decrypt", "DescribeKey"]
        );
        assert!(r.in_policy_access_lists);
        assert!(!ev.by_principal[stranger].in_policy_access_lists);
        assert!(ev.in_policy_access_lists("xray.amazonaws.com"));
        assert_eq!(ev.by_event["Decrypt"], 2);
        assert_eq!(ev.by_day["2026-12-01"], 2);
        assert_eq!(ev.by_day["2026-12-02"], 2);
        assert_eq!(ev.key_policy.len(), 1);
        assert!(
            ev.key_policy[0].starts_with("not analysable: "),
            "{:?}",
            ev.key_policy
        );
    }
}
