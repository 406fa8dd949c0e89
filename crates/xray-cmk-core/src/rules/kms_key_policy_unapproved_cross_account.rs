//! `kms-key-policy-unapproved-cross-account`: the key policy grants accounts the policy file does
//! not trust.

use super::{customer_key_use_builder, key_owner, key_policy};
use crate::finding::{Finding, Severity};
use crate::key_policy::allowed_accounts;
use crate::model::XrayTarget;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsKeyPolicyUnapprovedCrossAccount;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-key-policy-unapproved-cross-account");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key policy allows principals of accounts outside the policy's allowlist",
    severity: Severity::High,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-key-policy-unapproved-cross-account

## What it does
Collects every account an `Allow` statement of the key policy names: principal ARNs and bare
account ids, and the values of positive `aws:PrincipalAccount` / `kms:CallerAccount` conditions on
statements open to `*`. It fails when one of them is neither the key's own account nor trusted by
the policy file: `[access] trusted_accounts`, the accounts of `cross_account_readers`, and fixed
accounts named in the other access lists. A key shared by several accounts is judged for each
account whose X-Ray uses it, under that account: `{account}` in the access lists then stands
for that account, so the key policy may name it when the policy file expects its principals
there. The key policy of a key whose owner is not in the scan cannot be read (KMS does not
answer `GetKeyPolicy` across accounts): the result is `error`, naming the account to add.

## Why is this bad?
A principal in another account that may decrypt with the key can read the traces it protects once
they leave X-Ray (exports, copies, a compromised reader). Cross-account access must be a decision
the organization made, not something left behind by a test or a former partner.

## How to fix
Remove the statement, or add the account to `trusted_accounts` in `xray-cmk.toml` if the access is
intended.

## Example
    {"Sid":"UnknownPartner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
     "Action":"kms:Decrypt","Resource":"*"}       # fails unless 444455556666 is trusted

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
"#;

impl Rule for KmsKeyPolicyUnapprovedCrossAccount {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key_use(
        &self,
        key: &KeyRef<'_>,
        target: &XrayTarget,
        cx: &Context<'_>,
    ) -> Option<Finding> {
        let b = customer_key_use_builder(&META, key, target)?;
        let doc = match key_policy(key.key) {
            Ok(doc) => doc,
            Err(why) => return Some(b.error(why.to_string())),
        };
        let owner = key_owner(key);
        let untrusted: Vec<String> = allowed_accounts(&doc)
            .into_iter()
            .filter(|a| !cx.policy.is_trusted_account_for(a, owner, &target.account))
            .collect();
        Some(if untrusted.is_empty() {
            b.pass("every account the key policy allows is the key's own or trusted")
        } else {
            b.fail(format!(
                "the key policy allows accounts outside the allowlist: {}",
                untrusted.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;

    const PARTNER: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

    fn status(pol: &crate::OrgPolicy) -> Option<Status> {
        let inv = with_key(|k| k.policy = Observed::Known(PARTNER.to_owned()));
        run_key_use(&KmsKeyPolicyUnapprovedCrossAccount, &inv, pol).map(|f| f.status)
    }

    #[test]
    fn untrusted_account_fails_trusted_passes() {
        assert_eq!(status(&DEFAULT_POLICY), Some(Status::Fail));
        let trusted = policy("[access]\ntrusted_accounts = [\"444455556666\"]\n");
        assert_eq!(status(&trusted), Some(Status::Pass));
        let via_reader = policy(
            "[access]\ncross_account_readers = [\"arn:aws:iam::444455556666:role/Audit\"]\n",
        );
        assert_eq!(status(&via_reader), Some(Status::Pass));
    }

    #[test]
    fn a_shared_key_trusts_the_account_using_it_when_the_access_lists_name_it() {
        // The key of 111122223333 names 444455556666, which uses it.
        let mut inv = with_key(|k| k.policy = Observed::Known(PARTNER.to_owned()));
        inv.targets[0].account = "444455556666".into();
        let judge = |toml: &str| {
            crate::evaluate(&context(&inv, &policy(toml)))
                .into_iter()
                .find(|f| f.rule == META.id)
                .map(|f| (f.account, f.status))
        };
        let user = "444455556666".to_owned();
        assert_eq!(judge(""), Some((user.clone(), Status::Fail)));
        let access = "[access]\nxray_admins = [\"arn:aws:iam::{account}:role/XrayAdmin\"]\n";
        assert_eq!(judge(access), Some((user, Status::Pass)));
    }
}
