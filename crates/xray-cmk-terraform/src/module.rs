//! Parsing a module's files into its top-level blocks, each with where it is.

use hcl::edit::structure::{Block, Body};
use hcl::edit::Span;

use crate::files::{display, LineIndex, ModuleFiles};
use crate::IacError;

/// A top-level block: `resource "aws_kms_key" "x" { … }`, `variable "v" { … }`, `locals { … }`…
#[derive(Debug, Clone)]
pub(crate) struct Decl {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
    /// Index into [`Parsed::files`].
    pub file: usize,
    pub start: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub dir: String,
    pub files: Vec<LineIndex>,
    pub decls: Vec<Decl>,
    /// Variable assignments from `terraform.tfvars` and `*.auto.tfvars`, in order.
    pub tfvars: Vec<Body>,
    pub errors: Vec<IacError>,
}

fn read(path: &std::path::Path, errors: &mut Vec<IacError>) -> Option<(LineIndex, Body)> {
    let name = display(path);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(IacError {
                location: crate::files::whole_file(path),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let index = LineIndex::new(name, &text);
    match hcl::edit::parser::parse_body(&text) {
        Ok(body) => Some((index, body)),
        Err(e) => {
            let loc = e.location();
            errors.push(IacError {
                location: index.at(
                    u32::try_from(loc.line()).unwrap_or(u32::MAX),
                    u32::try_from(loc.column()).unwrap_or(u32::MAX),
                ),
                message: format!("HCL syntax error: {}", e.message()),
            });
            None
        }
    }
}

fn labels(block: &Block) -> Vec<String> {
    block.labels.iter().map(|l| l.as_str().to_owned()).collect()
}

pub(crate) fn parse(m: &ModuleFiles) -> Parsed {
    let mut out = Parsed {
        dir: display(&m.dir),
        files: Vec::new(),
        decls: Vec::new(),
        tfvars: Vec::new(),
        errors: Vec::new(),
    };
    for path in &m.files {
        let Some((index, body)) = read(path, &mut out.errors) else {
            continue;
        };
        let file = out.files.len();
        out.files.push(index);
        for block in body.blocks() {
            out.decls.push(Decl {
                kind: block.ident.as_str().to_owned(),
                labels: labels(block),
                body: block.body.clone(),
                file,
                start: block.span().map_or(0, |s| s.start),
            });
        }
    }
    for path in &m.tfvars {
        if let Some((_, body)) = read(path, &mut out.errors) {
            out.tfvars.push(body);
        }
    }
    out
}
