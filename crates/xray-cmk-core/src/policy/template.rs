//! The policy file `xray-cmk policy init` writes: every setting at its default, with what it does.

/// A complete policy file whose settings are the defaults ([`super::OrgPolicy::default`]), each
/// explained, so that editing a value is all a user has to do. Exemptions are shown commented out,
/// as an empty list is their default.
pub const DEFAULT_POLICY_TOML: &str = r#"# xray-cmk organization policy.
#
# What your organization expects of the KMS keys that encrypt AWS X-Ray data. Every setting is
# optional: the values below are the defaults. Unknown sections and keys are errors, so a typo
# cannot silently leave a default in force.
#
# In access lists and approved keys, `{account}` stands for the id of each audited account, so one
# file serves a whole organization.

[rotation]
# The longest acceptable automatic rotation period of a key, in days. KMS allows 90 to 2560.
# A key that does not rotate, or rotates less often than this, does not meet the policy.
max_period_days = 365

[tags]
# Tag keys every X-Ray key must carry, for example ["owner", "data-classification"].
# Keys must be distinct, and cannot start with `aws:` (reserved by AWS). Empty: no tag is required.
required = []
# The values remediation (`xray-cmk plan` / `apply`) gives those tags when it adds them, e.g.
# values = { owner = "platform-team", "data-classification" = "confidential" }.
# A required tag without a value is planned as "REVIEW", and `apply` refuses to write it.
values = {}

[keys]
# The keys X-Ray may use. Each entry is a key ARN, an alias ARN or an alias name (`alias/...`);
# `*` matches any run of characters. A key is approved when its ARN, one of its aliases or one of
# their ARNs matches an entry. Empty: there is no approved list, any customer managed key will do.
# Example: approved = ["alias/xray-cmk-*", "arn:aws:kms:*:{account}:key/*"]
approved = []

# The alias remediation gives the key it creates. It must start with `alias/` and must not start
# with `alias/aws/`, which AWS reserves for its managed keys.
alias = "alias/xray-cmk"

[access]
# Who should be named in the key policy of an X-Ray key. Entries are IAM principal ARNs:
# arn:aws:iam::<account>:role/<name>, arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:root,
# where <account> is a 12-digit id or `{account}`. Empty lists expect nothing.

# Principals that administer the key (manage its policy, rotation and deletion).
# Example: key_admins = ["arn:aws:iam::{account}:role/KeyAdmin"]
key_admins = []

# Principals that change the X-Ray encryption configuration, which needs access to the key.
# Example: xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
xray_admins = []

# Principals that read traces, which needs kms:Decrypt on the key.
# Example: trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
trace_readers = []

# Trace readers in other accounts, such as a central security account. They name a fixed
# account (not `{account}`), and that account is trusted in key policies.
# Example: cross_account_readers = ["arn:aws:iam::111122223333:role/SecurityAudit"]
cross_account_readers = []

# Accounts (12 digits) besides the key's own that may appear in key policies. Accounts of the
# principals named above are trusted too. Any other account in a key policy is reported.
# Example: trusted_accounts = ["111122223333"]
trusted_accounts = []

[guard]
# The guardrail `xray-cmk guard generate` writes (an AWS Config rule, EventBridge alerts, an SCP).
# Entries are IAM role ARNs, arn:aws:iam::<account>:role/<name>, where <account> is a 12-digit id
# or `{account}` (in the SCP, which covers every account, `{account}` becomes `*`).

# Roles that may change X-Ray's encryption (the SCP denies xray:PutEncryptionConfig to all others).
# Example: automation_roles = ["arn:aws:iam::{account}:role/XrayCmkAutomation"]
automation_roles = []

# Roles that may also change X-Ray's encryption, and alone may disable, schedule the deletion of,
# re-policy or stop the rotation of keys tagged managed-by=xray-cmk. `guard generate` needs one.
# Example: break_glass_roles = ["arn:aws:iam::{account}:role/BreakGlass"]
break_glass_roles = []

# An existing SNS topic for the alerts. Unset: the guardrail creates one in each account-region.
# Example: alert_topic_arn = "arn:aws:sns:us-east-1:111122223333:security-alerts"

# Whether AWS Config switches a non-compliant X-Ray back to the approved key by itself (through
# the SSM runbook AWSConfigRemediation-UpdateXRayKMSKey). Off: it only reports and alerts.
auto_remediate = false

# Exemptions accept a rule's failure for matching targets until a date. Each needs all five keys:
# account (12 digits or "*"), region (a region name or "*"), rule (a rule id, see `xray-cmk explain`),
# reason (why, for the next reviewer) and expires (the last day it applies, YYYY-MM-DD). After that
# day the failure is reported again, with the expired exemption.
#
# [[exemptions]]
# account = "444455556666"
# region = "us-east-1"
# rule = "kms-rotation-disabled"
# reason = "dev sandbox keys are rebuilt every quarter"
# expires = 2027-06-30
"#;
