//! Nested stacks: an `AWS::CloudFormation::Stack` whose `TemplateURL` is a local path, or an
//! `AWS::Serverless::Application` whose `Location` is one (as templates are before `aws
//! cloudformation package` or `sam package`), or either when CDK's `Metadata` names the local
//! file it uploads as that property (`aws:asset:path` with `aws:asset:property`), is evaluated
//! as CloudFormation deploys it: the template at that path (relative to the parent's directory)
//! as an instance, its parameters from the resource's `Parameters` (evaluated in the parent),
//! else their defaults.
//!
//! An instance's keys and targets are named after the parent's resource
//! (`key/parent.yaml/Nested/child.yaml/Key`), so they never collide with the child judged on its
//! own; its locations are in the child's file. What it traces and what sets X-Ray's encryption
//! join the parent's decision, and its `Outputs` are what the parent's `Fn::GetAtt
//! Nested.Outputs.Name` reads.
//!
//! What is not followed (an S3 or HTTPS URL, a Serverless Application Repository application, a
//! path that is unknown, missing, not a template, outside the paths scanned, a cycle, or past a
//! bound) may set the encryption or turn tracing on: it is an unknown setter and an unknown
//! tracing site of the parent, and its outputs are unknown, with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use xray_cmk_core::model::CloudFormationTemplate;
use xray_cmk_core::Inventory;

use crate::build::{Parsed, Place};
use crate::eval::{Parameters, Passed, R};
use crate::files;
use crate::yaml::Node;

/// How deep nested stacks may nest below the template scanned.
pub(crate) const MAX_DEPTH: usize = 16;
/// How many nested stack instances one template's tree may make.
pub(crate) const MAX_TREE_INSTANCES: usize = 2_000;
/// How many nested stack instances a scan may make in all.
pub(crate) const MAX_SCAN_INSTANCES: usize = 50_000;
/// How many resources the instances of a scan may hold in all (each instance evaluates its
/// template again, with its own parameters).
pub(crate) const MAX_SCAN_RESOURCES: usize = 1_000_000;
/// How much template text the scan keeps parsed for nested stacks (each template read once).
pub(crate) const MAX_CACHED_BYTES: usize = 256 * 1024 * 1024;

/// Where a nested stack's template is.
pub(crate) enum Source {
    /// A local file, as the parent names it (relative paths joined to the parent's directory).
    Local(PathBuf),
    /// Not followed, and why.
    NotFollowed(String),
}

/// A nested stack evaluated as an instance.
pub(crate) struct Followed {
    /// What it (and the nested stacks it follows) traces and sets.
    pub template: CloudFormationTemplate,
    pub outputs: BTreeMap<String, R>,
}

type Loaded = Rc<Result<Node, String>>;

/// What following nested stacks shares across a scan: where it may read, the templates read,
/// the bounds, and which template nested which.
pub(crate) struct Nesting<'g> {
    given: &'g Parameters,
    /// The directories given, and those of the files given (canonical): a nested template
    /// elsewhere is not read.
    dirs: Vec<PathBuf>,
    cache: BTreeMap<PathBuf, Loaded>,
    /// The templates being deployed, from the one scanned down to the current instance.
    stack: Vec<PathBuf>,
    tree_instances: usize,
    scan_instances: usize,
    scan_resources: usize,
    cached_bytes: usize,
    pub notes: Vec<String>,
    /// Each (parent, child) followed, canonical.
    pub edges: BTreeSet<(PathBuf, PathBuf)>,
}

/// A path with `.` and `..` taken out where they can be, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether a `TemplateURL` or `Location` string is a URL rather than a local path.
pub(crate) fn is_url(s: &str) -> bool {
    s.contains("://") || s.contains(".amazonaws.com/")
}

impl<'g> Nesting<'g> {
    pub fn new(paths: &[PathBuf], given: &'g Parameters) -> Self {
        let dirs = paths
            .iter()
            .filter_map(|p| {
                let c = std::fs::canonicalize(p).ok()?;
                if c.is_dir() {
                    Some(c)
                } else {
                    c.parent().map(Path::to_path_buf)
                }
            })
            .collect();
        Nesting {
            given,
            dirs,
            cache: BTreeMap::new(),
            stack: Vec::new(),
            tree_instances: 0,
            scan_instances: 0,
            scan_resources: 0,
            cached_bytes: 0,
            notes: Vec::new(),
            edges: BTreeSet::new(),
        }
    }

    /// A template already read as a nested stack, when it parsed: the scan does not read it
    /// again.
    pub fn read_already(&self, canonical: &Path) -> Option<Loaded> {
        self.cache
            .get(canonical)
            .filter(|d| d.is_ok())
            .map(Rc::clone)
    }

    /// Starts the tree of a template scanned.
    pub fn start(&mut self, canonical: Option<PathBuf>) {
        self.stack = canonical.into_iter().collect();
        self.tree_instances = 0;
    }

    fn load(&mut self, canonical: &Path, display: &str) -> Loaded {
        if let Some(d) = self.cache.get(canonical) {
            return Rc::clone(d);
        }
        let doc = match files::read_text(canonical, files::TEMPLATE_CAP) {
            files::Read::Refused { error, .. } => Err(error.message),
            files::Read::Text(text) if self.cached_bytes + text.len() > MAX_CACHED_BYTES => {
                // Not kept: the next instance tries again, and is refused again.
                return Rc::new(Err(format!(
                    "the scan's nested templates hold more than {} MiB",
                    MAX_CACHED_BYTES / (1024 * 1024)
                )));
            }
            files::Read::Text(text) => match crate::yaml::parse(&{
                self.cached_bytes += text.len();
                text
            }) {
                Ok(root) if crate::build::is_template(&root) => Ok(root),
                Ok(_) => Err("not a CloudFormation template".to_owned()),
                Err(e) => Err(format!("line {}: {}", e.line, e.message)),
            },
        };
        let doc =
            Rc::new(doc.map_err(|why| format!("its template {display} cannot be read: {why}")));
        self.cache.insert(canonical.to_path_buf(), Rc::clone(&doc));
        doc
    }

    /// Evaluates the template at `path` as a nested stack of the template being evaluated,
    /// with what the parent passes; or why it is not followed.
    pub fn follow(
        &mut self,
        path: &Path,
        inv: &mut Inventory,
        passed: &Passed,
        place: Place,
    ) -> Result<Followed, String> {
        let path = normalise(path);
        let display = files::display(&path);
        let canonical = std::fs::canonicalize(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("its template {display} does not exist")
            } else {
                format!("its template {display} cannot be read: {e}")
            }
        })?;
        if !self.dirs.iter().any(|d| canonical.starts_with(d)) {
            let why = format!(
                "its template {display} is outside the paths scanned (scan a directory that holds both)"
            );
            let note = format!(
                "not followed: {display}, a nested stack's template outside the paths scanned"
            );
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
            return Err(why);
        }
        if self.stack.contains(&canonical) {
            return Err(format!(
                "a cycle: {display} is already deployed above it, so it would nest itself without end"
            ));
        }
        if self.stack.len() > MAX_DEPTH {
            return Err(format!("nested stacks nest more than {MAX_DEPTH} deep"));
        }
        if self.tree_instances >= MAX_TREE_INSTANCES {
            return Err(format!(
                "the template scanned makes more than {MAX_TREE_INSTANCES} nested stack instances"
            ));
        }
        if self.scan_instances >= MAX_SCAN_INSTANCES {
            return Err(format!(
                "the scan makes more than {MAX_SCAN_INSTANCES} nested stack instances"
            ));
        }
        let doc = self.load(&canonical, &display);
        let root = match &*doc {
            Ok(root) => root,
            Err(why) => return Err(why.clone()),
        };
        let resources = root.get("Resources").map_or(0, |r| r.entries().len());
        if self.scan_resources + resources > MAX_SCAN_RESOURCES {
            return Err(format!(
                "the scan's nested stack instances hold more than {MAX_SCAN_RESOURCES} resources"
            ));
        }
        self.tree_instances += 1;
        self.scan_instances += 1;
        self.scan_resources += resources;
        if let Some(parent) = self.stack.last() {
            self.edges.insert((parent.clone(), canonical.clone()));
        }
        self.stack.push(canonical);
        let given = self.given;
        let child = Parsed::at(display, root, given, Some(passed), place);
        let template = child.add_to(inv, self);
        let outputs = child.outputs();
        self.stack.pop();
        Ok(Followed { template, outputs })
    }

    /// The templates another template nests, so that `cfn-xray-encryption-missing` judges the
    /// tree from its top, as Terraform's rule judges root modules: a template is nested when a
    /// template it does not itself reach (a cycle has no top) nests it.
    pub fn nested_templates(&self) -> BTreeSet<PathBuf> {
        let mut next: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
        for (p, c) in &self.edges {
            next.entry(p.as_path()).or_default().push(c.as_path());
        }
        let mut out = BTreeSet::new();
        let children: BTreeSet<&Path> = self.edges.iter().map(|(_, c)| c.as_path()).collect();
        for c in children {
            let mut reach = BTreeSet::new();
            let mut todo = vec![c];
            while let Some(t) = todo.pop() {
                for n in next.get(t).into_iter().flatten() {
                    if reach.insert(*n) {
                        todo.push(*n);
                    }
                }
            }
            let nested = self
                .edges
                .iter()
                .any(|(p, ch)| ch.as_path() == c && p != ch && !reach.contains(p.as_path()));
            if nested {
                out.insert(c.to_path_buf());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_without_the_file_system() {
        assert_eq!(
            normalise(Path::new("a/./b/../c.yaml")),
            PathBuf::from("a/c.yaml")
        );
        assert_eq!(
            normalise(Path::new("../x/../../y.yaml")),
            PathBuf::from("../../y.yaml")
        );
        assert_eq!(normalise(Path::new("./c.yaml")), PathBuf::from("c.yaml"));
    }

    #[test]
    fn urls_are_not_paths() {
        assert!(is_url("https://bucket.s3.amazonaws.com/child.yaml"));
        assert!(is_url("s3://bucket/child.yaml"));
        assert!(!is_url("nested/child.yaml"));
        assert!(!is_url("../child.template"));
        assert!(!is_url("s3.yaml"), "a file may be named after S3");
    }
}
