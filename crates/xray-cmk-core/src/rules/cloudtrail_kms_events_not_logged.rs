//! `cloudtrail-kms-events-not-logged`: no trail covering the region records KMS use.

use super::builder;
use crate::finding::{Finding, Severity};
use crate::model::{
    AdvancedSelector, BasicSelector, EventSelectors, FieldSelector, Observed, TrailState,
    XrayTarget,
};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct CloudtrailKmsEventsNotLogged;

/// This rule's id.
pub const ID: RuleId = RuleId::new("cloudtrail-kms-events-not-logged");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "No logging trail covering the region records KMS management events, reads (Decrypt) included",
    severity: Severity::Medium,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Trails],
};

const DOCS: &str = r#"# cloudtrail-kms-events-not-logged

## What it does
Lists the trails that cover the region (`cloudtrail:DescribeTrails` with shadow trails: the
region's own trails and multi-region trails), reads each one's `GetTrailStatus` and
`GetEventSelectors` once, and checks that the logging trails together record two KMS management
events: a read (`Decrypt`, `readOnly=true`) and a write (`DisableKey`, `readOnly=false`).
- Basic selectors: `IncludeManagementEvents` (default true), `ReadWriteType` (`All` records both,
  `ReadOnly`/`WriteOnly` one each) and `ExcludeManagementEventSources` (`kms.amazonaws.com`
  excludes KMS).
- Advanced selectors: each selector's field conditions (`eventCategory`, `readOnly`,
  `eventSource`, `eventName`; `Equals`, `NotEquals`, `StartsWith`, `NotStartsWith`, `EndsWith`,
  `NotEndsWith`) are matched against the two events. A field the rule does not model makes that
  selector count for nothing.

A trail whose status or selectors could not be read makes the result `error` unless the others
already pass.

## Why is this bad?
The evidence that a customer managed key gives — who decrypted which traces, when, and who
disabled or changed the key — exists only in CloudTrail. A trail that logs only writes misses every
`Decrypt`; excluding `kms.amazonaws.com` (a common cost saving) misses everything.

## How to fix
Use a multi-region trail with management events `ReadWriteType=All` and without KMS excluded, or
an advanced selector `eventCategory = Management` without a `readOnly` filter.

## Example
    {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": true}                   # fails: no Decrypt
    {"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}   # fails
    {"ReadWriteType": "All", "IncludeManagementEvents": true}                          # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html
- https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html
- https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedFieldSelector.html
"#;

/// A KMS management event, as the selectors see it.
struct Event {
    read_only: bool,
    name: &'static str,
}

const READ: Event = Event {
    read_only: true,
    name: "Decrypt",
};
const WRITE: Event = Event {
    read_only: false,
    name: "DisableKey",
};
const KMS: &str = "kms.amazonaws.com";

impl Event {
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "eventCategory" => Some("Management"),
            "eventSource" => Some(KMS),
            "eventName" => Some(self.name),
            "readOnly" => Some(if self.read_only { "true" } else { "false" }),
            _ => None,
        }
    }
}

fn basic_records(s: &BasicSelector, e: &Event) -> bool {
    let rw = match s.read_write_type.as_deref().unwrap_or("All") {
        "All" => true,
        "ReadOnly" => e.read_only,
        "WriteOnly" => !e.read_only,
        _ => false,
    };
    s.include_management_events.unwrap_or(true)
        && rw
        && !s.exclude_management_event_sources.iter().any(|x| x == KMS)
}

fn field_matches(f: &FieldSelector, e: &Event) -> bool {
    let Some(v) = e.field(&f.field) else {
        return false;
    };
    (f.equals.is_empty() || f.equals.iter().any(|x| x == v))
        && !f.not_equals.iter().any(|x| x == v)
        && (f.starts_with.is_empty() || f.starts_with.iter().any(|x| v.starts_with(x.as_str())))
        && !f.not_starts_with.iter().any(|x| v.starts_with(x.as_str()))
        && (f.ends_with.is_empty() || f.ends_with.iter().any(|x| v.ends_with(x.as_str())))
        && !f.not_ends_with.iter().any(|x| v.ends_with(x.as_str()))
}

fn advanced_records(s: &AdvancedSelector, e: &Event) -> bool {
    s.fields.iter().all(|f| field_matches(f, e))
}

fn records(selectors: &EventSelectors, e: &Event) -> bool {
    match selectors {
        EventSelectors::Basic(v) => v.iter().any(|s| basic_records(s, e)),
        EventSelectors::Advanced(v) => v.iter().any(|s| advanced_records(s, e)),
    }
}

/// What one trail contributes: (records reads, records writes), or why it is unknown.
/// Why a trail's part cannot be told.
#[derive(Debug, thiserror::Error)]
enum Untold {
    #[error("details not collected")]
    NotCollected,
    #[error("{0}")]
    Unread(crate::CollectionError),
}

fn contribution(state: Option<&TrailState>) -> Result<(bool, bool), Untold> {
    let state = state.ok_or(Untold::NotCollected)?;
    match (&state.logging, &state.selectors) {
        (Observed::Unknown(e), _) | (_, Observed::Unknown(e)) => Err(Untold::Unread(e.clone())),
        (Observed::Known(false), _) => Ok((false, false)),
        (Observed::Known(true), Observed::Known(sel)) => {
            Ok((records(sel, &READ), records(sel, &WRITE)))
        }
    }
}

fn describe(state: Option<&TrailState>) -> &'static str {
    let Some(state) = state else { return "unknown" };
    match (&state.logging, &state.selectors) {
        (Observed::Known(false), _) => "not logging",
        (_, Observed::Known(sel)) => match (records(sel, &READ), records(sel, &WRITE)) {
            (true, true) => "records KMS reads and writes",
            (false, true) => "no KMS read events",
            (true, false) => "no KMS write events",
            (false, false) => "no KMS events",
        },
        _ => "unknown",
    }
}

impl Rule for CloudtrailKmsEventsNotLogged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let b = builder(&META, target).resource("cloudtrail");
        let trails = match target.trails.as_ref()? {
            Observed::Known(t) => t,
            Observed::Unknown(err) => return Some(b.error(format!("trails unreadable: {err}"))),
        };
        let covering: Vec<_> = trails.iter().filter(|t| t.covers(&target.region)).collect();
        if covering.is_empty() {
            return Some(b.fail("no CloudTrail trail covers this region"));
        }
        let (mut reads, mut writes, mut unknown) = (false, false, Vec::new());
        let mut notes = Vec::new();
        for t in &covering {
            let state = cx.inventory.trails.get(&t.arn);
            match contribution(state) {
                Ok((r, w)) => {
                    reads |= r;
                    writes |= w;
                    notes.push(format!("{}: {}", t.name, describe(state)));
                }
                Err(e) => unknown.push(format!("{}: {e}", t.name)),
            }
        }
        Some(if reads && writes {
            b.pass(format!("KMS events are recorded ({})", notes.join("; ")))
        } else if !unknown.is_empty() {
            b.error(format!("cannot tell: {}", unknown.join("; ")))
        } else {
            b.fail(format!(
                "no logging trail records KMS {} ({})",
                match (reads, writes) {
                    (false, true) => "read events such as Decrypt",
                    (true, false) => "write events",
                    _ => "events",
                },
                notes.join("; ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrailRef;
    use crate::rules::test_support::*;
    use crate::Status;

    fn basic(rw: &str, exclude_kms: bool) -> EventSelectors {
        EventSelectors::Basic(vec![BasicSelector {
            read_write_type: Some(rw.to_owned()),
            include_management_events: Some(true),
            exclude_management_event_sources: if exclude_kms {
                vec![KMS.to_owned()]
            } else {
                vec![]
            },
        }])
    }

    fn advanced(fields: Vec<FieldSelector>) -> EventSelectors {
        EventSelectors::Advanced(vec![AdvancedSelector { name: None, fields }])
    }

    fn field(name: &str, equals: &[&str], not_equals: &[&str]) -> FieldSelector {
        FieldSelector {
            field: name.to_owned(),
            equals: equals.iter().map(|s| (*s).to_owned()).collect(),
            not_equals: not_equals.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// A trail: name, home region, multi-region, logging, selectors.
    type TestTrail<'a> = (
        &'a str,
        &'a str,
        bool,
        Observed<bool>,
        Observed<EventSelectors>,
    );

    /// The rule's status for a region covered by `trails`.
    fn status(trails: Vec<TestTrail<'_>>) -> Status {
        let mut inv = none_config();
        let mut refs = Vec::new();
        for (name, home, multi, logging, selectors) in trails {
            let arn = format!("arn:aws:cloudtrail:{home}:{ACCOUNT}:trail/{name}");
            refs.push(TrailRef {
                arn: arn.clone(),
                name: name.to_owned(),
                home_region: home.to_owned(),
                multi_region: multi,
                organization: false,
            });
            inv.trails.insert(arn, TrailState { logging, selectors });
        }
        inv.targets[0].trails = Some(Observed::Known(refs));
        CloudtrailKmsEventsNotLogged
            .check_target(&inv.targets[0], &context(&inv, &DEFAULT_POLICY))
            .expect("finding")
            .status
    }

    const ON: Observed<bool> = Observed::Known(true);

    #[test]
    fn basic_selectors() {
        assert_eq!(
            status(vec![(
                "all",
                REGION,
                false,
                ON,
                Observed::Known(basic("All", false))
            )]),
            Status::Pass
        );
        assert_eq!(
            status(vec![(
                "w",
                "us-east-1",
                true,
                ON,
                Observed::Known(basic("WriteOnly", false))
            )]),
            Status::Fail
        );
        assert_eq!(
            status(vec![(
                "x",
                REGION,
                false,
                ON,
                Observed::Known(basic("All", true))
            )]),
            Status::Fail
        );
        // A read-only and a write-only trail together record both.
        assert_eq!(
            status(vec![
                (
                    "r",
                    REGION,
                    false,
                    ON,
                    Observed::Known(basic("ReadOnly", false))
                ),
                (
                    "w",
                    "us-east-1",
                    true,
                    ON,
                    Observed::Known(basic("WriteOnly", false))
                ),
            ]),
            Status::Pass
        );
        assert_eq!(
            status(vec![(
                "stopped",
                REGION,
                false,
                Observed::Known(false),
                Observed::Known(basic("All", false))
            )]),
            Status::Fail
        );
    }

    #[test]
    fn trails_of_other_regions_do_not_cover() {
        assert_eq!(
            status(vec![(
                "other",
                "us-east-1",
                false,
                ON,
                Observed::Known(basic("All", false))
            )]),
            Status::Fail
        );
        assert_eq!(status(vec![]), Status::Fail);
    }

    #[test]
    fn advanced_selectors() {
        let mgmt = field("eventCategory", &["Management"], &[]);
        assert_eq!(
            status(vec![(
                "a",
                REGION,
                false,
                ON,
                Observed::Known(advanced(vec![mgmt.clone()]))
            )]),
            Status::Pass
        );
        let writes_only = vec![mgmt.clone(), field("readOnly", &["false"], &[])];
        assert_eq!(
            status(vec![(
                "a",
                REGION,
                false,
                ON,
                Observed::Known(advanced(writes_only))
            )]),
            Status::Fail
        );
        let no_kms = vec![mgmt.clone(), field("eventSource", &[], &[KMS])];
        assert_eq!(
            status(vec![(
                "a",
                REGION,
                false,
                ON,
                Observed::Known(advanced(no_kms))
            )]),
            Status::Fail
        );
        let unknown_field = vec![mgmt, field("resources.type", &["AWS::KMS::Key"], &[])];
        assert_eq!(
            status(vec![(
                "a",
                REGION,
                false,
                ON,
                Observed::Known(advanced(unknown_field))
            )]),
            Status::Fail
        );
    }

    #[test]
    fn unreadable_trail_is_error_unless_another_passes() {
        let unreadable = Observed::Unknown(denied("cloudtrail:GetEventSelectors"));
        assert_eq!(
            status(vec![("u", REGION, false, ON, unreadable.clone())]),
            Status::Error
        );
        assert_eq!(
            status(vec![
                ("u", REGION, false, ON, unreadable),
                (
                    "all",
                    "us-east-1",
                    true,
                    ON,
                    Observed::Known(basic("All", false))
                ),
            ]),
            Status::Pass
        );
    }
}
