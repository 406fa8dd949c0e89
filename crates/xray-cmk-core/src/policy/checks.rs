//! Shape checks for the values of the policy file, and the wildcard matching of approved keys.
//! Each check returns the message to show next to the setting; none needs a regex engine.

use super::ACCOUNT_PLACEHOLDER;

/// A value of the policy file that does not pass its check: the message to show next to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct Invalid(pub(super) String);

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> String {
        invalid.0
    }
}

/// Longest alias name KMS accepts, `alias/` included.
const MAX_ALIAS_LEN: usize = 256;
/// Longest tag key AWS accepts.
const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value AWS accepts.
const MAX_TAG_VALUE_LEN: usize = 256;

pub(super) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn account_id(text: &str) -> Result<(), Invalid> {
    if is_account_id(text) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{text}` is not an AWS account id (12 digits)"
        )))
    }
}

/// A principal the key policy can name: `arn:<partition>:iam::<account>:root`, `…:role/<path/name>`
/// or `…:user/<path/name>`, the account being 12 digits or `{account}`.
pub(super) fn iam_principal(arn: &str) -> Result<(), Invalid> {
    if is_iam_principal(arn) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{arn}` is not an IAM principal ARN (expected \
             arn:aws:iam::<12-digit account or {ACCOUNT_PLACEHOLDER}>:role/<name>, user/<name> or root)"
        )))
    }
}

fn is_iam_principal(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    prefix == "arn"
        && is_partition(partition)
        && service == "iam"
        && region.is_empty()
        && (is_account_id(account) || account == ACCOUNT_PLACEHOLDER)
        && is_iam_resource(resource)
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`…: the partitions all start with `aws`.
fn is_partition(partition: &str) -> bool {
    partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b == b'-' || b.is_ascii_lowercase()))
}

fn is_iam_resource(resource: &str) -> bool {
    if resource == "root" {
        return true;
    }
    let Some(path_and_name) = resource
        .strip_prefix("role/")
        .or_else(|| resource.strip_prefix("user/"))
    else {
        return false;
    };
    // The characters IAM allows in names and paths; the name after the last `/` is mandatory.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
    !path_and_name.is_empty() && path_and_name.chars().all(allowed) && !path_and_name.ends_with('/')
}

/// A role the guardrail's SCP names in `aws:PrincipalArn`: an IAM principal ARN of a role. A
/// session's ARN (`sts::…:assumed-role/…`) never matches `aws:PrincipalArn`, which is the role's.
pub(super) fn iam_role(arn: &str) -> Result<(), Invalid> {
    let is_role = is_iam_principal(arn)
        && arn
            .splitn(6, ':')
            .nth(5)
            .is_some_and(|r| r.starts_with("role/"));
    if is_role {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{arn}` is not an IAM role ARN (expected \
             arn:aws:iam::<12-digit account or {ACCOUNT_PLACEHOLDER}>:role/<name>)"
        )))
    }
}

/// An SNS topic ARN, `arn:<partition>:sns:<region>:<account>:<name>`, the account 12 digits or
/// `{account}`; names are 1 to 256 letters, digits, `-` and `_` (a FIFO topic ends in `.fifo`).
pub(super) fn sns_topic_arn(arn: &str) -> Result<(), Invalid> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts[..] {
        [prefix, partition, service, region, account, name] => {
            let base = name.strip_suffix(".fifo").unwrap_or(name);
            prefix == "arn"
                && is_partition(partition)
                && service == "sns"
                && !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && (is_account_id(account) || account == ACCOUNT_PLACEHOLDER)
                && (1..=256).contains(&name.len())
                && !base.is_empty()
                && base
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{arn}` is not an SNS topic ARN (expected \
             arn:aws:sns:<region>:<12-digit account or {ACCOUNT_PLACEHOLDER}>:<topic name>)"
        )))
    }
}

/// The account of an IAM or KMS ARN, when it names a fixed one.
pub(super) fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| is_account_id(a))
}

/// An approved-list entry: a key ARN, an alias ARN or an alias name, any part possibly wildcarded.
pub(super) fn approved_key_pattern(pattern: &str) -> Result<(), Invalid> {
    let alias_name = pattern
        .strip_prefix("alias/")
        .is_some_and(|name| !name.is_empty());
    if alias_name || is_kms_arn_pattern(pattern) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{pattern}` is not a KMS key ARN, alias ARN or alias name \
             (expected arn:aws:kms:<region>:<account>:key/<id>, …:alias/<name> or alias/<name>)"
        )))
    }
}

fn is_kms_arn_pattern(pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [prefix, partition, service, _region, _account, resource] = parts[..] else {
        return false;
    };
    prefix == "arn"
        && (is_partition(partition) || partition == "*")
        && service == "kms"
        && ["key/", "alias/"]
            .iter()
            .any(|kind| resource.strip_prefix(kind).is_some_and(|id| !id.is_empty()))
}

/// The alias remediation creates: KMS rejects other characters, and `alias/aws/` is reserved for
/// AWS managed keys, so a bad alias would only fail later, in the middle of a remediation.
pub(super) fn remediation_alias(alias: &str) -> Result<(), Invalid> {
    let Some(name) = alias.strip_prefix("alias/") else {
        return Err(Invalid(format!("`{alias}` must start with `alias/`")));
    };
    if alias.starts_with("alias/aws/") {
        return Err(Invalid(format!(
            "`{alias}` is reserved: `alias/aws/` names AWS managed keys"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_-".contains(c);
    if name.is_empty() || alias.len() > MAX_ALIAS_LEN || !name.chars().all(allowed) {
        return Err(Invalid(format!(
            "`{alias}` is not a valid alias name (after `alias/`: 1 to {} letters, digits, `/`, `_` or `-`)",
            MAX_ALIAS_LEN - "alias/".len()
        )));
    }
    Ok(())
}

/// What AWS allows in a tag key or value besides Unicode letters, digits and spaces (the
/// "User-Defined Tag Restrictions" of the AWS Billing and Cost Management User Guide, which KMS's
/// `Tag` refers to).
const TAG_PUNCTUATION: &[char] = &['_', '.', ':', '/', '=', '+', '-', '@'];

/// The first character of `text` AWS does not allow in a tag, if any.
fn bad_tag_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        !(c.is_alphanumeric()
            || (c.is_whitespace() && !c.is_control())
            || TAG_PUNCTUATION.contains(&c))
    })
}

fn bad_char_message(what: &str, text: &str, c: char) -> String {
    format!(
        "`{}` has {} {}, which AWS does not allow in a tag {what} (letters, digits, spaces and `_ . : / = + - @`)",
        crate::text::shortened(text, 60),
        if c.is_control() || crate::text::acts_on_terminal(c) {
            "the control character"
        } else {
            "the character"
        },
        crate::text::for_terminal(&format!("`{c}` (U+{:04X})", u32::from(c)))
    )
}

/// A required tag key: one a user can actually set, or the rule could never pass.
pub(super) fn tag_key(key: &str) -> Result<(), Invalid> {
    let shown = crate::text::shortened(key, 60);
    if key.trim().is_empty() {
        Err(Invalid("a tag key must not be empty".to_owned()))
    } else if key.chars().count() > MAX_TAG_KEY_LEN {
        Err(Invalid(format!(
            "`{shown}` is longer than the {MAX_TAG_KEY_LEN} characters AWS allows in a tag key"
        )))
    } else if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        Err(Invalid(format!(
            "`{shown}` cannot be required: the `aws:` prefix is reserved for AWS"
        )))
    } else if let Some(c) = bad_tag_char(key) {
        Err(Invalid(bad_char_message("key", key, c)))
    } else {
        Ok(())
    }
}

/// A tag value remediation writes: KMS allows up to 256 characters, and an empty value would
/// still fail `kms-key-missing-tags`.
pub(super) fn tag_value(value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        Err(Invalid("a tag value must not be empty".to_owned()))
    } else if value.chars().count() > MAX_TAG_VALUE_LEN {
        Err(Invalid(format!(
            "longer than the {MAX_TAG_VALUE_LEN} characters AWS allows in a tag value"
        )))
    } else if let Some(c) = bad_tag_char(value) {
        Err(Invalid(bad_char_message("value", value, c)))
    } else if value == super::REVIEW_TAG_VALUE {
        Err(Invalid(format!(
            "`{value}` is what a plan writes for a value nobody chose; give the real value"
        )))
    } else {
        Ok(())
    }
}

pub(super) fn exemption_account(account: &str) -> Result<(), Invalid> {
    if account == "*" || is_account_id(account) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{account}` is not an AWS account id (12 digits) or `*`"
        )))
    }
}

pub(super) fn exemption_region(region: &str) -> Result<(), Invalid> {
    if region == "*" {
        return Ok(());
    }
    if crate::region::validate_region(region).is_ok() {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`{region}` is not a region name (like `eu-west-1`) or `*`"
        )))
    }
}

pub(super) fn exemption_rule(rule: &str, known_rules: &[&str]) -> Result<(), Invalid> {
    if known_rules.contains(&rule) {
        return Ok(());
    }
    let mut message = format!("unknown rule `{rule}`");
    match suggestion(rule, known_rules) {
        Some(close) => message.push_str(&format!(", did you mean `{close}`?")),
        None => message.push_str(&format!("; known rules: {}", known_rules.join(", "))),
    }
    Err(Invalid(message))
}

/// An exemption is an audit trail entry: the reason is what a reviewer reads a year later.
pub(super) fn exemption_reason(reason: &str) -> Result<(), Invalid> {
    if reason.trim().is_empty() {
        Err(Invalid("an exemption needs a reason".to_owned()))
    } else if let Some(c) = reason.chars().find(|&c| crate::text::acts_on_terminal(c)) {
        Err(Invalid(format!(
            "the reason has the control character U+{:04X}, which would act on the terminal that shows it; write it as plain text",
            u32::from(c)
        )))
    } else {
        Ok(())
    }
}

/// The closest candidate to a misspelt name, if it is close enough to be a typo.
pub(super) fn suggestion<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters, `/` and `:`
/// included, and everything else matches itself exactly (ARNs and aliases are case-sensitive).
pub(super) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much text it has swallowed so far: on a mismatch, let it
    // swallow one more byte and retry. Greedy backtracking to the last star is enough for `*`-only
    // patterns and stays linear in practice.
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star, swallowed)) => {
                    last_star = Some((star, swallowed + 1));
                    p = star + 1;
                    t = swallowed + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_principals() {
        for ok in [
            "arn:aws:iam::111122223333:role/KeyAdmin",
            "arn:aws:iam::{account}:role/service-role/Trace.Reader@x",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:root",
            "arn:aws-us-gov:iam::111122223333:role/R",
            "arn:aws-cn:iam::{account}:root",
        ] {
            assert!(iam_principal(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "KeyAdmin",
            "arn:aws:iam::11112222333:role/R",
            "arn:aws:iam::{acount}:role/R",
            "arn:aws:iam:us-east-1:111122223333:role/R",
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam::111122223333:group/G",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a b",
            "arn:aws:iam::111122223333:role/*",
            "arn:gcp:iam::111122223333:role/R",
            "arn:aws:iam::111122223333",
        ] {
            assert!(iam_principal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guard_roles_and_topics() {
        assert!(iam_role("arn:aws:iam::{account}:role/path/XrayCmkAutomation").is_ok());
        assert!(iam_role("arn:aws-us-gov:iam::111122223333:role/R").is_ok());
        for bad in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:root",
            "arn:aws:sts::111122223333:assumed-role/R/s",
        ] {
            assert!(iam_role(bad).is_err(), "{bad}");
        }
        for ok in [
            "arn:aws:sns:us-east-1:111122223333:alerts",
            "arn:aws:sns:eu-west-1:{account}:security_alerts-1",
            "arn:aws:sns:us-east-1:111122223333:alerts.fifo",
        ] {
            assert!(sns_topic_arn(ok).is_ok(), "{ok}");
        }
        for bad in [
            "arn:aws:sns::111122223333:alerts",
            "arn:aws:sns:us-east-1:111122223333:",
            "arn:aws:sns:us-east-1:111122223333:a b",
            "arn:aws:sqs:us-east-1:111122223333:alerts",
            "arn:aws:sns:us-east-1:{acct}:alerts",
        ] {
            assert!(sns_topic_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn approved_patterns() {
        for ok in [
            "alias/xray-cmk-*",
            "alias/xray",
            "arn:aws:kms:us-east-1:{account}:key/*",
            "arn:aws:kms:*:111122223333:alias/xray-cmk",
            "arn:*:kms:*:*:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(approved_key_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "*",
            "alias/",
            "xray-cmk",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:iam::111122223333:role/R",
        ] {
            assert!(approved_key_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remediation_aliases() {
        assert!(remediation_alias("alias/xray-cmk").is_ok());
        assert!(remediation_alias("alias/team/xray_cmk-1").is_ok());
        for bad in [
            "xray-cmk",
            "alias/",
            "alias/aws/xray",
            "alias/x ray",
            "alias/x*",
        ] {
            assert!(remediation_alias(bad).is_err(), "{bad}");
        }
        assert!(remediation_alias(&format!("alias/{}", "a".repeat(250))).is_ok());
        assert!(remediation_alias(&format!("alias/{}", "a".repeat(251))).is_err());
    }

    #[test]
    fn tag_keys() {
        assert!(tag_key("owner").is_ok());
        assert!(tag_key(" ").is_err());
        assert!(tag_key("aws:cloudformation:stack-name").is_err());
        assert!(tag_key(&"k".repeat(129)).is_err());
    }

    #[test]
    fn exemption_fields() {
        assert!(exemption_account("*").is_ok());
        assert!(exemption_account("444455556666").is_ok());
        assert!(exemption_account("4444-5555-6666").is_err());
        assert!(exemption_region("*").is_ok());
        assert!(exemption_region("eu-west-1").is_ok());
        assert!(exemption_region("europe").is_err());
        assert!(exemption_reason("  ").is_err());
        assert_eq!(
            exemption_rule("xray-aws-manged-key", &["xray-aws-managed-key", "other"]),
            Err(Invalid(
                "unknown rule `xray-aws-manged-key`, did you mean `xray-aws-managed-key`?".into()
            ))
        );
        assert_eq!(
            exemption_rule("nope", &["a-rule", "b-rule"]),
            Err(Invalid(
                "unknown rule `nope`; known rules: a-rule, b-rule".into()
            ))
        );
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["max_period_days"];
        assert_eq!(suggestion("max_perod_days", &keys), Some("max_period_days"));
        assert_eq!(suggestion("days", &keys), None);
        assert_eq!(suggestion("tag", &["tags", "keys"]), Some("tags"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("alias/xray-cmk-*", "alias/xray-cmk-good"));
        assert!(wildcard_match("alias/xray-cmk-*", "alias/xray-cmk-"));
        assert!(!wildcard_match("alias/xray-cmk-*", "alias/xray-cmk"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "axxbyybzzc"));
        assert!(!wildcard_match("a*b*c", "axxbyybzz"));
        assert!(wildcard_match(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:eu-west-1:111122223333:key/abc"
        ));
        assert!(!wildcard_match("alias/XRAY", "alias/xray"));
        assert!(!wildcard_match("alias/x", "alias/xy"));
    }

    proptest::proptest! {
        #[test]
        fn a_text_matches_itself_and_star(text in "[a-z/:*-]{0,20}") {
            let literal = text.replace('*', "");
            proptest::prop_assert!(wildcard_match(&literal, &literal));
            proptest::prop_assert!(wildcard_match("*", &text));
            let (prefix, text_with_tail) = (format!("{literal}*"), format!("{literal}tail"));
            proptest::prop_assert!(wildcard_match(&prefix, &text_with_tail));
        }
    }
}
