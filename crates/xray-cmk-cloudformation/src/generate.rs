//! `xray-cmk iac generate --format cloudformation`: one template that makes X-Ray encrypt with a
//! customer managed key and keeps it there, the CloudFormation way.
//!
//! CloudFormation has no resource for X-Ray's encryption, so the template holds
//! - the symmetric key, with the least-privilege key policy `plan` gives a new key
//!   ([`xray_cmk_core::remediation::key_policy::generate`]), rotation every
//!   `[rotation] max_period_days`, the policy's tags, and `Retain` on delete and replace (a key
//!   deleted with its stack would make every trace it encrypted unreadable);
//! - its alias, the policy's `[keys] alias`;
//! - the guardrail's AWS Config rule `xray-cmk-encryption`, whose only approved key is this one,
//!   and its *automatic* remediation `AWSConfigRemediation-UpdateXRayKMSKey` to this key
//!   ([`xray_cmk_core::guard::key_guardrail_resources`]): once deployed, Config finds X-Ray on the
//!   default and the runbook puts it on the key, then again after every drift.
//!
//! The account, region and partition are CloudFormation's pseudo parameters (`!Sub`), so one
//! template deploys anywhere. `xray-cmk iac scan` finds it clean: a test holds it to that.

use std::fmt::Write as _;

use serde_json::Value;
use xray_cmk_core::remediation::key_policy;
use xray_cmk_core::remediation::plan::{tags_for, ALIAS_TAG, MANAGED_BY_TAG};
use xray_cmk_core::OrgPolicy;

/// What the key policy is generated for; every occurrence becomes `${AWS::AccountId}` and
/// `${AWS::Region}`. Neither can appear in a policy file (`\u{1}` is refused in ARNs), so a
/// literal account or region the policy names is left as it is.
const ACCOUNT_MARK: &str = "\u{1}account\u{1}";
const REGION_MARK: &str = "\u{1}region\u{1}";

/// The logical id of the key, which the guardrail's rule and remediation name.
pub const KEY_LOGICAL_ID: &str = "XrayCmkKey";

/// YAML single-quoted scalar.
fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A string of the key policy: plain, or `!Sub` when it names this stack's account or region
/// (with any literal `${` kept literal, as `Fn::Sub` writes it: `${!`).
fn scalar(s: &str) -> String {
    if !s.contains(ACCOUNT_MARK) && !s.contains(REGION_MARK) {
        return q(s);
    }
    let sub = s
        .replace("${", "${!")
        .replace(ACCOUNT_MARK, "${AWS::AccountId}")
        .replace(REGION_MARK, "${AWS::Region}");
    format!("!Sub {}", q(&sub))
}

/// A JSON value as block YAML at `indent` spaces (after a `key:` that the caller wrote).
fn yaml(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| (rank(k), k.as_str()));
            for (k, v) in entries {
                let k = key(k);
                match v {
                    Value::Object(_) => {
                        let _ = writeln!(out, "{pad}{k}:");
                        yaml(out, v, indent + 2);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        yaml(out, v, indent + 2);
                    }
                    other => {
                        let _ = writeln!(out, "{pad}{k}: {}", inline(other));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) => {
                        // The first key on the dash's line, the others under it.
                        let mut inner = String::new();
                        yaml(&mut inner, item, indent + 2);
                        let inner = inner.trim_start_matches(' ');
                        let _ = write!(out, "{pad}- {inner}");
                    }
                    other => {
                        let _ = writeln!(out, "{pad}- {}", inline(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", inline(other));
        }
    }
}

/// The order a policy is read in: version and id, then each statement's id, effect, who, what,
/// where and when; anything else after, alphabetically.
fn rank(key: &str) -> usize {
    const ORDER: [&str; 9] = [
        "Version",
        "Id",
        "Statement",
        "Sid",
        "Effect",
        "Principal",
        "Action",
        "Resource",
        "Condition",
    ];
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// A mapping key: plain when it is a policy name (`kms:ViaService`), quoted otherwise.
fn key(k: &str) -> String {
    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '/'));
    if plain {
        k.to_owned()
    } else {
        q(k)
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// The template. Tags the policy requires without giving a value are written `REVIEW`, as in
/// the Terraform module.
pub fn template(policy: &OrgPolicy) -> String {
    let root = format!("arn:aws:iam::{ACCOUNT_MARK}:root");
    let doc = key_policy::generate(policy, ACCOUNT_MARK, REGION_MARK, &root);
    let mut tags = tags_for(policy, Some(&policy.keys.alias));
    tags.remove(ALIAS_TAG);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "AWSTemplateFormatVersion: '2010-09-09'\n\
         Description: >-\n  \
         X-Ray trace encryption with a customer managed KMS key, kept there by AWS Config.\n  \
         Generated by xray-cmk iac generate --format cloudformation from the organization policy\n  \
         file (alias, tags, rotation period, key policy principals). Needs AWS Config recording\n  \
         AWS::XRay::EncryptionConfig in the account-region. xray-cmk iac scan passes it.\n"
    );
    let _ = writeln!(t, "Resources:");
    let _ = writeln!(t, "  {KEY_LOGICAL_ID}:");
    let _ = writeln!(t, "    Type: AWS::KMS::Key");
    let _ = writeln!(t, "    DeletionPolicy: Retain");
    let _ = writeln!(t, "    UpdateReplacePolicy: Retain");
    let _ = writeln!(t, "    Properties:");
    let _ = writeln!(
        t,
        "      Description: X-Ray trace encryption (managed by xray-cmk policy)"
    );
    let _ = writeln!(t, "      KeySpec: SYMMETRIC_DEFAULT");
    let _ = writeln!(t, "      KeyUsage: ENCRYPT_DECRYPT");
    let _ = writeln!(t, "      Enabled: true");
    let _ = writeln!(t, "      EnableKeyRotation: true");
    let _ = writeln!(
        t,
        "      RotationPeriodInDays: {}",
        policy.rotation.max_period_days
    );
    let _ = writeln!(t, "      PendingWindowInDays: 30");
    let _ = writeln!(t, "      KeyPolicy:");
    yaml(&mut t, &doc, 8);
    if !tags.is_empty() {
        let _ = writeln!(t, "      Tags:");
        for (k, v) in &tags {
            let v = if k == MANAGED_BY_TAG.0 {
                MANAGED_BY_TAG.1
            } else {
                v
            };
            let _ = writeln!(t, "        - Key: {}\n          Value: {}", q(k), q(v));
        }
    }
    let _ = writeln!(t, "  XrayCmkKeyAlias:");
    let _ = writeln!(t, "    Type: AWS::KMS::Alias");
    let _ = writeln!(t, "    Properties:");
    let _ = writeln!(t, "      AliasName: {}", q(&policy.keys.alias));
    let _ = writeln!(t, "      TargetKeyId: !Ref {KEY_LOGICAL_ID}");
    t.push_str(&xray_cmk_core::guard::key_guardrail_resources(
        KEY_LOGICAL_ID,
    ));
    let _ = writeln!(t, "\nOutputs:");
    let _ = writeln!(t, "  KeyArn:\n    Value: !GetAtt {KEY_LOGICAL_ID}.Arn");
    let _ = writeln!(t, "  Alias:\n    Value: !Ref XrayCmkKeyAlias");
    let _ = writeln!(
        t,
        "  ConfigRuleName:\n    Value: !Ref XrayCmkEncryptionRule"
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_naming_the_stack_are_sub_and_literal_dollar_braces_stay_literal() {
        assert_eq!(scalar("kms:*"), "'kms:*'");
        assert_eq!(
            scalar(&format!("arn:aws:iam::{ACCOUNT_MARK}:role/a${{b}}'c")),
            "!Sub 'arn:aws:iam::${AWS::AccountId}:role/a${!b}''c'"
        );
        assert_eq!(
            scalar(&format!("xray.{REGION_MARK}.amazonaws.com")),
            "!Sub 'xray.${AWS::Region}.amazonaws.com'"
        );
    }

    #[test]
    fn nested_values_are_block_yaml() {
        let mut out = String::new();
        let v = serde_json::json!({"Statement": [{"Sid": "A", "Principal": {"AWS": ["x", "y"]}, "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}], "Empty": [], "a b": 1});
        yaml(&mut out, &v, 2);
        assert_eq!(
            out,
            "  Statement:\n    - Sid: 'A'\n      Principal:\n        AWS:\n          - 'x'\n          - 'y'\n      Condition:\n        Bool:\n          kms:GrantIsForAWSResource: 'true'\n  Empty: []\n  'a b': 1\n"
        );
    }
}
