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
    /// What was skipped or read leniently on purpose (a directory reached again through a
    /// symbolic link, a file linked twice, a repeated object key), one line each, for stderr.
    pub notes: Vec<String>,
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
                f.location()
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
        notes: found.notes,
        ..IacScan::default()
    };
    // Parse every module on every core; then prepare each once, and evaluate each as a root
    // module, following its calls of the other modules into instances of them.
    let parsed: Vec<module::Parsed> = on_every_core(&found.modules, module::parse);
    out.files += found.modules.iter().map(|m| m.files.len()).sum::<usize>();
    let prepared: Vec<eval::Prepared<'_>> = on_every_core(&parsed, eval::Prepared::new);
    let catalog: eval::Catalog<'_> = prepared
        .into_iter()
        .map(|m| (m.dir().to_owned(), m))
        .collect();
    let scan_budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(
        eval::MAX_SCAN_INSTANCES,
    ));
    let mut facts: Vec<build::ModuleFacts> = on_every_core(&parsed, |p| {
        let budget = eval::Budget::new(
            eval::MAX_TREE_INSTANCES,
            std::sync::Arc::clone(&scan_budget),
            eval::MAX_SCAN_INSTANCES,
        );
        catalog
            .get(&p.dir)
            .map(|m| eval::evaluate(m, &catalog, budget))
    })
    .into_iter()
    .flatten()
    .collect();
    let call_sites: Vec<Vec<(String, SourceLocation)>> = facts
        .iter()
        .map(|f| {
            catalog
                .get(&f.path)
                .map(eval::Prepared::local_calls)
                .unwrap_or_default()
        })
        .collect();
    drop(catalog);
    for p in parsed {
        out.errors.extend(p.errors);
        out.notes.extend(p.notes);
    }
    out.errors.extend(module_cycles(&facts, &call_sites));
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

/// `f` over `items` on every core, in order.
fn on_every_core<'a, T: Sync, U: Send>(items: &'a [T], f: impl Fn(&'a T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
/// An error at each module call that closes a cycle of local module calls (`a` calls `b` calls
/// `a`): Terraform refuses such a configuration, and no module in it is a root to judge.
/// `call_sites[i]` are the `module` blocks of `facts[i]`, by the directory each names.
fn module_cycles(
    facts: &[build::ModuleFacts],
    call_sites: &[Vec<(String, SourceLocation)>],
) -> Vec<IacError> {
    use std::collections::BTreeMap;
    let index: BTreeMap<&str, usize> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = facts
        .iter()
        .map(|f| {
            f.calls
                .iter()
                .filter_map(|c| index.get(c.as_str()).copied())
                .collect()
        })
        .collect();
    let mut errors = Vec::new();
    // 0: not seen, 1: on the current path, 2: done. Iterative, so a long chain cannot exhaust
    // the stack.
    let mut state = vec![0u8; facts.len()];
    for start in 0..facts.len() {
        if state[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((node, next)) = path.last_mut() {
            let (node, edge) = (*node, *next);
            let Some(&to) = edges[node].get(edge) else {
                state[node] = 2;
                path.pop();
                continue;
            };
            *next += 1;
            match state[to] {
                0 => {
                    state[to] = 1;
                    path.push((to, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let cycle: Vec<&str> = path[from..]
                        .iter()
                        .map(|(n, _)| facts[*n].path.as_str())
                        .chain(std::iter::once(facts[to].path.as_str()))
                        .collect();
                    let location = call_sites
                        .get(node)
                        .and_then(|sites| sites.iter().find(|(dir, _)| *dir == facts[to].path))
                        .map_or_else(|| facts[node].location.clone(), |(_, l)| l.clone());
                    errors.push(IacError {
                        location,
                        message: format!(
                            "module call cycle: {}; Terraform refuses it, and the modules in it are not judged as a root module",
                            cycle.join(" -> ")
                        ),
                    });
                }
                _ => {}
            }
        }
    }
    errors
}
