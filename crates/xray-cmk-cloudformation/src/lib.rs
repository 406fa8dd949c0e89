//! CloudFormation templates (YAML or JSON; SAM templates and CDK output included) to the core's
//! [`Inventory`], so the rules that judge live AWS and Terraform judge templates before they are
//! deployed.
//!
//! Values are evaluated as far as the template allows (parameters with a `Default` or given with
//! `--parameters`, `Mappings`, `Conditions`, the intrinsic functions in short and long form).
//! What cannot be known before deployment is *unknown*: an
//! [`Observed::Unknown`](xray_cmk_core::Observed), which the rules report as a low-confidence
//! error, never as a pass.
//!
//! Nested stacks whose template is a local file are followed as instances, as Terraform's
//! module calls are (see the `nested` module): every template is judged on its own, and each
//! instance again under the parent's names; `cfn-xray-encryption-missing` judges a tree from its
//! top (a template no other template scanned nests).

mod build;
mod eval;
mod files;
pub mod generate;
mod nested;
mod params;
mod yaml;

use std::path::{Path, PathBuf};

use xray_cmk_core::finding::FindingBuilder;
use xray_cmk_core::{Date, Finding, Inventory, OrgPolicy, Rule, SourceLocation};

pub use eval::Parameters;
pub use files::template_name;
pub use params::{read_parameters, ParametersError};

/// A file that could not be read or parsed. The other files are still scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfnError {
    pub location: SourceLocation,
    pub message: String,
}

/// What a scan read and built.
#[derive(Debug, Default)]
pub struct CfnScan {
    pub inventory: Inventory,
    pub errors: Vec<CfnError>,
    /// Templates read.
    pub templates: usize,
    /// Candidate files looked at (by name), templates or not.
    pub candidates: usize,
    /// What was skipped on purpose (a directory reached again through a link), for stderr.
    pub notes: Vec<String>,
}

impl CfnScan {
    /// The rules' results over the scanned inventory, plus an `iac-parse-error` result for each
    /// file that could not be read, in source order (file, line, column, then rule order).
    pub fn judge(&self, policy: &OrgPolicy, today: Date, rules: &[&dyn Rule]) -> Vec<Finding> {
        let mut findings = xray_cmk_core::evaluate(&xray_cmk_core::Context {
            inventory: &self.inventory,
            policy,
            today,
            rules,
        });
        for e in &self.errors {
            let meta = &xray_cmk_core::rules::IAC_PARSE_ERROR;
            findings.push(
                FindingBuilder::new(meta, &e.location.file, "-", &e.location.file)
                    .location(Some(&e.location))
                    .error(e.message.clone()),
            );
        }
        findings.sort_by(|a, b| {
            let at = |f: &Finding| {
                f.location()
                    .as_ref()
                    .map(|l| (l.file.clone(), l.line, l.column))
            };
            at(a).cmp(&at(b))
        });
        findings
    }
}

/// Whether `path` is a CloudFormation template: a file of a template's name whose text parses
/// to one. For telling a template named on the command line from a Terraform plan JSON file.
pub fn is_template_file(path: &Path) -> bool {
    match files::read_text(path, files::TEMPLATE_CAP) {
        files::Read::Text(text) => {
            files::mentions_template(&text)
                && yaml::parse(&text).is_ok_and(|r| build::is_template(&r))
        }
        files::Read::Refused { .. } => false,
    }
}

/// Scans template files and directories (recursively; `.yaml`, `.yml`, `.json` and `.template`
/// files that are templates). A file named on the command line that is not a template is an
/// error; one found in a directory is skipped. Nested stacks whose templates are local files are
/// followed (see the crate's docs).
pub fn scan(paths: &[PathBuf], given: &Parameters) -> CfnScan {
    let found = files::discover(paths);
    let mut out = CfnScan {
        errors: found.errors,
        notes: found.notes,
        ..CfnScan::default()
    };
    let mut nest = nested::Nesting::new(paths, given);
    // Each template's canonical path, beside its entry in `cloudformation_templates`.
    let mut tops: Vec<Option<PathBuf>> = Vec::new();
    for (path, explicit) in &found.files {
        out.candidates += 1;
        let canonical = std::fs::canonicalize(path).ok();
        if let Some(doc) = canonical.as_deref().and_then(|c| nest.read_already(c)) {
            if let Ok(root) = &*doc {
                add_template(&mut out, &mut nest, path, root, given);
                tops.push(canonical);
            }
            continue;
        }
        let text = match files::read_text(path, files::TEMPLATE_CAP) {
            files::Read::Text(t) => t,
            files::Read::Refused {
                error,
                looks_like_template,
            } => {
                if *explicit || looks_like_template {
                    out.errors.push(error);
                }
                continue;
            }
        };
        let mentions = files::mentions_template(&text);
        if !mentions && !*explicit {
            continue;
        }
        let root = match yaml::parse(&text) {
            Ok(r) => r,
            Err(e) => {
                if *explicit || mentions {
                    out.errors
                        .push(files::error_at(path, e.line, e.column, e.message));
                }
                continue;
            }
        };
        if !build::is_template(&root) {
            if *explicit {
                out.errors.push(files::error_at(
                    path,
                    1,
                    1,
                    "not a CloudFormation template: no AWSTemplateFormatVersion and no Resources of AWS:: types".to_owned(),
                ));
            }
            continue;
        }
        add_template(&mut out, &mut nest, path, &root, given);
        tops.push(canonical);
    }
    let nested = nest.nested_templates();
    let mut tops = tops.into_iter();
    out.inventory
        .cloudformation_templates
        .retain(|_| tops.next().flatten().is_none_or(|c| !nested.contains(&c)));
    out.notes.extend(nest.notes);
    out
}

/// A template scanned: on its own, with the nested stacks it follows.
fn add_template(
    out: &mut CfnScan,
    nest: &mut nested::Nesting<'_>,
    path: &Path,
    root: &yaml::Node,
    given: &Parameters,
) {
    out.templates += 1;
    nest.start(std::fs::canonicalize(path).ok());
    let parsed = build::Parsed::new(files::display(path), root, given);
    let template = parsed.add_to(&mut out.inventory, nest);
    out.inventory.cloudformation_templates.push(template);
}
