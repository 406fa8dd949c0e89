//! Finding template candidates under the paths given and reading them safely.
//!
//! The same guarantees as the Terraform reader's walk, written small for this crate (that walk
//! is shaped around modules and variable files): each real directory is walked once whatever
//! symbolic links lead to it again; a link out of the paths given is not followed; only regular
//! files are read, never a FIFO or a device, and never more than a cap.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::CfnError;

/// The most a template may hold. CloudFormation itself takes at most 1 MB from S3; a bigger file
/// is generated or hostile.
pub(crate) const TEMPLATE_CAP: u64 = 4 * 1024 * 1024;

/// What a directory walk found: candidate files (to be read and sniffed), errors, notes.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Each with whether it was named on the command line (then a file that is not a template is
    /// an error, not something to skip).
    pub files: Vec<(PathBuf, bool)>,
    pub errors: Vec<CfnError>,
    pub notes: Vec<String>,
}

/// Whether a file name is one a template may have.
pub fn template_name(name: &str) -> bool {
    [".yaml", ".yml", ".json", ".template"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn skipped_dir(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules"
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &std::fs::Metadata) -> Option<(u64, u64, PathBuf)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((meta.dev(), meta.ino(), PathBuf::new()))
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &std::fs::Metadata) -> Option<(u64, u64, PathBuf)> {
    std::fs::canonicalize(path).ok().map(|p| (0, 0, p))
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A path as findings show it: `/`-separated, without a leading `./`.
pub(crate) fn display(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

pub(crate) fn error_at(path: &Path, line: u32, column: u32, message: String) -> CfnError {
    CfnError {
        location: xray_cmk_core::SourceLocation {
            file: display(path),
            line,
            column,
            end_line: line,
            end_column: column + 1,
        },
        message,
    }
}

fn whole(path: &Path, message: String) -> CfnError {
    error_at(path, 1, 1, message)
}

pub(crate) fn discover(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let roots: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut seen_dirs = BTreeSet::new();
    let mut seen_files = BTreeSet::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                found.errors.push(whole(
                    path,
                    if e.kind() == std::io::ErrorKind::NotFound {
                        "no such file or directory".to_owned()
                    } else {
                        format!("cannot read: {e}")
                    },
                ));
                continue;
            }
        };
        if !meta.is_dir() {
            if identity(path, &meta).is_none_or(|id| seen_files.insert(id)) {
                found.files.push((path.clone(), true));
            }
            continue;
        }
        let Some(id) = identity(path, &meta) else {
            continue;
        };
        if !seen_dirs.insert(id) {
            found.notes.push(format!(
                "skipped {}: the same directory as one already scanned",
                display(path)
            ));
            continue;
        }
        // Depth first, in name order, without recursion.
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            let mut children: Vec<PathBuf> = match std::fs::read_dir(&dir) {
                Ok(e) => e.filter_map(Result::ok).map(|e| e.path()).collect(),
                Err(e) => {
                    found
                        .errors
                        .push(whole(&dir, format!("cannot read directory: {e}")));
                    continue;
                }
            };
            children.sort();
            let mut subdirs = Vec::new();
            for child in children {
                let name = child
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let Ok(meta) = std::fs::metadata(&child) else {
                    // A broken link: nothing to read, and not named by the user.
                    continue;
                };
                let wanted = meta.is_dir() || template_name(&name);
                if !wanted {
                    continue;
                }
                if is_link(&child) {
                    let inside = std::fs::canonicalize(&child)
                        .is_ok_and(|t| roots.iter().any(|r| t.starts_with(r)));
                    if !inside {
                        found.notes.push(format!(
                            "skipped {}: a symbolic link outside the paths scanned, not followed",
                            display(&child)
                        ));
                        continue;
                    }
                }
                let Some(id) = identity(&child, &meta) else {
                    continue;
                };
                if meta.is_dir() {
                    if skipped_dir(&name) {
                        continue;
                    }
                    if seen_dirs.insert(id) {
                        subdirs.push(child);
                    } else {
                        found.notes.push(format!(
                            "skipped {}: a directory already scanned (a symbolic link cycle?)",
                            display(&child)
                        ));
                    }
                } else if seen_files.insert(id) || !meta.is_file() {
                    found.files.push((child, false));
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
    }
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

/// What reading a candidate gave.
pub(crate) enum Read {
    Text(String),
    /// The file could not be read as a template; `looks_like_template` says whether its first
    /// bytes name `AWSTemplateFormatVersion` or `Resources`, so that a skipped file that is not
    /// a template stays silent.
    Refused {
        error: CfnError,
        looks_like_template: bool,
    },
}

/// Whether text mentions what makes a file a template; a cheap test before parsing.
pub(crate) fn mentions_template(text: &str) -> bool {
    text.contains("AWSTemplateFormatVersion") || text.contains("Resources")
}

/// The text of a regular file of at most `cap` bytes, checked before and after opening.
pub(crate) fn read_text(path: &Path, cap: u64) -> Read {
    let refuse = |message: String, looks: bool| Read::Refused {
        error: whole(path, message),
        looks_like_template: looks,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return refuse(format!("cannot read: {e}"), true),
    };
    if let Some(what) = not_regular(&meta) {
        return refuse(format!("refused: {what}, not a regular file"), true);
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return refuse(format!("cannot read: {e}"), true),
    };
    match file.metadata() {
        Ok(m) if not_regular(&m).is_none() => {}
        Ok(m) => {
            let what = not_regular(&m).unwrap_or("a special file");
            return refuse(format!("refused: {what}, not a regular file"), true);
        }
        Err(e) => return refuse(format!("cannot read: {e}"), true),
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.take(cap + 1).read_to_end(&mut bytes) {
        return refuse(format!("cannot read: {e}"), true);
    }
    let looks = |bytes: &[u8]| {
        mentions_template(&String::from_utf8_lossy(
            &bytes[..bytes.len().min(64 * 1024)],
        ))
    };
    if bytes.len() as u64 > cap {
        return refuse(
            format!(
                "refused: larger than the {} MiB cap for a template",
                cap / (1024 * 1024)
            ),
            looks(&bytes),
        );
    }
    match String::from_utf8(bytes) {
        Ok(text) => Read::Text(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let looks = looks(e.as_bytes());
            refuse(
                format!("refused: not UTF-8 text (byte {at} is not; binary content?)"),
                looks,
            )
        }
    }
}
