//! `cfn-xray-encryption-missing`: a CloudFormation template (SAM and CDK output included) turns
//! X-Ray tracing on but nothing in it sets X-Ray's encryption, so every account and region it is
//! deployed to stays on the default.

use super::iac_tracing::{decide, Verdict};
use crate::finding::{Finding, FindingBuilder, Severity};
use crate::model::CloudFormationTemplate;
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct CfnXrayEncryptionMissing;

/// The SSM runbook whose automatic remediation makes a template manage X-Ray's encryption.
pub const REMEDIATION_DOCUMENT: &str = crate::guard::REMEDIATION_DOCUMENT;

/// The custom resource type xray-cmk recognises as setting X-Ray's encryption: its handler calls
/// `xray:PutEncryptionConfig` with the resource's `Type` and `KeyId` properties.
pub const CUSTOM_RESOURCE_TYPE: &str = "Custom::XRayEncryptionConfig";

/// This rule's id.
pub const ID: RuleId = RuleId::new("cfn-xray-encryption-missing");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary:
        "A CloudFormation template turns on X-Ray tracing but nothing in it sets X-Ray's encryption",
    severity: Severity::High,
    since: "0.4.0",
    docs: DOCS,
    inputs: &[Input::Encryption],
};

const DOCS: &str = r#"# cfn-xray-encryption-missing

## What it does
For each CloudFormation template `xray-cmk iac scan` reads (YAML or JSON, SAM templates and CDK
output in `cdk.out/` included), looks for anything that turns X-Ray tracing on:
`AWS::Lambda::Function` with `TracingConfig: {Mode: Active}`; `AWS::Serverless::Function` with
`Tracing: Active`, given on the function or in `Globals: {Function: {Tracing: Active}}`;
`AWS::ApiGateway::Stage` and `AWS::Serverless::Api` with `TracingEnabled: true` (also from
`Globals: {Api: …}`); `AWS::StepFunctions::StateMachine` with `TracingConfiguration: {Enabled:
true}`; `AWS::Serverless::StateMachine` with `Tracing: {Enabled: true}`; App Runner observability
(an `AWS::AppRunner::ObservabilityConfiguration` with a `TraceConfiguration`, or an
`AWS::AppRunner::Service` with `ObservabilityConfiguration: {ObservabilityEnabled: true}`);
`AWS::AppSync::GraphQLApi` with `XrayEnabled: true`; `AWS::XRay::Group`,
`AWS::XRay::SamplingRule` and `AWS::XRay::TransactionSearchConfig`.

CloudFormation has no resource for X-Ray's encryption. The template manages it only when it
holds either
- the guardrail's `AWS::Config::RemediationConfiguration` with `TargetId:
  AWSConfigRemediation-UpdateXRayKMSKey` and `Automatic: true` (a manual remediation sets
  nothing until someone runs it), or
- a custom resource of type `Custom::XRayEncryptionConfig` with `Type: KMS` and `KeyId`: xray-cmk
  takes the type as the contract that its handler calls `xray:PutEncryptionConfig` with them.

It fails when tracing is on and the template holds neither, and passes when it holds one (the
encryption rules then judge the key it names). A template that does not trace is not judged.

Nested stacks are part of the template: an `AWS::CloudFormation::Stack` whose `TemplateURL`, or
an `AWS::Serverless::Application` whose `Location`, is a local path (or, in CDK output, names
one through `Metadata` `aws:asset:path`) is evaluated with the parameters the parent passes, and what it traces and sets counts as the parent's (tracing in the
parent and the remediation in a nested stack is managed, and the reverse). A template that
another scanned template nests is judged from its parent, not on its own. A nested stack that is
not followed (an S3 or HTTPS URL, a Serverless Application Repository application, a missing file,
a cycle, a bound) may turn tracing on and may set the encryption: both are unknown.

What cannot be decided from the template is unknown, never a pass and never silence: a tracing
setting given by a parameter without a default, an import, a resource `Condition` that depends
on an unknown parameter or pseudo parameter, a nested stack that is not followed. With nothing
certain that sets the encryption, it is an `error` with low confidence naming what is unknown.

## Why is this bad?
X-Ray's encryption is a per-account, per-region setting that defaults to an AWS owned key. A
stack that turns tracing on deploys into accounts and regions that nobody has configured, and
nothing in review shows it.

## How to fix
Deploy the guardrail in every account and region the template goes to:
`xray-cmk guard generate` writes a StackSet whose Config rule checks X-Ray's encryption and
whose automatic remediation (`AWSConfigRemediation-UpdateXRayKMSKey`) switches it to the
approved key. Then either add the remediation to this template, or leave this rule out of the
template's scan (`--skip-rules cfn-xray-encryption-missing`) where the StackSet covers its
accounts.

## Example
    Resources:
      Api:
        Type: AWS::Serverless::Function
        Properties:
          Tracing: Active          # fails, unless the template also holds the guardrail's
                                   # automatic remediation or a Custom::XRayEncryptionConfig

## References
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-update-xray-kms-key.html
- https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-config-remediationconfiguration.html
"#;

impl Rule for CfnXrayEncryptionMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_inventory(&self, cx: &Context<'_>) -> Vec<Finding> {
        cx.inventory
            .cloudformation_templates
            .iter()
            .filter_map(judge)
            .collect()
    }
}

/// One template: no result when nothing in it can turn tracing on; a pass when it certainly
/// manages the encryption; a failure when tracing is certainly on and nothing manages it;
/// otherwise unknown, naming what is unknown.
fn judge(t: &CloudFormationTemplate) -> Option<Finding> {
    let b = FindingBuilder::new(&META, &t.path, "-", &t.path);
    Some(match decide(&t.tracing, &t.encryption, "deploy")? {
        Verdict::Pass { tracing, config } => b.location(Some(&config.location)).pass(format!(
            "{tracing} and the template sets X-Ray's encryption ({})",
            config.address
        )),
        Verdict::ConfigUnknown {
            tracing,
            config,
            why,
        } => b.location(Some(&config.location)).error(format!(
            "{tracing}, and whether the template sets X-Ray's encryption is unknown ({}: {why})",
            config.address
        )),
        Verdict::TracingUnknown { tracing, site } => b.location(Some(&site.location)).error(
            format!("{tracing}, and nothing in the template sets X-Ray's encryption"),
        ),
        Verdict::Fail { tracing, site } => b.location(Some(&site.location)).fail(format!(
            "{tracing} but nothing in the template sets X-Ray's encryption: deploy the guardrail (`xray-cmk guard generate`) or add its automatic {REMEDIATION_DOCUMENT} remediation, else X-Ray stays on the default encryption"
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
            file: "template.yaml".into(),
            line,
            column: 3,
            end_line: line,
            end_column: 10,
        }
    }

    fn site(presence: Presence) -> TracingSite {
        TracingSite {
            what: "Api (AWS::Serverless::Function) Tracing: Active".into(),
            location: at(7),
            presence,
        }
    }

    fn config(presence: Presence) -> DeclaredConfig {
        DeclaredConfig {
            address: "template.yaml/XrayRemediation".into(),
            location: at(20),
            presence,
        }
    }

    fn template(tracing: Vec<TracingSite>, encryption: Vec<DeclaredConfig>) -> Inventory {
        Inventory {
            cloudformation_templates: vec![CloudFormationTemplate {
                path: "template.yaml".into(),
                tracing,
                encryption,
                location: at(1),
            }],
            ..Inventory::default()
        }
    }

    fn judge(inv: &Inventory) -> Vec<Finding> {
        CfnXrayEncryptionMissing.check_inventory(&context(inv, &DEFAULT_POLICY))
    }

    fn unknown(why: &str) -> Presence {
        Presence::Unknown(why.into())
    }

    #[test]
    fn tracing_without_encryption_fails_at_the_tracing_and_says_to_deploy_the_guardrail() {
        let f = judge(&template(vec![site(Presence::Certain)], Vec::new()));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(7));
        assert!(f[0].message.contains("Api (AWS::Serverless::Function)"));
        assert!(
            f[0].message.contains("xray-cmk guard generate"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn a_remediation_passes_and_no_tracing_is_not_judged() {
        let f = judge(&template(
            vec![site(Presence::Certain)],
            vec![config(Presence::Certain)],
        ));
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(20));
        assert!(judge(&template(Vec::new(), vec![config(Presence::Certain)])).is_empty());
        assert!(judge(&Inventory::default()).is_empty());
        // Terraform modules are the other rule's.
        let tf = Inventory {
            terraform_modules: vec![crate::TerraformModule {
                path: "m".into(),
                tracing: vec![site(Presence::Certain)],
                encryption: Vec::new(),
                location: at(1),
            }],
            ..Inventory::default()
        };
        assert!(judge(&tf).is_empty());
    }

    #[test]
    fn tracing_known_only_at_deploy_is_an_error_never_silent() {
        let f = judge(&template(
            vec![site(unknown("Tracing: parameter Mode has no value"))],
            Vec::new(),
        ));
        assert_eq!(f[0].status, Status::Error);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert!(f[0].message.contains("parameter Mode has no value"));
    }

    #[test]
    fn a_remediation_under_an_unknown_condition_is_never_a_pass() {
        let f = judge(&template(
            vec![site(Presence::Certain)],
            vec![config(unknown("Condition IsProd is unknown"))],
        ));
        assert_eq!(f[0].status, Status::Error, "{}", f[0].message);
        assert_eq!(f[0].location.as_ref().map(|l| l.line), Some(20));
        assert!(f[0].message.contains("IsProd"));
    }
}
