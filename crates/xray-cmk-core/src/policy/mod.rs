//! The organization policy file, `xray-cmk.toml`: parsing, validation with locations, defaults.
//!
//! The policy says what the organization expects of the keys behind X-Ray encryption: how often
//! they rotate, which tags they carry, which keys are approved, who may administer and use them,
//! and which findings are knowingly accepted for a while (exemptions). Everything is optional and
//! defaults to [`OrgPolicy::default`]; unknown settings are errors, so a typo cannot silently
//! leave a default in force.
//!
//! The module is pure: the caller reads the file and passes its text and name, and passes today's
//! date when asking about exemptions.

mod checks;
mod date;
mod error;
mod parse;
mod template;

use std::ops::RangeInclusive;

pub use date::{Date, InvalidDate};
pub use error::{PolicyError, PolicyErrors};
pub use template::DEFAULT_POLICY_TOML;

/// Replaced by the id of each audited account in access lists and approved keys.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";
/// The rotation periods KMS accepts, in days.
pub const ROTATION_PERIOD_DAYS: RangeInclusive<u32> = 90..=2560;
/// The rotation period KMS uses when none is given, and the policy's default maximum.
pub const DEFAULT_MAX_ROTATION_PERIOD_DAYS: u32 = 365;
/// The alias remediation creates unless the policy names another.
pub const DEFAULT_ALIAS: &str = "alias/xray-cmk";

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgPolicy {
    pub rotation: RotationPolicy,
    pub tags: TagPolicy,
    pub keys: KeyPolicyRules,
    pub access: AccessPolicy,
    pub exemptions: Vec<Exemption>,
    pub guard: GuardPolicy,
}

/// `[rotation]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Longest acceptable automatic rotation period, within [`ROTATION_PERIOD_DAYS`].
    pub max_period_days: u32,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            max_period_days: DEFAULT_MAX_ROTATION_PERIOD_DAYS,
        }
    }
}

/// `[tags]`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagPolicy {
    /// Tag keys every X-Ray key must carry; distinct and non-empty.
    pub required: Vec<String>,
    /// The values remediation gives tags it adds (`[tags] values`), by tag key. A required tag
    /// without a value here is planned as [`REVIEW_TAG_VALUE`] and `apply` refuses it.
    pub values: std::collections::BTreeMap<String, String>,
}

/// The value a plan gives a required tag whose value the policy file does not set.
pub const REVIEW_TAG_VALUE: &str = "REVIEW";

/// `[keys]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicyRules {
    /// Key ARNs, alias ARNs or alias names, with `*` wildcards and [`ACCOUNT_PLACEHOLDER`].
    /// Empty means there is no approved list.
    pub approved: Vec<String>,
    /// The alias remediation creates.
    pub alias: String,
}

impl Default for KeyPolicyRules {
    fn default() -> Self {
        KeyPolicyRules {
            approved: Vec::new(),
            alias: DEFAULT_ALIAS.to_owned(),
        }
    }
}

/// `[access]`: IAM principal ARNs, possibly with [`ACCOUNT_PLACEHOLDER`] in the account field
/// (except `cross_account_readers`, which name fixed accounts), and account ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessPolicy {
    pub key_admins: Vec<String>,
    pub xray_admins: Vec<String>,
    pub trace_readers: Vec<String>,
    pub cross_account_readers: Vec<String>,
    /// Accounts besides the key's own that may appear in key policies.
    pub trusted_accounts: Vec<String>,
}

/// `[guard]`: who the guardrail (`xray-cmk guard generate`) lets change X-Ray's encryption and the
/// keys, where it alerts, and whether AWS Config puts X-Ray back by itself. Role ARNs may name
/// [`ACCOUNT_PLACEHOLDER`] as the account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuardPolicy {
    /// Roles that may call `xray:PutEncryptionConfig` (pipelines, `xray-cmk apply`).
    pub automation_roles: Vec<String>,
    /// Roles that may also disable, delete or re-policy the managed keys, for emergencies.
    pub break_glass_roles: Vec<String>,
    /// An existing SNS topic for the alerts; `None`: the guardrail creates one.
    pub alert_topic_arn: Option<String>,
    /// Whether AWS Config switches a non-compliant X-Ray back to the approved key by itself.
    pub auto_remediate: bool,
}

/// One `[[exemptions]]` entry: a rule knowingly accepted for matching targets until a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// A 12-digit account id or `*`.
    pub account: String,
    /// A region name or `*`.
    pub region: String,
    pub rule: String,
    pub reason: String,
    /// The last day the exemption applies.
    pub expires: Date,
    /// The line of its `[[exemptions]]` header, to point at it in messages.
    pub line: usize,
}

impl Exemption {
    pub fn matches(&self, account: &str, region: &str, rule: &str) -> bool {
        let field = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        self.rule == rule && field(&self.account, account) && field(&self.region, region)
    }

    /// Whether it still applies on `today`; it does on its expiry day itself.
    pub fn is_active(&self, today: Date) -> bool {
        self.expires >= today
    }
}

/// What [`OrgPolicy::exemption_for`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExemptionMatch<'a> {
    /// A matching exemption applies today.
    Active(&'a Exemption),
    /// Matching exemptions exist but all have expired; the finding stands, and the report can
    /// say so.
    Expired(&'a Exemption),
    None,
}

impl OrgPolicy {
    /// Parses and validates the text of a policy file. `file` is the name used in error messages;
    /// `known_rules` are the rule ids exemptions may name. Every problem is reported, except
    /// that a TOML syntax error stops before the settings are checked.
    pub fn parse(
        source: &str,
        file: &str,
        known_rules: &[&str],
    ) -> Result<OrgPolicy, PolicyErrors> {
        parse::parse(source, file, known_rules)
    }

    /// `template` with [`ACCOUNT_PLACEHOLDER`] replaced by `account`.
    pub fn resolve(template: &str, account: &str) -> String {
        template.replace(ACCOUNT_PLACEHOLDER, account)
    }

    pub fn key_admins_for(&self, account: &str) -> Vec<String> {
        resolve_all(&self.access.key_admins, account)
    }

    pub fn xray_admins_for(&self, account: &str) -> Vec<String> {
        resolve_all(&self.access.xray_admins, account)
    }

    pub fn trace_readers_for(&self, account: &str) -> Vec<String> {
        resolve_all(&self.access.trace_readers, account)
    }

    /// Whether a key is on the approved list, for the audited `account`: some entry matches its ARN,
    /// one of its alias names (`alias/…`) or one of their alias ARNs. `None` when the policy has
    /// no approved list, so callers can tell "not approved" from "nothing to check".
    pub fn is_approved(&self, key_arn: &str, aliases: &[String], account: &str) -> Option<bool> {
        if self.keys.approved.is_empty() {
            return None;
        }
        let alias_arns: Vec<String> = aliases.iter().map(|a| alias_arn(key_arn, a)).collect();
        let names = std::iter::once(key_arn)
            .chain(aliases.iter().map(String::as_str))
            .chain(alias_arns.iter().map(String::as_str));
        let patterns: Vec<String> = resolve_all(&self.keys.approved, account);
        let approved = names
            .into_iter()
            .any(|name| patterns.iter().any(|p| checks::wildcard_match(p, name)));
        Some(approved)
    }

    /// Whether `account` may appear in the key policy of a key owned by `key_account`: the key's own
    /// account, a trusted account, or the fixed account of a principal the policy itself names
    /// (a cross-account reader, or an admin kept in a central account), since requiring a
    /// principal and then flagging its account would contradict itself.
    pub fn is_trusted_account(&self, account: &str, key_account: &str) -> bool {
        let access = &self.access;
        account == key_account
            || access.trusted_accounts.iter().any(|a| a == account)
            || [
                &access.cross_account_readers,
                &access.key_admins,
                &access.xray_admins,
                &access.trace_readers,
            ]
            .into_iter()
            .flatten()
            .any(|arn| checks::arn_account(arn) == Some(account))
    }

    /// Whether `account` may appear in the key policy of a key owned by `key_account` that X-Ray
    /// in `user_account` uses: as [`OrgPolicy::is_trusted_account`], and also the user account
    /// when an access list names its principals with `{account}`, which for that use stands for
    /// the user account.
    pub fn is_trusted_account_for(
        &self,
        account: &str,
        key_account: &str,
        user_account: &str,
    ) -> bool {
        let access = &self.access;
        self.is_trusted_account(account, key_account)
            || (account == user_account
                && [
                    &access.key_admins,
                    &access.xray_admins,
                    &access.trace_readers,
                ]
                .into_iter()
                .flatten()
                .any(|arn| {
                    checks::arn_account(&OrgPolicy::resolve(arn, user_account)) == Some(account)
                }))
    }

    /// The exemption for `rule` on (`account`, `region`) as of `today`. An active exemption wins
    /// over expired ones; among several of a kind, the one expiring last (then the first in the
    /// file), since that is the date the finding stays, or stopped being, exempt.
    pub fn exemption_for(
        &self,
        account: &str,
        region: &str,
        rule: &str,
        today: Date,
    ) -> ExemptionMatch<'_> {
        let matching = self
            .exemptions
            .iter()
            .filter(|e| e.matches(account, region, rule));
        // `max_by_key` keeps the last of equal keys; reverse so that ties go to the first declared.
        let best = matching
            .rev()
            .max_by_key(|e| (e.is_active(today), e.expires));
        match best {
            Some(e) if e.is_active(today) => ExemptionMatch::Active(e),
            Some(e) => ExemptionMatch::Expired(e),
            None => ExemptionMatch::None,
        }
    }
}

fn resolve_all(templates: &[String], account: &str) -> Vec<String> {
    templates
        .iter()
        .map(|t| OrgPolicy::resolve(t, account))
        .collect()
}

/// The ARN of alias `alias` (`alias/…`) in the key's partition, region and account: the key ARN
/// up to `key/`, then the alias name.
fn alias_arn(key_arn: &str, alias: &str) -> String {
    match key_arn.rfind(":key/") {
        Some(end) => format!("{}:{alias}", &key_arn[..end]),
        None => alias.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn date(text: &str) -> Date {
        text.parse().expect("valid date")
    }

    fn exemption(account: &str, region: &str, expires: &str, line: usize) -> Exemption {
        Exemption {
            account: account.into(),
            region: region.into(),
            rule: "rule-a".into(),
            reason: "because".into(),
            expires: date(expires),
            line,
        }
    }

    #[test]
    fn alias_arns_share_the_key_prefix() {
        assert_eq!(
            alias_arn(KEY_ARN, "alias/xray"),
            "arn:aws:kms:us-east-1:111122223333:alias/xray"
        );
        assert_eq!(alias_arn("not-an-arn", "alias/xray"), "alias/xray");
    }

    #[test]
    fn exemptions_prefer_active_then_latest_then_first() {
        let policy = OrgPolicy {
            exemptions: vec![
                exemption("*", "*", "2027-01-01", 1),
                exemption("111122223333", "*", "2027-06-30", 2),
                exemption("111122223333", "us-east-1", "2027-06-30", 3),
                exemption("111122223333", "us-east-1", "2026-01-01", 4),
            ],
            ..OrgPolicy::default()
        };
        let at =
            |today: &str| policy.exemption_for("111122223333", "us-east-1", "rule-a", date(today));
        assert!(matches!(at("2026-06-01"), ExemptionMatch::Active(e) if e.line == 2));
        assert!(matches!(at("2027-06-30"), ExemptionMatch::Active(e) if e.line == 2));
        assert!(matches!(at("2027-07-01"), ExemptionMatch::Expired(e) if e.line == 2));
        assert_eq!(
            policy.exemption_for("111122223333", "us-east-1", "rule-b", date("2026-06-01")),
            ExemptionMatch::None
        );
    }

    #[test]
    fn trusted_accounts_include_named_principals() {
        let mut policy = OrgPolicy::default();
        policy.access.trusted_accounts = vec!["999999999999".into()];
        policy.access.key_admins = vec![
            "arn:aws:iam::{account}:role/KeyAdmin".into(),
            "arn:aws:iam::555555555555:role/CentralKeyAdmin".into(),
        ];
        assert!(policy.is_trusted_account("111122223333", "111122223333"));
        assert!(policy.is_trusted_account("999999999999", "111122223333"));
        assert!(policy.is_trusted_account("555555555555", "111122223333"));
        assert!(!policy.is_trusted_account("444444444444", "111122223333"));
        assert!(!policy.is_trusted_account("{account}", "111122223333"));
        // `{account}` stands for the account that uses the key.
        assert!(policy.is_trusted_account_for("444444444444", "111122223333", "444444444444"));
        assert!(!policy.is_trusted_account_for("666666666666", "111122223333", "444444444444"));
        policy.access.key_admins.remove(0);
        assert!(!policy.is_trusted_account_for("444444444444", "111122223333", "444444444444"));
    }
}
