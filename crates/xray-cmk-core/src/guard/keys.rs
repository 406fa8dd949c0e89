//! The approved key ARNs: the `--key-arns FILE` format, and the [`KeyArn`] type.
//!
//! One ARN per line; blank lines and `#` comments (whole-line or trailing) are ignored. Aliases
//! (`alias/…` or alias ARNs) are refused with their line: AWS Config records the key ARN X-Ray
//! resolved, so an alias in the list would never match and would make every account non-compliant.

use super::GuardError;

/// A KMS key ARN, `arn:<partition>:kms:<region>:<12-digit account>:key/<key id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyArn(String);

impl KeyArn {
    /// The ARN, or why it is not a key ARN. `source_name` and `line` are for the message.
    pub fn parse(text: &str, source_name: &str, line: usize) -> Result<KeyArn, GuardError> {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let is_alias = text.starts_with("alias/")
            || matches!(parts[..], [_, _, "kms", _, _, resource] if resource.starts_with("alias/"));
        if is_alias {
            return Err(GuardError::Alias {
                source_name: source_name.to_owned(),
                line,
                value: text.to_owned(),
            });
        }
        let ok = match parts[..] {
            ["arn", partition, "kms", region, account, resource] => {
                partition.starts_with("aws")
                    && partition
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-')
                    && !region.is_empty()
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && resource.strip_prefix("key/").is_some_and(|id| {
                        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }
            _ => false,
        };
        if ok {
            Ok(KeyArn(text.to_owned()))
        } else {
            Err(GuardError::NotKeyArn {
                source_name: source_name.to_owned(),
                line,
                value: text.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn partition(&self) -> &str {
        self.0.split(':').nth(1).unwrap_or_default()
    }
}

impl std::fmt::Display for KeyArn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key ARNs of a `--key-arns` file's text, distinct, in file order; `source_name` names it in
/// messages. An empty list is an error: the guardrail would fail everywhere.
pub fn parse_key_arns(text: &str, source_name: &str) -> Result<Vec<KeyArn>, GuardError> {
    let mut keys: Vec<KeyArn> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let value = line.split('#').next().unwrap_or_default().trim();
        if value.is_empty() {
            continue;
        }
        let key = KeyArn::parse(value, source_name, index + 1)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(GuardError::NoKeys);
    }
    Ok(keys)
}
