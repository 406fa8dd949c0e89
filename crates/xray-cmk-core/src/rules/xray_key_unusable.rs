//! `xray-key-unusable`: the key X-Ray is configured with cannot be used, so traces are dropped.

use super::{builder, key_input, KeyInput};
use crate::finding::{Confidence, Finding, Severity};
use crate::model::{ErrorKind, KeyState, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XrayKeyUnusable;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-key-unusable");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The KMS key X-Ray uses is missing, denied, disabled or pending deletion: traces are dropped",
    severity: Severity::Critical,
    since: "0.1.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata],
};

const DOCS: &str = r#"# xray-key-unusable

## What it does
For a `KMS` configuration, describes the key and fails when:
- the key does not exist (`NotFoundException`);
- access to it is denied (`AccessDeniedException`): reported with medium confidence, because the
  auditor's access is not X-Ray's;
- its `KeyState` is `Disabled`, `PendingDeletion`, `PendingImport` (no key material),
  `PendingReplicaDeletion` or `Unavailable` (its custom key store is disconnected).

It passes when the key is `Enabled`. Any other failure to read the key, or an unknown state, is an
`error` result.

## Why is this bad?
X-Ray cannot encrypt with a key it cannot use, so it stops storing traces: you lose observability
silently, often during the very incident you need it for. A key pending deletion will destroy every
trace encrypted with it when the waiting period ends.

## How to fix
- Disabled on purpose (cryptographic erasure)? Keep it so, and expect no traces until it is restored.
- Otherwise re-enable it (`aws kms enable-key`), cancel a scheduled deletion
  (`aws kms cancel-key-deletion`, then `enable-key`), or point X-Ray at a usable key:

    aws xray put-encryption-config --type KMS --key-id alias/xray-traces

## Example
    $ aws kms describe-key --key-id "$KEY" --query KeyMetadata.KeyState
    "Disabled"      # fails
    "Enabled"       # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
"#;

impl Rule for XrayKeyUnusable {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let inventory = cx.inventory;
        Some(match key_input(&META, target, inventory) {
            KeyInput::NotApplicable => return None,
            KeyInput::Unknown(f) => *f,
            KeyInput::KeyUnreadable(enc, err) => {
                let b = builder(&META, target).key(enc.key_id.as_deref());
                match err.kind {
                    ErrorKind::NotFound => b.fail(format!(
                        "the key X-Ray is configured with does not exist ({err}): traces are not stored"
                    )),
                    ErrorKind::AccessDenied => b.confidence(Confidence::Medium).fail(format!(
                        "access to the key X-Ray is configured with is denied ({err}): if X-Ray is denied too, traces are not stored"
                    )),
                    _ => b.error(format!("cannot read the key's state: {err}")),
                }
            }
            KeyInput::Key(enc, key) => {
                let b = builder(&META, target).key(enc.key_id.as_deref());
                match &key.key_state {
                    Some(KeyState::Enabled) => b.pass("the key is Enabled"),
                    Some(
                        state @ (KeyState::Disabled
                        | KeyState::PendingDeletion
                        | KeyState::PendingImport
                        | KeyState::PendingReplicaDeletion
                        | KeyState::Unavailable),
                    ) => b.fail(format!(
                        "the key is {}: X-Ray cannot encrypt with it and stops storing traces",
                        state.as_str()
                    )),
                    Some(state) => b.error(format!(
                        "the key is in state {}: cannot confirm X-Ray can use it",
                        state.as_str()
                    )),
                    None => b.error("DescribeKey did not report a KeyState"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CollectionError, Observed};
    use crate::rules::test_support::*;
    use crate::Status;

    fn status_for(state: Option<KeyState>) -> Option<Status> {
        run(&XrayKeyUnusable, &with_key(|k| k.key_state = state)).map(|f| f.status)
    }

    #[test]
    fn states() {
        assert_eq!(status_for(Some(KeyState::Enabled)), Some(Status::Pass));
        for s in [
            KeyState::Disabled,
            KeyState::PendingDeletion,
            KeyState::PendingImport,
            KeyState::PendingReplicaDeletion,
            KeyState::Unavailable,
        ] {
            assert_eq!(status_for(Some(s.clone())), Some(Status::Fail), "{s:?}");
        }
        assert_eq!(status_for(Some(KeyState::Creating)), Some(Status::Error));
        assert_eq!(
            status_for(Some(KeyState::Other("New".into()))),
            Some(Status::Error)
        );
        assert_eq!(status_for(None), Some(Status::Error));
    }

    #[test]
    fn not_found_and_denied_fail_other_errors_do_not_pass() {
        let err = |kind| CollectionError {
            operation: "kms:DescribeKey".into(),
            kind,
            code: None,
            message: "x".into(),
        };
        let f = run(
            &XrayKeyUnusable,
            &kms_config(Observed::Unknown(err(ErrorKind::NotFound))),
        )
        .expect("finding");
        assert_eq!((f.status, f.confidence), (Status::Fail, Confidence::High));
        let f = run(
            &XrayKeyUnusable,
            &kms_config(Observed::Unknown(err(ErrorKind::AccessDenied))),
        )
        .expect("finding");
        assert_eq!((f.status, f.confidence), (Status::Fail, Confidence::Medium));
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Unreachable,
            ErrorKind::Other,
        ] {
            let f =
                run(&XrayKeyUnusable, &kms_config(Observed::Unknown(err(kind)))).expect("finding");
            assert_eq!(f.status, Status::Error);
        }
    }

    #[test]
    fn key_not_collected_is_error() {
        let mut inv = with_key(|_| {});
        inv.keys.clear();
        assert_eq!(
            run(&XrayKeyUnusable, &inv).map(|f| f.status),
            Some(Status::Error)
        );
    }
}
