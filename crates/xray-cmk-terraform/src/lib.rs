//! Terraform to the core's [`Inventory`]: `.tf` modules (parsed with `hcl-rs`/`hcl-edit`, values
//! resolved as far as the code allows) and plan JSON (`terraform show -json`), so the same rules
//! that judge live AWS judge the code before it is applied.
//!
//! What cannot be resolved (a variable without a value, a data source, a function this evaluator
//! does not know) is *unknown*: it becomes an [`Observed::Unknown`](xray_cmk_core::Observed), which
//! the rules report as a low-confidence error, never as a pass.

mod build;
mod eval;
mod files;
pub mod generate;
mod module;
mod module_calls;
mod plan_json;
mod value;

use std::path::PathBuf;

use xray_cmk_core::finding::FindingBuilder;
use xray_cmk_core::{Date, Finding, Inventory, OrgPolicy, Rule, SourceLocation};

/// A file that could not be read or parsed. The other files are still scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IacError {
    pub location: SourceLocation,
    pub message: String,
}

/// What a scan read and built.
#[derive(Debug, Default)]
pub struct IacScan {
    pub inventory: Inventory,
    pub errors: Vec<IacError>,
    /// `.tf` and plan JSON files read.
    pub files: usize,
    pub modules: usize,
}

impl IacScan {
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
        // `evaluate` ordered them by rule; the stable sort keeps that order at one place.
        findings.sort_by(|a, b| {
            let at = |f: &Finding| {
                f.location
                    .as_ref()
                    .map(|l| (l.file.clone(), l.line, l.column))
            };
            at(a).cmp(&at(b))
        });
        findings
    }
}

/// Scans `.tf` files, directories (recursively; each directory with `.tf` files is a module) and
/// plan JSON files.
pub fn scan(paths: &[PathBuf]) -> IacScan {
    let found = files::discover(paths);
    let mut out = IacScan {
        errors: found.errors,
        ..IacScan::default()
    };
    // Modules are independent until the inventory is built: parse and evaluate them on every
    // core, in order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = found.modules.len().div_ceil(threads).max(1);
    type Evaluated = (Vec<IacError>, build::ModuleFacts, module_calls::ModuleCalls);
    let done: Vec<Vec<Evaluated>> = std::thread::scope(|s| {
        let handles: Vec<_> = found
            .modules
            .chunks(chunk)
            .map(|ms| {
                s.spawn(move || {
                    ms.iter()
                        .map(|m| {
                            let parsed = module::parse(m);
                            (
                                parsed.errors.clone(),
                                eval::evaluate(&parsed),
                                module_calls::read(&parsed),
                            )
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    out.files += found.modules.iter().map(|m| m.files.len()).sum::<usize>();
    let mut facts = Vec::new();
    let mut calls_of = std::collections::BTreeMap::new();
    for (errors, f, calls) in done.into_iter().flatten() {
        out.errors.extend(errors);
        calls_of.insert(f.path.clone(), calls);
        facts.push(f);
    }
    for p in &found.plans {
        out.files += 1;
        match plan_json::read(p) {
            Ok(f) => facts.push(f),
            Err(e) => out.errors.push(e),
        }
    }
    out.modules = facts.len();
    out.inventory = build::inventory(&facts, &calls_of);
    out
}
