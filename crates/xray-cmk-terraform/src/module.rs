//! Parsing a module's files into its top-level blocks, each with where it is.

use hcl::edit::expr::{Expression, Object, ObjectKey};
use hcl::edit::structure::{Block, Body};
use hcl::edit::visit_mut::VisitMut;
use hcl::edit::{Decorated, Ident, Span};

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
    /// What was read leniently (a repeated object key), for stderr.
    pub notes: Vec<String>,
}

/// How many repeated object keys one file may have before it is reported as an error instead.
const MAX_DUPLICATE_KEYS: usize = 100;
/// Each repeated key costs a parse of the whole file again: at most this many bytes parsed in
/// all, so a big file full of repeats cannot make a scan slow.
const REPARSE_BUDGET: usize = 16 * 1024 * 1024;

/// A file [`parse_last_wins`] could not parse: a syntax error, or more repeated keys than it
/// takes (`too_many`).
#[derive(Debug)]
struct ParseFailure {
    error: hcl::edit::parser::Error,
    too_many: bool,
}

/// What a marked key starts with: the second of two equal keys, renamed so the parser takes it.
const DUP_MARK: &str = "xraycmk_dup";

/// A body parsed from `text`, taking repeated keys in an object (`{ a = 1, a = 2 }`) as Terraform
/// does, the last one winning; hcl-edit refuses them. Each repeat is renamed where the parser
/// stopped, the text parsed again, and the objects put back with the last value. Returns the body,
/// the original offset of each repeated key, and a map from offsets in the parsed text to `text`.
fn parse_last_wins(text: &str) -> Result<(Body, Vec<Repeat>, Inserted), ParseFailure> {
    let mut patched = text.to_owned();
    let mut inserted = Inserted::default();
    let mut repeats = Vec::new();
    let mut first_error = None;
    loop {
        let err = match hcl::edit::parser::parse_body(&patched) {
            Ok(mut body) => {
                let mut put_back = LastWins { restored: 0 };
                put_back.visit_body_mut(&mut body);
                // A key the parser took for a repeat but that cannot be put back (a template
                // such as `"${x}"`) stays the error it was.
                return match first_error {
                    Some(error) if put_back.restored != repeats.len() => Err(ParseFailure {
                        error,
                        too_many: false,
                    }),
                    _ => Ok((body, repeats, inserted)),
                };
            }
            Err(e) => e,
        };
        let fail = |error, too_many| Err(ParseFailure { error, too_many });
        // hcl-edit has no error kinds; its message for this case is pinned by a test.
        if !err.message().ends_with("found redefined object key") {
            return fail(err, false);
        }
        if repeats.len() >= MAX_DUPLICATE_KEYS
            || (repeats.len() + 2) * patched.len() > REPARSE_BUDGET
        {
            return fail(err, true);
        }
        let at = err.location().offset();
        let rest = patched.get(at..).unwrap_or_default();
        // An identifier key is renamed in front, a quoted one inside its quotes; another kind of
        // key (`(expr)`) stays an error.
        let at = match rest.chars().next() {
            Some('"') => at + 1,
            Some(c) if c.is_alphabetic() || c == '_' => at,
            _ => return fail(err, false),
        };
        let mark = format!("{DUP_MARK}{}_", repeats.len());
        first_error.get_or_insert(err);
        let original = inserted.original(at);
        let name: String = patched[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .take(64)
            .collect();
        repeats.push(Repeat {
            at: original,
            key: name,
        });
        inserted.0.push((original, mark.len()));
        inserted.0.sort_unstable();
        patched.insert_str(at, &mark);
    }
}

/// A repeated object key: where it is in the original text, and its name.
#[derive(Debug)]
struct Repeat {
    at: usize,
    key: String,
}

/// Text inserted into a file before parsing, as `(offset in the original, length)`.
#[derive(Debug, Default)]
struct Inserted(Vec<(usize, usize)>);

impl Inserted {
    /// The offset in the original text of `offset` in the patched one.
    fn original(&self, offset: usize) -> usize {
        let mut shift = 0;
        for (at, len) in &self.0 {
            if at + shift < offset {
                shift += len;
            } else {
                break;
            }
        }
        offset.saturating_sub(shift)
    }
}

/// Puts marked keys back under their own name, each replacing the value of the key it repeats.
struct LastWins {
    restored: usize,
}

/// The key a marked key repeats, if `key` is marked.
fn unmarked(key: &ObjectKey) -> Option<ObjectKey> {
    let strip = |s: &str| -> Option<String> {
        let rest = s.strip_prefix(DUP_MARK)?;
        let (n, name) = rest.split_once('_')?;
        n.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| name.to_owned())
    };
    match key {
        ObjectKey::Ident(id) => strip(id.as_str())
            .and_then(|n| Ident::try_new(n).ok())
            .map(|i| ObjectKey::Ident(Decorated::new(i))),
        ObjectKey::Expression(Expression::String(s)) => {
            strip(s.as_str()).map(|n| ObjectKey::Expression(Expression::from(n)))
        }
        ObjectKey::Expression(_) => None,
    }
}

impl VisitMut for LastWins {
    fn visit_object_mut(&mut self, node: &mut Object) {
        hcl::edit::visit_mut::visit_object_mut(self, node);
        if !node.iter().any(|(k, _)| unmarked(k).is_some()) {
            return;
        }
        let mut out = Object::new();
        for (k, v) in std::mem::take(node) {
            // Moved to the end, so that it also wins over a key equal to it only once the object
            // is a value (`b` and `"b"`).
            let k = match unmarked(&k) {
                Some(k) => {
                    self.restored += 1;
                    k
                }
                None => k,
            };
            out.remove(&k);
            out.insert(k, v);
        }
        *node = out;
    }
}

/// A parsed file: its line index, its body, and a map from the body's offsets to the file's.
struct File {
    index: LineIndex,
    body: Body,
    inserted: Inserted,
}

fn read(
    path: &std::path::Path,
    errors: &mut Vec<IacError>,
    notes: &mut Vec<String>,
) -> Option<File> {
    let name = display(path);
    let text = match crate::files::read_text(path, crate::files::HCL_CAP) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let index = LineIndex::new(name, &text);
    match parse_last_wins(&text) {
        Ok((body, repeats, inserted)) => {
            for Repeat { at, key } in repeats {
                let (line, _) = index.line_col(at);
                notes.push(format!(
                    "{}:{line}: key `{key}` repeated in an object: the last value is used, as in Terraform",
                    display(path)
                ));
            }
            Some(File {
                index,
                body,
                inserted,
            })
        }
        Err(ParseFailure { error, too_many }) => {
            // The location is in the text as parsed, which differs from the file's only after a
            // repeated key was renamed: then the line is right and the column may not be.
            let loc = error.location();
            errors.push(IacError {
                location: index.at(
                    u32::try_from(loc.line()).unwrap_or(u32::MAX),
                    u32::try_from(loc.column()).unwrap_or(u32::MAX),
                ),
                message: if too_many {
                    format!(
                        "too many repeated object keys to read them the way Terraform does: {}",
                        error.message()
                    )
                } else {
                    format!("HCL syntax error: {}", error.message())
                },
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
        notes: Vec::new(),
    };
    for path in &m.files {
        let Some(f) = read(path, &mut out.errors, &mut out.notes) else {
            continue;
        };
        let file = out.files.len();
        out.files.push(f.index);
        for block in f.body.blocks() {
            out.decls.push(Decl {
                kind: block.ident.as_str().to_owned(),
                labels: labels(block),
                body: block.body.clone(),
                file,
                start: f.inserted.original(block.span().map_or(0, |s| s.start)),
            });
        }
    }
    for path in &m.tfvars {
        if let Some(f) = read(path, &mut out.errors, &mut out.notes) {
            out.tfvars.push(f.body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Body, Vec<Repeat>, Inserted) {
        parse_last_wins(text).expect("parses")
    }

    #[test]
    fn a_repeated_object_key_takes_the_last_value() {
        let text = "x = { a = 1, a = 2 }\ny = {\n  \"b\" = 1\n  c = 0\n  b = 4\n  \"b\" = 3\n}\nresource \"r\" \"n\" {\n}\n";
        let (body, repeats, inserted) = parsed(text);
        let v: hcl::Body = body.clone().into();
        let v = hcl::to_string(&v).expect("prints");
        assert!(v.contains("a = 2"), "{v}");
        assert!(!v.contains("a = 1"), "{v}");
        assert!(!v.contains(DUP_MARK), "{v}");
        let y: serde_json::Value = hcl::from_str(&v).expect("value");
        assert_eq!(y["y"]["b"], 3, "{v}");
        assert_eq!(y["y"]["c"], 0, "{v}");
        let index = LineIndex::new("f.tf".into(), text);
        let lines: Vec<(u32, &str)> = repeats
            .iter()
            .map(|r| (index.line_col(r.at).0, r.key.as_str()))
            .collect();
        // hcl-edit tells `b` and `"b"` apart; they are one key once the object is a value.
        assert_eq!(lines, vec![(1, "a"), (6, "b")]);
        // The block after the repeats is located in the original text.
        let block = body.blocks().next().expect("block");
        let start = inserted.original(block.span().expect("span").start);
        assert_eq!(&text[start..start + 8], "resource");
    }

    #[test]
    fn hcl_edit_still_refuses_repeated_keys_with_the_message_we_look_for() {
        let e = hcl::edit::parser::parse_body("x = { a = 1, a = 2 }\n").expect_err("refused");
        assert!(
            e.message().ends_with("found redefined object key"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_repeated_attribute_in_a_block_stays_an_error() {
        // Terraform refuses it too ("Attribute redefined").
        assert!(parse_last_wins("a = 1\na = 2\n").is_err_and(|e| !e.too_many));
        assert!(parse_last_wins("x = { (k) = 1, (k) = 2 }\n").is_err_and(|e| !e.too_many));
        assert!(parse_last_wins("x = { \"${k}\" = 1, \"${k}\" = 2 }\n").is_err_and(|e| !e.too_many));
    }

    #[test]
    fn a_file_full_of_repeated_keys_is_refused_not_parsed_again_and_again() {
        let text = format!("x = {{\n{}}}\n", "  a = 1\n".repeat(MAX_DUPLICATE_KEYS + 2));
        assert!(parse_last_wins(&text).is_err_and(|e| e.too_many));
        // A big file gets fewer tries: each one parses all of it again.
        let big = format!(
            "{}x = {{ a = 1, a = 2, a = 3, a = 4, a = 5, a = 6 }}\n",
            "# padding\n".repeat(400 * 1024)
        );
        assert!(parse_last_wins(&big).is_err_and(|e| e.too_many));
    }
}
