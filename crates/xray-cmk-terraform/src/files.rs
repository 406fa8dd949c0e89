//! Finding the modules and plan files under the paths given, reading them safely, and turning
//! byte offsets into the lines and columns findings report.
//!
//! The tree may be hostile (a pull request in CI): each real directory is walked once, by its own
//! path, whatever symbolic links lead to it again (a cycle is a note, not a walk); a link out of
//! the paths given is not followed; only regular files are read, never a FIFO or a device, and
//! never more than a cap.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use xray_cmk_core::SourceLocation;

use crate::IacError;

/// The most a `.tf` or `.tfvars` file may hold. Real modules' files are a few KiB; a bigger one is
/// generated or hostile.
pub(crate) const HCL_CAP: u64 = 4 * 1024 * 1024;
/// The most a plan JSON file may hold: `terraform show -json` of a large plan runs to tens of MiB.
pub(crate) const PLAN_CAP: u64 = 64 * 1024 * 1024;

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
    /// What was left out on purpose (a directory reached again through a link), for stderr.
    pub notes: Vec<String>,
}

/// Directories Terraform itself writes or that hold no configuration.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules"
}

/// What a file or directory is, whatever path reaches it: `(device, inode)` on Unix, the canonical
/// path elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identity {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Path(PathBuf),
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt as _;
    Some(Identity::Inode(meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &std::fs::Metadata) -> Option<Identity> {
    std::fs::canonicalize(path).ok().map(Identity::Path)
}

/// The walk's state: directories and files already taken, by identity, and the path that took each.
#[derive(Default)]
struct Walk {
    /// The directories given, canonical and as given: symbolic links are followed only within.
    roots: Vec<(PathBuf, PathBuf)>,
    dirs: BTreeMap<Identity, PathBuf>,
    modules: BTreeMap<PathBuf, Vec<PathBuf>>,
    tfvars: BTreeMap<PathBuf, Vec<PathBuf>>,
    errors: Vec<IacError>,
    notes: Vec<String>,
}

fn is_tfvars(name: &str) -> bool {
    name == "terraform.tfvars" || name.ends_with(".auto.tfvars")
}

impl Walk {
    /// Takes `dir` unless its real directory was taken already (a link cycle, or a second link).
    fn enter(&mut self, dir: &Path, meta: &std::fs::Metadata) -> bool {
        let Some(id) = identity(dir, meta) else {
            self.errors.push(IacError {
                location: whole_file(dir),
                message: "cannot resolve the directory's real path".to_owned(),
            });
            return false;
        };
        if let Some(first) = self.dirs.get(&id) {
            // Reached again from inside itself: a link to an ancestor.
            let cycle = dir.starts_with(first);
            let first = display(first);
            self.notes.push(if cycle {
                format!(
                    "skipped {}: a symbolic link cycle back to {first}, which is scanned once",
                    display(dir)
                )
            } else {
                format!(
                    "skipped {}: the same directory as {first}, which is scanned once",
                    display(dir)
                )
            });
            return false;
        }
        self.dirs.insert(id, dir.to_path_buf());
        true
    }

    /// `target` (canonical) as the user would name it, under the root given that holds it; `None`
    /// when no root holds it.
    fn shown(&self, target: &Path) -> Option<PathBuf> {
        self.roots.iter().find_map(|(canonical, given)| {
            let rel = target.strip_prefix(canonical).ok()?;
            Some(if rel.as_os_str().is_empty() {
                given.clone()
            } else {
                given.join(rel)
            })
        })
    }

    /// Whether the walk follows `path`, an entry of `dir` that is a directory or a file it wants,
    /// once links are followed. A symbolic link is not followed when it leads out of the paths
    /// given (a link to `/` or to the runner's files: a file is refused, a directory noted), nor to
    /// a directory inside them, which is reached by its own path whatever the names sort.
    fn follows(&mut self, dir: &Path, path: &Path, is_dir: bool) -> bool {
        if !is_link(path) {
            return true;
        }
        let target = match std::fs::canonicalize(path) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(IacError {
                    location: whole_file(path),
                    message: format!("cannot resolve the symbolic link: {e}"),
                });
                return false;
            }
        };
        let Some(shown) = self.shown(&target) else {
            let why = format!(
                "a symbolic link to {}, outside the paths scanned",
                display(&target)
            );
            if is_dir {
                self.notes
                    .push(format!("skipped {}: {why}, not followed", display(path)));
            } else {
                self.errors.push(IacError {
                    location: whole_file(path),
                    message: format!("refused: {why}"),
                });
            }
            return false;
        };
        if !is_dir {
            return true;
        }
        let cycle = std::fs::canonicalize(dir).is_ok_and(|d| d.starts_with(&target));
        self.notes.push(if cycle {
            format!(
                "skipped {}: a symbolic link cycle back to {}, which is scanned once",
                display(path),
                display(&shown)
            )
        } else {
            format!(
                "skipped {}: a symbolic link to {}, which is scanned by its own path",
                display(path),
                display(&shown)
            )
        });
        false
    }

    /// Walks `root` depth first, in name order, without recursion (a deep tree cannot exhaust
    /// the stack).
    fn walk(&mut self, root: &Path) {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    self.errors.push(IacError {
                        location: whole_file(&dir),
                        message: format!("cannot read directory: {e}"),
                    });
                    continue;
                }
            };
            let mut children: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).collect();
            children.sort();
            let mut subdirs = Vec::new();
            for path in children {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let wanted_file = name.ends_with(".tf") || is_tfvars(&name);
                // Follows links: a link is what it points at.
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) => {
                        if wanted_file {
                            self.errors.push(IacError {
                                location: whole_file(&path),
                                message: format!("cannot read: {e} (a broken symbolic link?)"),
                            });
                        }
                        continue;
                    }
                };
                if meta.is_dir() {
                    if !skipped(&name)
                        && self.follows(&dir, &path, true)
                        && self.enter(&path, &meta)
                    {
                        subdirs.push(path);
                    }
                } else if wanted_file && (!meta.is_file() || self.follows(&dir, &path, false)) {
                    // Not a regular file (a FIFO, a device): kept, so reading refuses it and says
                    // what it is.
                    let into = if name.ends_with(".tf") {
                        &mut self.modules
                    } else {
                        &mut self.tfvars
                    };
                    into.entry(dir.clone()).or_default().push(path);
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
    }
}

/// `terraform.tfvars` first, then `*.auto.tfvars` in name order.
fn order_tfvars(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    files.sort_by_key(|p| {
        (
            p.file_name().is_none_or(|n| n != "terraform.tfvars"),
            p.clone(),
        )
    });
    files.dedup();
    files
}

/// The variable files of a directory given only through one of its `.tf` files.
fn tfvars_of(dir: &Path) -> Vec<PathBuf> {
    let files = std::fs::read_dir(dir)
        .map(|e| {
            e.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| is_tfvars(&n.to_string_lossy()))
                })
                .collect()
        })
        .unwrap_or_default();
    order_tfvars(files)
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Keeps one path to each real file, so a file linked twice into a module is read once: its own
/// path if it is there, else the first link to it.
fn dedup_files(files: Vec<PathBuf>, notes: &mut Vec<String>) -> Vec<PathBuf> {
    let ids: Vec<Option<Identity>> = files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .and_then(|m| identity(f, &m))
        })
        .collect();
    let links: Vec<bool> = files.iter().map(|f| is_link(f)).collect();
    let mut kept: BTreeMap<&Identity, usize> = BTreeMap::new();
    for link in [false, true] {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id.as_ref().filter(|_| links[i] == link) {
                kept.entry(id).or_insert(i);
            }
        }
    }
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match ids[i].as_ref().and_then(|id| kept.get(id)) {
            Some(&first) if first != i => notes.push(format!(
                "skipped {}: the same file as {}, which is read once",
                display(f),
                display(&files[first])
            )),
            // Not a regular file: reading it reports why.
            _ => out.push(f.clone()),
        }
    }
    out
}

pub(crate) fn discover(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let mut walk = Walk::default();
    // Directories given through one of their files: their variable files are looked up.
    let mut file_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    walk.roots = paths
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((std::fs::canonicalize(p).ok()?, p.clone())))
        .collect();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_owned()
                } else {
                    format!("cannot read: {e}")
                };
                found.errors.push(IacError {
                    location: whole_file(path),
                    message,
                });
                continue;
            }
        };
        let name = path.to_string_lossy();
        if meta.is_dir() {
            if walk.enter(path, &meta) {
                walk.walk(path);
            }
        } else if name.ends_with(".json") {
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
            file_dirs.insert(dir.clone());
            walk.modules.entry(dir).or_default().push(path.clone());
        } else {
            found.errors.push(IacError {
                location: whole_file(path),
                message: "not a .tf file, a directory or a plan JSON file".to_owned(),
            });
        }
    }
    found.plans = dedup_files(std::mem::take(&mut found.plans), &mut walk.notes);
    let Walk {
        modules,
        mut tfvars,
        errors,
        mut notes,
        ..
    } = walk;
    found.errors.extend(errors);
    found.modules = modules
        .into_iter()
        .map(|(dir, mut files)| {
            files.sort();
            files.dedup();
            let vars = match tfvars.remove(&dir) {
                Some(v) => order_tfvars(v),
                None if file_dirs.contains(&dir) => tfvars_of(&dir),
                None => Vec::new(),
            };
            ModuleFiles {
                files: dedup_files(files, &mut notes),
                tfvars: dedup_files(vars, &mut notes),
                dir,
            }
        })
        .collect();
    found.notes = notes;
    found
}

/// Why a path cannot be read as text, before it is opened: opening a FIFO blocks until a writer
/// comes, and a device such as `/dev/zero` never ends.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
    }
    Some("a special file")
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// The text of a regular file of at most `cap` bytes. A link is followed, and what it points at
/// must be a regular file too; the file type is checked before it is opened and again on the open
/// handle, and at most `cap + 1` bytes are read, whatever the size the file claimed.
pub(crate) fn read_text(path: &Path, cap: u64) -> Result<String, IacError> {
    let refuse = |message: String| IacError {
        location: whole_file(path),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    let too_big = |len: u64| {
        refuse(format!(
            "refused: larger than the {} cap for this kind of file ({len} bytes or more)",
            mib(cap)
        ))
    };
    if let Some(what) = not_regular(&meta) {
        return Err(refuse(format!("refused: {what}, not a regular file")));
    }
    if meta.len() > cap {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    // It may have been swapped between the check and the open.
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if let Some(what) = not_regular(&meta) {
        return Err(refuse(format!("refused: {what}, not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
        let index = LineIndex::new(display(path), valid);
        let (line, column) = index.line_col(at);
        IacError {
            location: index.at(line, column),
            message: format!("refused: not UTF-8 text (byte {at} is not; binary content?)"),
        }
    })
}

/// `dir/rel`, with `.` and `..` resolved lexically (a module `source` names a path, not a link).
pub(crate) fn join_lexical(dir: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dir.join(rel).components() {
        match c {
            std::path::Component::ParentDir => {
                // `..` above where the path starts stays `..`.
                if out.file_name().is_some() {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
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

    pub fn line_col(&self, offset: usize) -> (u32, u32) {
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
