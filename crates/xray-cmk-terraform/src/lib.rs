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
mod plan_json;
mod value;

use std::path::PathBuf;

use xray_cmk_core::{Inventory, SourceLocation};

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

/// Scans `.tf` files, directories (recursively; each directory with `.tf` files is a module) and
/// plan JSON files.
pub fn scan(paths: &[PathBuf]) -> IacScan {
    let found = files::discover(paths);
    let mut out = IacScan {
        errors: found.errors,
        ..IacScan::default()
    };
    let mut facts = Vec::new();
    for m in &found.modules {
        out.files += m.files.len();
        let parsed = module::parse(m);
        out.errors.extend(parsed.errors.iter().cloned());
        facts.push(eval::evaluate(&parsed));
    }
    for p in &found.plans {
        out.files += 1;
        match plan_json::read(p) {
            Ok(f) => facts.push(f),
            Err(e) => out.errors.push(e),
        }
    }
    out.modules = facts.len();
    out.inventory = build::inventory(&facts);
    out
}
