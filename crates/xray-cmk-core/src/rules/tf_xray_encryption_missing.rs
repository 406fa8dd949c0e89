//! `tf-xray-encryption-missing`: a Terraform root module turns X-Ray tracing on but never declares
//! the encryption, so every environment built from it starts on the default.

use crate::finding::{Finding, FindingBuilder, Severity};
use crate::rule::{Context, Input, Rule, RuleMeta};

pub struct TfXrayEncryptionMissing;

static META: RuleMeta = RuleMeta {
    id: "tf-xray-encryption-missing",
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
`observability_enabled = true`), an `aws_xray_sampling_rule` or an `aws_xray_group`. It fails when
such a module declares no `aws_xray_encryption_config`, and passes when it does (the encryption
rules then judge that configuration). A module that does not trace is not judged. Live audits never
produce this result.

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
            .filter_map(|m| {
                let (first, at) = m.tracing.first()?;
                let b = FindingBuilder::new(&META, &m.path, "-", &m.path);
                Some(if m.declares_encryption {
                    b.location(Some(&m.location))
                        .pass("tracing is on and the module declares aws_xray_encryption_config")
                } else {
                    let more = match m.tracing.len() {
                        1 => String::new(),
                        n => format!(" (and {} more)", n - 1),
                    };
                    b.location(Some(at)).fail(format!(
                        "X-Ray tracing is on ({first}{more}) but the module declares no aws_xray_encryption_config: new environments get the default encryption"
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Inventory, SourceLocation, TerraformModule};
    use crate::rules::test_support::*;
    use crate::Status;

    fn at(line: u32) -> SourceLocation {
        SourceLocation {
            file: "main.tf".into(),
            line,
            column: 1,
            end_line: line,
            end_column: 10,
        }
    }

    fn module(tracing: bool, declares: bool) -> Inventory {
        Inventory {
            terraform_modules: vec![TerraformModule {
                path: "envs/prod".into(),
                tracing: if tracing {
                    vec![(
                        "aws_lambda_function.api tracing_config mode = \"Active\"".into(),
                        at(7),
                    )]
                } else {
                    Vec::new()
                },
                declares_encryption: declares,
                location: at(1),
            }],
            ..Inventory::default()
        }
    }

    fn judge(inv: &Inventory) -> Vec<Finding> {
        TfXrayEncryptionMissing.check_inventory(&context(inv, &DEFAULT_POLICY))
    }

    #[test]
    fn tracing_without_a_declared_config_fails_at_the_tracing() {
        let f = judge(&module(true, false));
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
        assert_eq!(judge(&module(true, true))[0].status, Status::Pass);
        assert!(judge(&module(false, false)).is_empty());
        assert!(
            judge(&Inventory::default()).is_empty(),
            "live scans have no modules"
        );
    }
}
