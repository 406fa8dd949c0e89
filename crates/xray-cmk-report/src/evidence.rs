//! `xray-cmk evidence`: one key's evidence as a JSON document (what the history records and the
//! HTML report shows), a CSV of its events, or a table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};
use xray_cmk_core::evidence::Evidence;

/// The evidence document.
pub fn document(ev: &Evidence) -> Value {
    let principals: Vec<Value> = ev
        .by_principal
        .iter()
        .map(|(p, u)| {
            json!({
                "principal": p, "events": u.events, "event_names": u.event_names,
                "in_policy_access_lists": u.in_policy_access_lists,
            })
        })
        .collect();
    let rotation = &ev.rotation;
    json!({
        "key": ev.key.arn, "account": ev.key.account, "region": ev.key.region, "days": ev.days,
        "key_state": ev.key.state, "aliases": ev.key.aliases,
        "events": ev.events.iter().map(|e| json!({
            "time": e.time, "event": e.name, "principal": e.principal, "source_ip": e.source_ip,
        })).collect::<Vec<_>>(),
        "by_principal": principals,
        "by_event": ev.by_event,
        "by_day": ev.by_day,
        "rotation": {
            "enabled": rotation.enabled, "period_days": rotation.period_days,
            "last_rotation": rotation.rotations.last(), "next_rotation": rotation.next_rotation,
            "rotations": rotation.rotations,
        },
        "key_policy": ev.key_policy,
        "tags": ev.tags.iter().cloned().collect::<BTreeMap<_, _>>(),
    })
}

/// The JSON document, pretty-printed, with a final newline.
pub fn json(ev: &Evidence) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(&document(ev)).unwrap_or_default()
    )
}

/// One row per event, through the one CSV writer.
pub fn csv(ev: &Evidence) -> String {
    let mut out = crate::csv::record(&[
        "time",
        "event",
        "principal",
        "source_ip",
        "in_policy_access_lists",
    ]);
    for e in &ev.events {
        out.push_str(&crate::csv::record(&[
            e.time.as_str(),
            e.name.as_str(),
            e.principal.as_str(),
            e.source_ip.as_deref().unwrap_or(""),
            if ev.in_policy_access_lists(&e.principal) {
                "true"
            } else {
                "false"
            },
        ]));
    }
    out
}

/// The table for people.
pub fn table(ev: &Evidence) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Evidence for {} ({}), last {} days",
        ev.key.arn, ev.key.state, ev.days
    );
    let _ = writeln!(out, "\nKey use by principal ({} events):", ev.events.len());
    for (p, u) in &ev.by_principal {
        let flag = if u.in_policy_access_lists {
            ""
        } else {
            "  ⚠ not in the policy file's access lists"
        };
        let names: Vec<&str> = u.event_names.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  {:>5}  {p}  ({}){flag}", u.events, names.join(", "));
    }
    let _ = writeln!(out, "\nBy event:");
    for (e, n) in &ev.by_event {
        let _ = writeln!(out, "  {n:>5}  {e}");
    }
    let _ = writeln!(out, "\nBy day:");
    for (d, n) in &ev.by_day {
        let _ = writeln!(out, "  {n:>5}  {d}");
    }
    let rotation = &ev.rotation;
    let _ = writeln!(
        out,
        "\nRotation: {} · period {} · last {} · next {}",
        if rotation.enabled { "on" } else { "OFF" },
        rotation
            .period_days
            .map_or("-".to_owned(), |d| format!("{d} days")),
        rotation.rotations.last().map_or("never", String::as_str),
        rotation.next_rotation.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "\nKey policy now:");
    for s in &ev.key_policy {
        let _ = writeln!(out, "  {s}");
    }
    let tags: Vec<String> = ev.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "\nTags now: {}",
        if tags.is_empty() {
            "none".to_owned()
        } else {
            tags.join(", ")
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use xray_cmk_core::evidence::{aggregate, Collected, EvidenceKey, KeyEvent, RotationEvidence};

    fn evidence(principal: &str, source_ip: Option<&str>) -> xray_cmk_core::evidence::Evidence {
        aggregate(
            Collected {
                key: EvidenceKey {
                    arn: "arn:aws:kms:eu-west-1:111122223333:key/k1".into(),
                    account: "111122223333".into(),
                    region: "eu-west-1".into(),
                    state: "Enabled".into(),
                    aliases: vec!["alias/x".into()],
                },
                days: 1,
                events: vec![KeyEvent {
                    time: "2026-12-02T10:00:00Z".into(),
                    name: "Decrypt".into(),
                    principal: principal.into(),
                    source_ip: source_ip.map(str::to_owned),
                }],
                rotation: RotationEvidence {
                    enabled: false,
                    period_days: None,
                    next_rotation: None,
                    rotations: vec![],
                },
                key_policy: String::new(),
                tags: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            },
            vec!["xray.amazonaws.com".into()],
        )
    }

    #[test]
    fn the_csv_of_plain_events_is_as_before() {
        let ev = evidence("xray.amazonaws.com", Some("10.0.0.1"));
        assert_eq!(
            super::csv(&ev),
            "time,event,principal,source_ip,in_policy_access_lists\r\n\
             2026-12-02T10:00:00Z,Decrypt,xray.amazonaws.com,10.0.0.1,true\r\n"
        );
    }

    #[test]
    fn a_hostile_principal_or_address_is_escaped_in_the_csv() {
        // CloudTrail's userIdentity and sourceIPAddress are whatever the caller's request
        // carried: a spreadsheet must not run them.
        let ev = evidence("=cmd|' /C calc'!A0", Some("@SUM(1,2)"));
        let csv = super::csv(&ev);
        let row = csv.lines().nth(1).expect("a row");
        assert_eq!(
            row,
            "2026-12-02T10:00:00Z,Decrypt,'=cmd|' /C calc'!A0,\"'@SUM(1,2)\",false"
        );
    }

    #[test]
    fn the_table_keeps_the_tags_in_kms_order() {
        let ev = evidence("xray.amazonaws.com", None);
        let table = super::table(&ev);
        assert!(table.contains("\nTags now: b=2, a=1\n"), "{table}");
        let doc = super::document(&ev);
        assert_eq!(doc["tags"], serde_json::json!({"a": "1", "b": "2"}));
        assert_eq!(
            doc["by_principal"][0]["event_names"],
            serde_json::json!(["Decrypt"])
        );
    }
}
