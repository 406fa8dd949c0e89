//! `tf-xray-encryption-missing`: a Terraform root module turns X-Ray tracing on but never declares
//! the encryption, so every environment built from it starts on the default.

use super::iac_tracing::{decide, Verdict};
use crate::finding::{Finding, FindingBuilder, Severity};
use crate::model::TerraformModule;
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct TfXrayEncryptionMissing;

/// This rule's id.
pub const ID: RuleId = RuleId::new("tf-xray-encryption-missing");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary:
        "A Terraform root module turns on X-Ray tracing but declares no aws_xray_encryption_config",
    severity: Severity::High,
    since: "0.3.0",
    docs: DOCS,
    inputs: &[Input::Encryption],
};

const DOCS: &str = r#"# tf-xray-encryption-missing

## What it does
For each Terraform root module `xray-cmk iac scan` reads (with the local modules it calls), looks
for anything that turns X-Ray tracing on: a Lambda function with `tracing_config { mode = "Active" }`,
an API Gateway stage with `xray_tracing_enabled = true`, a Step Functions state machine with
`tracing_configuration { enabled = true }`, App Runner observability (an
`aws_apprunner_observability_configuration` with a `trace_configuration`, or a service with
`observability_enabled = true`), an AppSync GraphQL API with `xray_enabled = true`, an
`aws_xray_sampling_rule` or an `aws_xray_group`. It fails when such a module declares no
`aws_xray_encryption_config`, and passes when it does (the encryption rules then judge that
configuration). A module that does not trace is not judged. Live audits never produce this
result.

A call of a registry or git module cannot be read, so a tracing input passed to it is judged by
its name where the common modules document it: `tracing_mode` and `tracing_config_mode`
(`"Active"`), `xray_tracing_enabled`, `tracing_enabled` and `enable_xray_tracing` (`true`).

What is only known at apply time is unknown, never a pass and never silence: a tracing setting
that is not a literal (`mode = var.mode` without a value, a `dynamic "tracing_config"` block, an
unknown `count` on the traced resource or the module call), with no certain
`aws_xray_encryption_config`, is an `error` with low confidence naming what is unknown; so is an
`aws_xray_encryption_config` whose `count` or `for_each` (or its `module` call's) is unknown,
when it is the only one, and a called local module the scan did not read, which may declare
it. A `module` call with `count = 0` brings nothing.

## Why is this bad?
X-Ray's encryption is a per-account, per-region setting that defaults to an AWS owned key. A team
that fixed its live account but never declared the setting in Terraform gets the insecure default in
every new account or region the module is applied to, and nothing in review shows it.

## How to fix
Declare the encryption next to the tracing, with a customer managed key:

    resource "aws_xray_encryption_config" "this" {
      type   = "KMS"
      key_id = aws_kms_key.xray.arn
    }

`xray-cmk iac generate` writes a complete, compliant module (key, policy, alias and this resource).

## Example
    resource "aws_lambda_function" "api" {
      # ...
      tracing_config { mode = "Active" }       # fails, unless the module also declares
    }                                          # an aws_xray_encryption_config

## References
- https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/xray_encryption_config
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
"#;

impl Rule for TfXrayEncryptionMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_inventory(&self, cx: &Context<'_>) -> Vec<Finding> {
        cx.inventory
            .terraform_modules
            .iter()
            .filter_map(judge)
            .collect()
    }
}

/// One module: no result when nothing in it can turn tracing on; a pass when it certainly
/// declares the encryption; a failure when tracing is certainly on and nothing declares it;
/// otherwise unknown, naming what is unknown.
fn judge(m: &TerraformModule) -> Option<Finding> {
    let b = FindingBuilder::new(&META, &m.path, "-", &m.path);
    Some(match decide(&m.tracing, &m.encryption, "apply")? {
        Verdict::Pass { tracing, config } => b.location(Some(&m.location)).pass(format!(
            "{tracing} and the module declares aws_xray_encryption_config ({})",
            config.address
        )),
        Verdict::ConfigUnknown {
            tracing,
            config,
            why,
        } => b.location(Some(&config.location)).error(format!(
            "{tracing}, and whether the module declares aws_xray_encryption_config is unknown ({}: {why})",
            config.address
        )),
        Verdict::TracingUnknown { tracing, site } => b.location(Some(&site.location)).error(
            format!("{tracing}, and the module declares no aws_xray_encryption_config"),
        ),
        Verdict::Fail { tracing, site } => b.location(Some(&site.location)).fail(format!(
            "{tracing} but the module declares no aws_xray_encryption_config: new environments get the default encryption"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeclaredConfig, Inventory, Presence, SourceLocation, TracingSite};
    use crate::rules::test_support::*;
    use crate::{Confidence, Status};

    fn at(line: u32) -> SourceLocation {
        SourceLocation {
            file: "main.tf".into(),
            line,
            column: 1,
            end_line: line,
            end_column: 10,
        }
    }

    fn site(presence: Presence) -> TracingSite {
        TracingSite {
            what: "aws_lambda_function.api tracing_config mode = \"Active\"".into(),
            location: at(7),
            presence,
        }
    }

    fn config(presence: Presence) -> DeclaredConfig {
        DeclaredConfig {
            address: "envs/prod/aws_xray_encryption_config.this[*]".into(),
            location: at(20),
            presence,
        }
    }

    fn module(tracing: Vec<TracingSite>, encryption: Vec<DeclaredConfig>) -> Inventory {
        Inventory {
            terraform_modules: vec![TerraformModule {
                path: "envs/prod".into(),
                tracing,
                encryption,
                location: at(1),
            }],
            ..Inventory::default()
        }
    }

    fn judge(inv: &Inventory) -> Vec<Finding> {
        TfXrayEncryptionMissing.check_inventory(&context(inv, &DEFAULT_POLICY))
    }

    fn unknown(why: &str) -> Presence {
        Presence::Unknown(why.into())
    }

    #[test]
    fn tracing_without_a_declared_config_fails_at_the_tracing() {
        let f = judge(&module(vec![site(Presence::Certain)], Vec::new()));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(7));
        assert!(
            f[0].message.contains("aws_lambda_function.api"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn a_declared_config_passes_and_no_tracing_is_not_judged() {
        let declared = vec![config(Presence::Certain)];
        let f = judge(&module(vec![site(Presence::Certain)], declared.clone()));
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(f[0].confidence, Confidence::High);
        // Declared, the module is right whether or not tracing turns out to be on.
        let f = judge(&module(
            vec![site(unknown("var.mode has no value"))],
            declared,
        ));
        assert_eq!(f[0].status, Status::Pass);
        assert!(judge(&module(Vec::new(), Vec::new())).is_empty());
        assert!(
            judge(&Inventory::default()).is_empty(),
            "live scans have no modules"
        );
    }

    #[test]
    fn tracing_only_known_at_apply_is_unknown_never_silent() {
        let f = judge(&module(
            vec![site(unknown("var.mode has no value"))],
            Vec::new(),
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Error);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(7));
        assert!(
            f[0].message.contains("var.mode has no value"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn a_config_whose_count_is_unknown_is_never_a_pass() {
        for tracing in [
            Presence::Certain,
            unknown("dynamic \"tracing_config\" block"),
        ] {
            let f = judge(&module(
                vec![site(tracing)],
                vec![config(unknown("count is unknown"))],
            ));
            assert_eq!(f[0].status, Status::Error, "{}", f[0].message);
            assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(20));
            assert!(
                f[0].message.contains("count is unknown"),
                "{}",
                f[0].message
            );
        }
        // One certain configuration is enough.
        let f = judge(&module(
            vec![site(Presence::Certain)],
            vec![
                config(unknown("count is unknown")),
                config(Presence::Certain),
            ],
        ));
        assert_eq!(f[0].status, Status::Pass);
    }
}
