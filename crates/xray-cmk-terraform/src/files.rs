//! Finding the modules and plan files under the paths given, and turning byte offsets into the
//! lines and columns findings report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use xray_cmk_core::SourceLocation;

use crate::IacError;

/// One module: a directory and the `.tf` and variable files read from it.
#[derive(Debug, Clone)]
pub(crate) struct ModuleFiles {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// `terraform.tfvars` then `*.auto.tfvars`, in that order (later ones win, as in Terraform).
    pub tfvars: Vec<PathBuf>,
}

#[derive(Debug, Default)]
pub(crate) struct Found {
    pub modules: Vec<ModuleFiles>,
    pub plans: Vec<PathBuf>,
    pub errors: Vec<IacError>,
}

/// Directories Terraform itself writes or that hold no configuration.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules"
}

fn walk(dir: &Path, modules: &mut BTreeMap<PathBuf, Vec<PathBuf>>, errors: &mut Vec<IacError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(IacError {
                location: whole_file(dir),
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    children.sort();
    for path in children {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if !skipped(&name) {
                walk(&path, modules, errors);
            }
        } else if name.ends_with(".tf") {
            modules.entry(dir.to_path_buf()).or_default().push(path);
        }
    }
}

fn tfvars_of(dir: &Path) -> Vec<PathBuf> {
    let mut auto: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|e| {
            e.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".auto.tfvars"))
                .collect()
        })
        .unwrap_or_default();
    auto.sort();
    let main = dir.join("terraform.tfvars");
    main.is_file()
        .then_some(main)
        .into_iter()
        .chain(auto)
        .collect()
}

pub(crate) fn discover(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let mut modules: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut modules, &mut found.errors);
        } else if path.is_file() {
            let name = path.to_string_lossy();
            if name.ends_with(".json") {
                found.plans.push(path.clone());
            } else if name.ends_with(".tf") {
                let dir = path
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let dir = if dir.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    dir
                };
                modules.entry(dir).or_default().push(path.clone());
            } else {
                found.errors.push(IacError {
                    location: whole_file(path),
                    message: "not a .tf file, a directory or a plan JSON file".to_owned(),
                });
            }
        } else {
            found.errors.push(IacError {
                location: whole_file(path),
                message: "no such file or directory".to_owned(),
            });
        }
    }
    found.modules = modules
        .into_iter()
        .map(|(dir, mut files)| {
            files.sort();
            files.dedup();
            ModuleFiles {
                tfvars: tfvars_of(&dir),
                dir,
                files,
            }
        })
        .collect();
    found
}

/// A location covering the start of a file, for errors about the file as a whole.
pub(crate) fn whole_file(path: &Path) -> SourceLocation {
    SourceLocation {
        file: display(path),
        line: 1,
        column: 1,
        end_line: 1,
        end_column: 1,
    }
}

/// A path as findings show it: `/`-separated, without a leading `./`.
pub(crate) fn display(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

/// Byte offsets to 1-based lines and columns (columns in characters).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    file: String,
    text: String,
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(file: String, text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            file,
            text: text.to_owned(),
            starts,
        }
    }

    fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self
            .starts
            .partition_point(|s| *s <= offset)
            .saturating_sub(1);
        let start = self.starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }

    /// The region from `start` to the end of its line: a block's header, where a reader looks.
    pub fn header(&self, start: usize) -> SourceLocation {
        let (line, column) = self.line_col(start);
        let line_end = self
            .text
            .get(start..)
            .and_then(|rest| rest.find('\n'))
            .map_or(self.text.len(), |i| start + i);
        let (_, end_column) = self.line_col(line_end);
        SourceLocation {
            file: self.file.clone(),
            line,
            column,
            end_line: line,
            end_column,
        }
    }

    pub fn at(&self, line: u32, column: u32) -> SourceLocation {
        SourceLocation {
            file: self.file.clone(),
            line,
            column,
            end_line: line,
            end_column: column + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let idx = LineIndex::new("a.tf".into(), "x = 1\n# é\nresource \"a\" \"b\" {\n}\n");
        let loc = idx.header(11);
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (3, 1, 3, 19)
        );
        assert_eq!(idx.line_col(10), (2, 4), "é is one column");
    }
}
