//! PyYAML's indentation leniency, for the second reading of a document the strict YAML 1.2
//! parser refused.
//!
//! YAML 1.2 wants every continuation line of a flow node in block context (a quoted scalar, a
//! `[…]` or `{…}` collection) indented more than the block collection holding it: a value of
//! `Key:` at column n continues only on lines indented n+1 or more (`s-l+flow-in-block(n)`
//! reads `ns-flow-node(n+1)`, whose lines each begin with `s-flow-line-prefix(n+1)`).
//! `saphyr-parser` enforces it. PyYAML, and so cfn-lint and the CloudFormation tooling built on
//! it, does not: "in the flow context, indentation level is not checked; for quoted scalars,
//! indentation level is not checked" (its `sloppy-indentation` test). Templates rely on it, most
//! often an inline JSON policy written as `!Sub '{` with its lines at column 0, or a
//! `[` … `]` whose closing line is at the key's column.
//!
//! The indentation of such a line carries nothing: in a quoted scalar, line folding discards a
//! continuation line's leading white space (`s-flow-line-prefix` is not content; an escaped
//! line break `\` drops it too), and between the tokens of a flow collection white space only
//! separates. So [`reindent`] puts spaces before each under-indented continuation line, up to
//! the column YAML 1.2 wants, and touches nothing else: the value read is the one PyYAML reads,
//! every line keeps its number, and the spaces added to each line are returned so the reader
//! can give columns in the original text. Indenting a line more than strictly needed is as
//! harmless, so where the parent's column is not known on the line the guess errs high.
//!
//! To find those lines the text is lexed once, line by line, with just enough YAML to know
//! where flow nodes start and end: block scalars (`|`, `>`, with their indentation, skipped
//! whole), comments, plain scalars (an apostrophe in `Description: it's` opens nothing; a
//! multi-line plain value is skipped), tags, anchors and aliases, quotes (`''` and `\"`
//! escapes) and flow nesting. Lines at column 0 that are document markers (`---`, `...`), and
//! directives inside a flow collection, are left alone: PyYAML refuses those too; a quote or
//! bracket still open at the end changes nothing (the strict error stands). Linear time; the
//! spaces added are capped, so the text to parse again is at most about twice the size, and
//! it is parsed with the same caps.

/// The text to parse again, and the spaces put before each of its lines (0-based).
pub(super) struct Reindented {
    pub text: String,
    pub shifts: Vec<u32>,
}

/// Spaces that may be added in all, beyond the size of the text itself.
const ADDED_FLOOR: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Quote {
    Single,
    Double,
}

#[derive(Debug)]
enum Mode {
    Block,
    /// Inside a block scalar: the parent's column, and the content's indentation once known.
    BlockScalar {
        parent: isize,
        content: Option<usize>,
    },
    /// A plain value that may go on over the lines indented more than `parent`.
    Plain {
        parent: isize,
    },
    /// A flow node begun in block context and not ended on its first line.
    Region {
        /// The indentation YAML 1.2 wants of its continuation lines.
        required: usize,
        depth: usize,
        quote: Option<Quote>,
        /// In a plain scalar inside the flow collection (quotes there are content).
        plain: bool,
    },
}

struct Lexer {
    mode: Mode,
    /// The column of a `Key:` or `-` that ended its line: the parent of what comes next.
    pending: Option<usize>,
}

fn blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn blank_or_end(line: &[u8], i: usize) -> bool {
    line.get(i).is_none_or(|&c| blank(c))
}

fn flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

/// A document marker at column 0 (`---`, `...`), which no quote or bracket spans.
fn document_marker(line: &[u8]) -> bool {
    (line.starts_with(b"---") || line.starts_with(b"...")) && blank_or_end(line, 3)
}

impl Lexer {
    /// One line (without its line break); returns the spaces to put before it.
    fn line(&mut self, line: &[u8]) -> usize {
        let indent = line.iter().take_while(|&&c| c == b' ').count();
        let empty = line[indent..].iter().all(|&c| blank(c));
        let mut shift = 0;
        match self.mode {
            Mode::Block => {}
            Mode::BlockScalar { parent, content } => {
                if empty {
                    return 0;
                }
                match content {
                    Some(m) if indent >= m => return 0,
                    None if indent as isize > parent => {
                        self.mode = Mode::BlockScalar {
                            parent,
                            content: Some(indent),
                        };
                        return 0;
                    }
                    _ => self.mode = Mode::Block,
                }
            }
            Mode::Plain { parent } => {
                if empty || indent as isize > parent {
                    return 0;
                }
                self.mode = Mode::Block;
            }
            Mode::Region {
                required, quote, ..
            } => {
                if empty {
                    return 0;
                }
                let left_alone =
                    document_marker(line) || (quote.is_none() && line.first() == Some(&b'%'));
                if indent < required && !left_alone {
                    shift = required - indent;
                }
                if self.region(line, indent).is_some() {
                    // What may follow a multi-line node on its last line is a comment.
                    self.mode = Mode::Block;
                }
                return shift;
            }
        }
        if !empty {
            self.block(line, indent);
        }
        shift
    }

    /// A line in block context, from its first non-space character.
    fn block(&mut self, line: &[u8], mut i: usize) {
        if line[i] == b'#' {
            return;
        }
        let mut parent: isize = match self.pending.take() {
            Some(p) if p < i => p as isize,
            _ => i as isize - 1,
        };
        if i == 0 {
            if line.starts_with(b"...") && blank_or_end(line, 3) || line[0] == b'%' {
                return;
            }
            if line.starts_with(b"---") && blank_or_end(line, 3) {
                i = 3;
                parent = -1;
            }
        }
        // At the start of a token.
        loop {
            while i < line.len() && blank(line[i]) {
                i += 1;
            }
            let Some(&c) = line.get(i) else {
                if parent >= 0 {
                    self.pending = Some(parent as usize);
                }
                return;
            };
            match c {
                b'#' => return,
                b'-' | b'?' | b':' if blank_or_end(line, i + 1) => {
                    parent = i as isize;
                    i += 1;
                }
                b'!' | b'&' => {
                    while i < line.len() && !blank(line[i]) {
                        i += 1;
                    }
                }
                b'|' | b'>' => {
                    if let Some(indicator) = block_scalar_header(&line[i + 1..]) {
                        self.mode = Mode::BlockScalar {
                            parent,
                            content: indicator.map(|d| (parent + d as isize).max(0) as usize),
                        };
                        return;
                    }
                    // Not a header: a plain scalar (invalid YAML, which the parser reports).
                    self.mode = Mode::Plain { parent };
                    return;
                }
                b'\'' | b'"' | b'[' | b'{' | b'*' => {
                    let start = i;
                    if c == b'*' {
                        while i < line.len() && !blank(line[i]) {
                            i += 1;
                        }
                    } else {
                        self.mode = Mode::Region {
                            required: (parent + 1).max(0) as usize,
                            depth: 0,
                            quote: match c {
                                b'\'' => Some(Quote::Single),
                                b'"' => Some(Quote::Double),
                                _ => None,
                            },
                            plain: false,
                        };
                        let from = if c == b'[' || c == b'{' { i } else { i + 1 };
                        match self.region(line, from) {
                            // Goes on over the next lines.
                            None => return,
                            Some(end) => {
                                self.mode = Mode::Block;
                                i = end;
                            }
                        }
                    }
                    // After a node on one line: a `:` makes it a key.
                    while i < line.len() && blank(line[i]) {
                        i += 1;
                    }
                    if line.get(i) == Some(&b':') && blank_or_end(line, i + 1) {
                        parent = start as isize;
                        i += 1;
                    } else {
                        return;
                    }
                }
                _ => {
                    // A plain scalar: a key if a `: ` ends it, else a value to the line's end.
                    let start = i;
                    loop {
                        match line.get(i) {
                            None => {
                                self.mode = Mode::Plain { parent };
                                return;
                            }
                            Some(b':') if blank_or_end(line, i + 1) => {
                                parent = start as isize;
                                i += 1;
                                break;
                            }
                            Some(b'#') if blank(line[i - 1]) => return,
                            Some(_) => i += 1,
                        }
                    }
                }
            }
        }
    }

    /// Lexes the open flow node from `i`; the position after it when it ends on this line.
    fn region(&mut self, line: &[u8], mut i: usize) -> Option<usize> {
        let Mode::Region {
            depth,
            quote,
            plain,
            ..
        } = &mut self.mode
        else {
            return None;
        };
        while i < line.len() {
            let c = line[i];
            if let Some(q) = *quote {
                match (q, c) {
                    (Quote::Single, b'\'') if line.get(i + 1) == Some(&b'\'') => i += 2,
                    (Quote::Double, b'\\') => i += 2,
                    (Quote::Single, b'\'') | (Quote::Double, b'"') => {
                        *quote = None;
                        i += 1;
                        if *depth == 0 {
                            return Some(i);
                        }
                    }
                    _ => i += 1,
                }
                continue;
            }
            match c {
                b' ' | b'\t' => {}
                b'#' if i == 0 || blank(line[i - 1]) => {
                    *plain = false;
                    return None;
                }
                b'[' | b'{' => {
                    *depth += 1;
                    *plain = false;
                }
                b']' | b'}' => {
                    *plain = false;
                    *depth = depth.saturating_sub(1);
                    if *depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' => *plain = false,
                b':' | b'?' => {
                    let next = line.get(i + 1).copied();
                    if !*plain || next.is_none_or(|n| blank(n) || flow_indicator(n)) {
                        *plain = false;
                    }
                }
                b'\'' | b'"' if !*plain => {
                    *quote = Some(if c == b'\'' {
                        Quote::Single
                    } else {
                        Quote::Double
                    });
                }
                b'!' | b'&' | b'*' if !*plain => {
                    while i + 1 < line.len() && !blank(line[i + 1]) && !flow_indicator(line[i + 1])
                    {
                        i += 1;
                    }
                }
                _ => *plain = true,
            }
            i += 1;
        }
        None
    }
}

/// After `|` or `>`: `Some(indentation indicator)` when the rest of the line is a block scalar
/// header (indicators, then blanks, then an optional comment).
fn block_scalar_header(rest: &[u8]) -> Option<Option<usize>> {
    let mut indicator = None;
    let mut i = 0;
    while let Some(&c) = rest.get(i) {
        match c {
            b'1'..=b'9' if indicator.is_none() => indicator = Some(usize::from(c - b'0')),
            b'+' | b'-' => {}
            _ => break,
        }
        i += 1;
    }
    if i > 2 {
        return None;
    }
    let comment_ok = |j: usize| j > 0 && blank(rest[j - 1]);
    while let Some(&c) = rest.get(i) {
        match c {
            b' ' | b'\t' => i += 1,
            b'#' if comment_ok(i) => return Some(indicator),
            _ => return None,
        }
    }
    Some(indicator)
}

/// `text` with its under-indented flow continuation lines indented as YAML 1.2 wants, or
/// `None` when there is none (the strict error stands), when a quote or bracket is still open
/// at the end, when a line break is a lone CR (the lines would not be counted as the parser
/// counts them) or when too many spaces would be needed.
pub(super) fn reindent(text: &str) -> Option<Reindented> {
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .enumerate()
        .any(|(i, &c)| c == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    {
        return None;
    }
    let mut lexer = Lexer {
        mode: Mode::Block,
        pending: None,
    };
    let mut shifts = Vec::new();
    let mut added = 0usize;
    let cap = text.len().max(ADDED_FLOOR);
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw).as_bytes();
        let shift = lexer.line(line);
        added += shift;
        if added > cap {
            return None;
        }
        shifts.push(u32::try_from(shift).ok()?);
    }
    // A flow node still open at the end: the document is invalid whatever its indentation, and
    // indenting every line after the opening would only blur where.
    if added == 0 || matches!(lexer.mode, Mode::Region { .. }) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + added);
    for (n, raw) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for _ in 0..shifts[n] {
            out.push(' ');
        }
        out.push_str(raw);
    }
    Some(Reindented { text: out, shifts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifts(text: &str) -> Vec<u32> {
        reindent(text).map(|r| r.shifts).unwrap_or_default()
    }

    #[test]
    fn a_quoted_json_policy_at_column_0_is_indented_past_its_key() {
        let text = "A:\n  B: !Sub '{\n\"k\": \"v\"\n}'\n  C: 1\n";
        assert_eq!(shifts(text), [0, 0, 3, 3, 0, 0]);
        let r = reindent(text).expect("changed");
        assert_eq!(r.text, "A:\n  B: !Sub '{\n   \"k\": \"v\"\n   }'\n  C: 1\n");
    }

    #[test]
    fn a_flow_collection_closing_at_its_keys_column_is_indented() {
        let text = "A:\n  - B: [{\n    x: 1\n    }]\n    C: 1\n";
        assert_eq!(shifts(text), [0, 0, 1, 1, 0, 0]);
    }

    #[test]
    fn nothing_changes_without_an_under_indented_flow_line() {
        assert!(reindent("A:\n  B: '{\n    x'\n").is_none());
        assert!(reindent("A: [\n  b]\n").is_none());
        // A top-level flow node may continue at column 0.
        assert!(reindent("{\n\"A\": 1\n}\n").is_none());
    }

    #[test]
    fn block_scalars_plain_apostrophes_and_comments_open_nothing() {
        let text = "A:\n  D: it's\n  E: x # don't\n  F: !Sub |\n    '{\n  G: 'a''b'\n  H: \"c\\\"\"\n  I: '\nx'\n";
        assert_eq!(shifts(text), [0, 0, 0, 0, 0, 0, 0, 0, 3, 0]);
        let folded = "A:\n  F: >-\n    it's [\n\n    more\n  G: \"\nx\"\n";
        assert_eq!(shifts(folded), [0, 0, 0, 0, 0, 0, 3, 0]);
        let plain = "A:\n  D: a plain\n    'value\n  G: [\nx]\n";
        assert_eq!(shifts(plain), [0, 0, 0, 0, 3, 0]);
    }

    #[test]
    fn quotes_and_brackets_inside_a_flow_collection_are_followed() {
        // `]` in a quoted string and an apostrophe in a plain scalar do not end or open.
        let text = "A:\n  B: [\"x]\", it's,\n'y,\n]',\n{c: [d]},\n# ]\n]\n  C: 1\n";
        assert_eq!(shifts(text), [0, 0, 3, 3, 3, 3, 3, 0, 0]);
    }

    #[test]
    fn document_markers_in_a_quoted_scalar_are_left_alone() {
        assert_eq!(shifts("A:\n  B: 'x\n---\ny'\n"), [0, 0, 0, 3, 0]);
    }

    #[test]
    fn the_spaces_added_are_capped() {
        // A deeply indented key whose value goes on over many lines at column 0.
        let mut text = format!("{}A: '\n", " ".repeat(100_000));
        text.push_str(&"x\n".repeat(1_000));
        text.push('\'');
        assert!(reindent(&text).is_none());
        // Nor is anything indented after a quote that never closes.
        assert!(reindent("A:\n  B: 'x\ny\n  C: 1\n").is_none());
    }

    #[test]
    fn tabs_directives_and_comments_on_continuation_lines() {
        // A tab-indented line of a quoted scalar gets spaces before its tab; a `%` at column 0
        // in a flow collection is a directive to PyYAML too, left alone; a comment line inside
        // a flow collection is indented like the others.
        assert_eq!(shifts("A:\n  B: 'x\n\ty'\n"), [0, 0, 3, 0]);
        assert_eq!(
            shifts("A:\n  B: [x,\n%y]\n  C: [x,\n# c\ny]\n"),
            [0, 0, 0, 0, 3, 3, 0]
        );
    }
}
