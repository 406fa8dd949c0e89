use serde_json::Value;

use super::*;

/// The documented cases, shared with the end-to-end test that compares them with the emulator's
/// `events:TestEventPattern`.
const CASES: &str = include_str!("../../tests/fixtures/event_patterns.json");

fn event_of(envelope: &Value, partial: &Value) -> Value {
    let mut event = envelope.clone();
    if let (Some(e), Some(p)) = (event.as_object_mut(), partial.as_object()) {
        for (k, v) in p {
            e.insert(k.clone(), v.clone());
        }
    }
    event
}

#[test]
fn the_documented_cases() {
    let doc: Value = serde_json::from_str(CASES).expect("fixture");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() > 40);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let event = event_of(&doc["envelope"], &case["event"]);
        let got = matches_value(&case["pattern"], &event);
        match case.get("matches").and_then(Value::as_bool) {
            Some(want) => assert_eq!(got, Ok(want), "{name}"),
            None => assert!(got.is_err(), "{name}: {got:?}"),
        }
    }
}

#[test]
fn the_guardrails_pattern_matches_every_put_encryption_config() {
    let pattern = r#"{"source":["aws.xray"],"detail-type":["AWS API Call via CloudTrail"],
        "detail":{"eventSource":["xray.amazonaws.com"],"eventName":["PutEncryptionConfig"]}}"#;
    for event in put_encryption_config_events("111122223333", "eu-west-1") {
        assert_eq!(matches(pattern, &event), Ok(true), "{event}");
    }
    let only_none = r#"{"source":["aws.xray"],"detail":{"requestParameters":{"type":["NONE"]}}}"#;
    let results: Vec<bool> = put_encryption_config_events("111122223333", "eu-west-1")
        .iter()
        .map(|e| matches(only_none, e).expect("valid"))
        .collect();
    assert_eq!(results, [true, false, false]);
}

#[test]
fn fields_in_arrays_of_objects_are_flattened() {
    let event = serde_json::json!({"a": [{"b": "x"}, {"b": ["y", "z"]}]});
    assert_eq!(matches(r#"{"a":{"b":["z"]}}"#, &event), Ok(true));
    assert_eq!(matches(r#"{"a":{"b":["w"]}}"#, &event), Ok(false));
}

#[test]
fn wildcards_and_escapes() {
    assert!(wildcard("a*c", "abbbc"));
    assert!(wildcard("*", ""));
    assert!(!wildcard("a*c", "abd"));
    assert!(wildcard(r"a\*c", "a*c"));
    assert!(!wildcard(r"a\*c", "abc"));
}

#[test]
fn malformed_patterns_are_errors() {
    for bad in [
        "[]",
        "{}",
        "not json",
        r#"{"a":[[1]]}"#,
        r#"{"a":[{"numeric":[">"]}]}"#,
        r#"{"$or":[{"a":["x"]}]}"#,
    ] {
        assert!(matches(bad, &serde_json::json!({})).is_err(), "{bad}");
    }
}
