//! `xray-cmk debug decide-key-policy` end to end: the binary decides JSON Lines cases from stdin,
//! one answer per line, and stays out of `--help`.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::bare_xray_cmk;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/XrayWriter";

fn policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EnableIam", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Writer", "Effect": "Allow", "Principal": {"AWS": ROLE},
             "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": "xray.us-east-1.amazonaws.com"}}},
            {"Sid": "NoPolicyEdits", "Effect": "Deny", "Principal": "*",
             "Action": "kms:PutKeyPolicy", "Resource": "*",
             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
            {"Sid": "Odd", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": "kms:DescribeKey", "Resource": "*",
             "Condition": {"BinaryEquals": {"aws:UserAgent": "QUJD"}}}
        ]
    })
}

/// Runs the binary on `cases` (one JSON value per line) and returns its answers.
fn decide(input: &str) -> Vec<Value> {
    let mut child = bare_xray_cmk()
        .args(["debug", "decide-key-policy"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xray-cmk");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("run xray-cmk");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every answer is one JSON line"))
        .collect()
}

fn case(id: u32, principal: &str, action: &str, context: Value) -> String {
    json!({"id": id, "policy": policy(), "principal": principal, "action": action,
           "context": context})
    .to_string()
}

#[test]
fn every_decision_kind_one_line_each_in_order() {
    let session = "arn:aws:sts::111122223333:assumed-role/XrayWriter/s1";
    let via_xray = json!({"kms:ViaService": ["xray.us-east-1.amazonaws.com"]});
    let lines = [
        case(1, session, "kms:Decrypt", via_xray.clone()),
        case(
            2,
            "arn:aws:iam::111122223333:user/alice",
            "kms:Decrypt",
            json!({}),
        ),
        case(
            3,
            ROLE,
            "kms:PutKeyPolicy",
            json!({"aws:MultiFactorAuthPresent": ["false"]}),
        ),
        case(
            4,
            "arn:aws:iam::444455556666:root",
            "kms:Decrypt",
            json!({}),
        ),
        case(5, "xray.amazonaws.com", "kms:DescribeKey", json!({})),
        // The policy as a JSON string, which does not parse as a policy.
        json!({"id": 6, "policy": "{\"Statement\": 3}", "principal": ROLE, "action": "kms:Decrypt",
               "context": {}})
        .to_string(),
        "{\"id\": 7, \"policy\": ".to_string(),
    ];
    let got = decide(&(lines.join("\n") + "\n"));
    let summary: Vec<(Value, Value)> = got
        .iter()
        .map(|a| (a["id"].clone(), a["decision"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!(1), json!("allowed")),
            (json!(2), json!("delegated")),
            (json!(3), json!("explicit_deny")),
            (json!(4), json!("not_allowed")),
            (json!(5), json!("undetermined")),
            (json!(6), json!("invalid")),
            (Value::Null, json!("invalid")),
        ]
    );
    assert_eq!(got[0]["sid"], "Writer");
    assert_eq!(got[1]["account"], ACCOUNT);
    assert_eq!(got[1]["sid"], "EnableIam");
    assert_eq!(got[2]["sid"], "NoPolicyEdits");
    assert!(got[4]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("BinaryEquals")));
    assert!(got[6]["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("input line 7:")));
}

#[test]
fn no_input_no_output_and_hidden_from_help() {
    assert!(decide("").is_empty());
    let help = bare_xray_cmk().arg("--help").output().expect("run --help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("evidence"), "{help}");
    assert!(!help.contains("debug"), "{help}");
}
