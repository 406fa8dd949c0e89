//! YAML (and JSON, which YAML 1.2 reads as flow YAML) to a tree that keeps each node's line and
//! column and turns CloudFormation's short-form tags into the long form (`!Ref X` is
//! `{"Ref": "X"}`, `!GetAtt A.B` is `{"Fn::GetAtt": "A.B"}`).
//!
//! The tree is built from `saphyr-parser`'s events without recursion, so the input is bounded
//! here rather than by the stack: a nesting limit, a cap on the nodes YAML aliases may add (the
//! "billion laughs" document expands each alias many times over), and a cap on all nodes.
//!
//! A document the strict YAML 1.2 parser refuses is read a second time, the way PyYAML (and so
//! cfn-lint and CloudFormation's own tooling) reads it, when all it needs is PyYAML's
//! indentation leniency for quoted scalars and flow collections: see [`lenient`]. Only then,
//! and with the same caps; locations are given in the original text. What the second reading
//! refuses too is reported as that reading says.

mod lenient;

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// Deeper than any real template: CDK's deepest policy documents are about 15 levels.
pub(crate) const MAX_DEPTH: usize = 128;
/// The nodes all aliases of a document may add together. Real templates rarely use aliases.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;
/// All nodes of a document, aliases included.
pub(crate) const MAX_NODES: usize = 2_000_000;

/// A position: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
    /// The column after the node's first line ends, or after the node when it is on one line.
    pub end_column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    /// A scalar and whether it was plain (unquoted): a plain `true` is a boolean, a quoted one a
    /// string, as CloudFormation reads JSON and YAML alike.
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// In document order; a key appears once (a repeated key is an error).
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.name == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Nodes in this subtree, counted without recursion.
    fn count(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            n += 1;
            match &node.kind {
                Kind::Seq(items) => stack.extend(items),
                Kind::Map(entries) => stack.extend(entries.iter().map(|(_, v)| v)),
                _ => {}
            }
        }
        n
    }
}

/// Why a document could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct YamlError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Spaces the lenient reading put before each line (0-based), taken off its columns again.
struct Shifts<'a>(&'a [u32]);

impl Shifts<'_> {
    /// The 1-based line and column in the original text of the parser's line and 0-based column.
    fn at(&self, line: usize, col: usize) -> (u32, u32) {
        let line = u32::try_from(line).unwrap_or(u32::MAX).max(1);
        let shift = self
            .0
            .get(line as usize - 1)
            .map_or(0, |&s| s as usize)
            .min(col);
        (line, u32::try_from(col - shift + 1).unwrap_or(u32::MAX))
    }
}

fn pos(span: &Span, shifts: &Shifts) -> Pos {
    let (line, column) = shifts.at(span.start.line(), span.start.col());
    let end_column = if span.end.line() == span.start.line() && span.end.col() > span.start.col() {
        shifts.at(span.end.line(), span.end.col()).1
    } else {
        column + 1
    };
    Pos {
        line,
        column,
        end_column,
    }
}

/// The long-form name of a CloudFormation short-form tag (`!Ref` is `Ref`, `!Sub` is
/// `Fn::Sub`); another local tag keeps its `!` so the evaluator can say it does not know it.
fn intrinsic_name(tag: &Tag) -> Option<String> {
    if tag.handle != "!" {
        // `!!str`, `!!int` and other core-schema tags carry no CloudFormation meaning.
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" => "Ref".to_owned(),
        "Condition" => "Condition".to_owned(),
        "GetAtt" | "Sub" | "Join" | "If" | "Select" | "Split" | "FindInMap" | "Equals" | "Not"
        | "And" | "Or" | "ImportValue" | "Base64" | "Cidr" | "GetAZs" | "Length"
        | "ToJsonString" | "Transform" | "ForEach" => format!("Fn::{}", tag.suffix),
        other => format!("!{other}"),
    })
}

/// A node as its tag makes it: a short-form intrinsic becomes the one-key mapping of the long
/// form, at the same place.
fn tagged(node: Node, tag: Option<&Tag>) -> Node {
    match tag.and_then(intrinsic_name) {
        Some(name) => {
            let pos = node.pos;
            Node {
                kind: Kind::Map(vec![(Key { name, pos }, node)]),
                pos,
            }
        }
        None => node,
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
        tag: Option<Tag>,
    },
    Map {
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        pos: Pos,
        anchor: usize,
        tag: Option<Tag>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    nodes: usize,
    root: Option<Node>,
}

impl Builder {
    fn err(pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    /// Adds a finished node to the open collection (or makes it the document).
    fn push(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            let n = node.count();
            self.anchors.insert(anchor, (node.clone(), n));
        }
        let at = node.pos;
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    return Err(Self::err(
                        at,
                        "more than one YAML document in the file: a template is one document",
                    ));
                }
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let name = match node.kind {
                        Kind::Scalar(s, _) => s,
                        Kind::Null => String::new(),
                        _ => {
                            return Err(Self::err(
                                at,
                                "a mapping key that is not a scalar: not valid in a template",
                            ))
                        }
                    };
                    *key = Some(Key { name, pos: at });
                }
                Some(k) => {
                    if let Some((first, _)) = entries.iter().find(|(e, _)| e.name == k.name) {
                        return Err(Self::err(
                            k.pos,
                            format!(
                                "the key `{}` is repeated (first at line {}): CloudFormation refuses the template",
                                k.name, first.pos.line
                            ),
                        ));
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, at: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Self::err(
                at,
                format!("refused: nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.count(1, at)?;
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, n: usize, at: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(Self::err(
                at,
                format!("refused: more than {MAX_NODES} nodes"),
            ));
        }
        Ok(())
    }
}

/// Why a reading failed: the text is not valid YAML (for this parser), or it is refused.
enum Failure {
    Syntax(YamlError),
    Refused(YamlError),
}

impl From<YamlError> for Failure {
    fn from(e: YamlError) -> Self {
        Failure::Refused(e)
    }
}

/// The one document of `text`; an empty file is `Null`. Strict YAML 1.2 first; when that is a
/// syntax error, PyYAML's indentation leniency (see [`lenient`]) if it changes anything.
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    match read(text, &Shifts(&[])) {
        Ok(node) => Ok(node),
        Err(Failure::Refused(e)) => Err(e),
        Err(Failure::Syntax(e)) => match lenient::reindent(text) {
            None => Err(e),
            Some(r) => read(&r.text, &Shifts(&r.shifts)).map_err(|f| match f {
                Failure::Syntax(e) | Failure::Refused(e) => e,
            }),
        },
    }
}

fn read(text: &str, shifts: &Shifts) -> Result<Node, Failure> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        nodes: 0,
        root: None,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let (line, column) = shifts.at(e.marker().line(), e.marker().col());
            Failure::Syntax(YamlError {
                line,
                column,
                message: format!("not valid YAML or JSON: {}", e.info()),
            })
        })?;
        let at = pos(&span, shifts);
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                b.count(1, at)?;
                let plain = style == ScalarStyle::Plain;
                let core_str = tag
                    .as_deref()
                    .is_some_and(|t| t.handle == "!!" && t.suffix == "str");
                let kind = if plain
                    && tag.is_none()
                    && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Kind::Null
                } else {
                    Kind::Scalar(value.into_owned(), plain && !core_str)
                };
                let node = tagged(Node { kind, pos: at }, tag.as_deref());
                b.push(node, anchor)?;
            }
            Event::SequenceStart(anchor, tag) => b.open(
                Frame::Seq {
                    items: Vec::new(),
                    pos: at,
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                },
                at,
            )?,
            Event::MappingStart(anchor, tag) => b.open(
                Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos: at,
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                },
                at,
            )?,
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        pos,
                        anchor,
                        tag,
                    }) => (
                        tagged(
                            Node {
                                kind: Kind::Seq(items),
                                pos,
                            },
                            tag.as_ref(),
                        ),
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        tag,
                        ..
                    }) => (
                        tagged(
                            Node {
                                kind: Kind::Map(entries),
                                pos,
                            },
                            tag.as_ref(),
                        ),
                        anchor,
                    ),
                    None => return Err(Builder::err(at, "unbalanced YAML events").into()),
                };
                b.push(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some((node, n)) = b.anchors.get(&id) else {
                    return Err(Builder::err(at, "an alias to an unknown anchor").into());
                };
                let (node, n) = (node.clone(), *n);
                b.alias_nodes += n;
                if b.alias_nodes > MAX_ALIAS_NODES {
                    return Err(Builder::err(
                        at,
                        format!(
                            "refused: YAML aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                        ),
                    )
                    .into());
                }
                b.count(n, at)?;
                let node = Node { pos: at, ..node };
                b.push(node, 0)?;
            }
            Event::DocumentStart(_) | Event::DocumentEnd | Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
        }
    }
    Ok(b.root.unwrap_or(Node {
        kind: Kind::Null,
        pos: Pos {
            line: 1,
            column: 1,
            end_column: 1,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_tags_become_the_long_form_with_positions() {
        let doc = parse("Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties:\n      Id: !GetAtt K.Arn\n      L: !Join ['', [!Ref X]]\n").expect("parses");
        let k = doc.get("Resources").and_then(|r| r.get("K")).expect("K");
        assert_eq!(k.pos.line, 3, "a mapping starts at its first key");
        let id = k.get("Properties").and_then(|p| p.get("Id")).expect("Id");
        assert_eq!(id.entries()[0].0.name, "Fn::GetAtt");
        assert_eq!(id.get("Fn::GetAtt").and_then(Node::as_str), Some("K.Arn"));
        assert_eq!((id.pos.line, id.pos.column), (5, 11));
        let l = k.get("Properties").and_then(|p| p.get("L")).expect("L");
        assert!(
            matches!(&l.get("Fn::Join").expect("join").kind, Kind::Seq(items) if items.len() == 2)
        );
    }

    #[test]
    fn json_reads_as_yaml_with_typed_scalars() {
        let doc = parse("{\"A\": true, \"B\": \"true\", \"C\": null, \"D\": [1]}").expect("parses");
        assert_eq!(
            doc.get("A").map(|n| &n.kind),
            Some(&Kind::Scalar("true".into(), true))
        );
        assert_eq!(
            doc.get("B").map(|n| &n.kind),
            Some(&Kind::Scalar("true".into(), false))
        );
        assert_eq!(doc.get("C").map(|n| &n.kind), Some(&Kind::Null));
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                std::iter::repeat_n(prev.as_str(), 10)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let e = parse(&text).expect_err("refused");
        assert!(e.message.contains("alias bomb"), "{}", e.message);
        // A few aliases are fine.
        let doc = parse("a: &x {k: v}\nb: *x\n").expect("parses");
        assert_eq!(
            doc.get("b").and_then(|b| b.get("k")).and_then(Node::as_str),
            Some("v")
        );
    }

    #[test]
    fn deep_nesting_is_refused_at_the_limit() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse(&text).expect_err("refused");
        assert!(e.message.contains("nested deeper"), "{}", e.message);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn a_repeated_key_is_an_error_at_the_repeat() {
        let e = parse("Resources:\n  A: {Type: AWS::KMS::Key}\n  A: {Type: AWS::SNS::Topic}\n")
            .expect_err("refused");
        assert_eq!((e.line, e.column), (3, 3));
        assert!(
            e.message.contains("`A` is repeated (first at line 2)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn invalid_yaml_says_where() {
        let e = parse("Resources:\n  K: [unclosed\n").expect_err("invalid");
        assert!(
            e.message.starts_with("not valid YAML or JSON"),
            "{}",
            e.message
        );
        assert!(e.line >= 2, "{e:?}");
    }

    /// The node at `path` (mapping keys, or sequence indexes).
    fn at<'a>(node: &'a Node, path: &[&str]) -> &'a Node {
        path.iter()
            .fold(node, |n, step| match (&n.kind, step.parse::<usize>()) {
                (Kind::Seq(items), Ok(i)) => &items[i],
                _ => n.get(step).unwrap_or_else(|| panic!("no {step} in {n:?}")),
            })
    }

    fn json(node: &Node) -> serde_json::Value {
        match &node.kind {
            Kind::Null => serde_json::Value::Null,
            Kind::Scalar(s, _) => serde_json::Value::String(s.clone()),
            Kind::Seq(items) => items.iter().map(json).collect(),
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), json(v)))
                .collect(),
        }
    }

    const QUOTED: &str = include_str!("../tests/fixtures/lenient-yaml/quoted.yaml");
    const FLOW: &str = include_str!("../tests/fixtures/lenient-yaml/flow.yaml");

    #[test]
    fn under_indented_quoted_scalars_read_as_pyyaml_reads_them() {
        let doc = parse(QUOTED).expect("PyYAML reads it");
        let r = doc.get("Resources").expect("resources");
        // The values PyYAML 6.0 gives (yaml.load with a loader taking `!` tags).
        let policy = at(
            r,
            &[
                "Role",
                "Properties",
                "Policies",
                "0",
                "PolicyDocument",
                "Fn::Sub",
            ],
        );
        assert_eq!(
            policy.as_str(),
            Some("{ \"Version\": \"2012-10-17\", \"Statement\": [ { \"Effect\": \"Allow\", \"Action\": [\"xray:PutTraceSegments\"], \"Resource\": \"arn:${AWS::Partition}:xray:${AWS::Region}:${AWS::AccountId}:*\"\n} ] }")
        );
        let key_policy = at(r, &["Key", "Properties", "KeyPolicy", "Fn::Sub"]);
        assert_eq!(
            key_policy.as_str(),
            Some("{ \"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Everyone\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}] }")
        );
        assert_eq!(
            at(r, &["Fn", "Properties", "Description"]).as_str(),
            Some("it's traced, # not a comment and this line is left of its key")
        );
        assert_eq!(
            at(r, &["Role", "Properties", "Policies", "0", "PolicyName"]).as_str(),
            Some("it's-traced")
        );
    }

    #[test]
    fn under_indented_flow_collections_read_as_pyyaml_reads_them() {
        let doc = parse(FLOW).expect("PyYAML reads it");
        let r = doc.get("Resources").expect("resources");
        let expect = |path: &[&str], want: &str| {
            let want: serde_json::Value = serde_json::from_str(want).expect("json");
            assert_eq!(json(at(r, path)), want, "{path:?}");
        };
        expect(
            &[
                "Api",
                "Properties",
                "Auth",
                "ResourcePolicy",
                "CustomStatements",
            ],
            r#"[{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}]"#,
        );
        expect(
            &["Model", "Properties", "Schema"],
            r#"{"type": "object", "properties": {"to": {"type": "array"}}, "required": ["to"]}"#,
        );
        expect(
            &["Policy", "Properties", "PolicyDocument", "Statement"],
            r#"[{"Effect": "Allow", "Action": ["sns:Publish", "sns:Subscribe"], "Resource": [{"Ref": "Topic"}, {"Fn::GetAtt": "Key.Arn"}]}]"#,
        );
        expect(
            &["Thing", "Properties", "PolicyDocument"],
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}"#,
        );
    }

    #[test]
    fn locations_are_those_of_the_original_text() {
        let doc = parse(FLOW).expect("parses");
        let r = doc.get("Resources").expect("resources");
        let key = r
            .entries()
            .iter()
            .find(|(k, _)| k.name == "Key")
            .expect("Key");
        assert_eq!((key.0.pos.line, key.0.pos.column), (50, 3));
        // On lines the second reading indented: `"Effect"` (line 13) and the `!GetAtt` (41).
        let statement = at(
            r,
            &[
                "Api",
                "Properties",
                "Auth",
                "ResourcePolicy",
                "CustomStatements",
                "0",
            ],
        );
        let effect = &statement.entries()[0].0;
        assert_eq!(
            (effect.pos.line, effect.pos.column, effect.pos.end_column),
            (13, 13, 21)
        );
        let getatt = at(
            r,
            &[
                "Policy",
                "Properties",
                "PolicyDocument",
                "Statement",
                "0",
                "Resource",
                "1",
            ],
        );
        assert_eq!((getatt.pos.line, getatt.pos.column), (41, 15));
        let doc = parse(QUOTED).expect("parses");
        let key = doc
            .get("Resources")
            .and_then(|r| r.get("Key"))
            .expect("Key");
        assert_eq!(
            key.pos.line, 22,
            "the mapping after the scalar starts where it did"
        );
        let fun = doc.get("Resources").and_then(|r| r.get("Fn")).expect("Fn");
        let role = fun
            .get("Properties")
            .and_then(|p| p.get("Role"))
            .expect("Role");
        assert_eq!((role.pos.line, role.pos.column), (36, 13));
    }

    #[test]
    fn each_shape_is_refused_strictly_and_read_leniently() {
        let shapes = [
            // A quoted scalar going on left of its key (single, double, escaped line break).
            "A:\n  - B: 1\n    C: '{\n\"x\": 1\n}'\n",
            "A:\n  B: \"x \\\n\ty\"\n",
            // A flow collection closing at its key's column, or going on left of it.
            "A:\n  B: [{\n    \"x\": \"y\"\n  }]\n",
            "A:\n  B: [\n    \"x\",\n  ]\n",
            "A:\n  B: {a: 1,\n  b: [2,\n3]}\n",
            "A:\n  B: [\n    !GetAtt \"X.Arn\",\n    !GetAtt \"Y.Arn\"\n  ]\n",
        ];
        for text in shapes {
            assert!(
                matches!(read(text, &Shifts(&[])), Err(Failure::Syntax(_))),
                "strict YAML 1.2 refuses {text:?}"
            );
            assert!(parse(text).is_ok(), "{text:?}: {:?}", parse(text));
        }
        assert_eq!(
            parse(shapes[1])
                .expect("parses")
                .get("A")
                .and_then(|a| a.get("B"))
                .and_then(Node::as_str),
            Some("x y"),
        );
    }

    #[test]
    fn what_pyyaml_refuses_too_is_still_an_error() {
        // A duplicate key after a scalar only the lenient reading reads: at the repeat.
        let e = parse("Resources:\n  A:\n    B: '{\n}'\n  A: {}\n").expect_err("repeated");
        assert_eq!((e.line, e.column), (5, 3));
        assert!(e.message.contains("`A` is repeated"), "{}", e.message);
        // A document marker inside the quoted scalar, an unclosed quote or bracket, a block
        // mapping going on left of its parent, a multi-line implicit key.
        for text in [
            "A:\n  B:\n    C: 'x\n---\ny'\n",
            "A:\n  B:\n    C: 'x\ny\n",
            "A:\n  B:\n    C: [x,\ny\n",
            "A:\n  B:\n    C: 1\n   D: 2\n",
            "A:\n  B:\n    'C\nD': 1\n",
        ] {
            let e = parse(text).expect_err(text);
            assert!(
                e.message.starts_with("not valid YAML or JSON"),
                "{text:?}: {e:?}"
            );
        }
    }

    #[test]
    fn indenting_continuation_lines_changes_no_value_and_no_location() {
        // Strict YAML 1.2 wants these indented more, but saphyr-parser reads them: the lenient
        // text must read to the same tree, positions included. (Checked too on every template
        // of aws-samples/serverless-patterns that parses: 8 change, none differs.)
        for text in [
            "A:\n  B: [\n    x,\n  ]\n  C: 1\n",
            "A:\n  B: {\"a\": 1,\n  \"b\": 'c\n     d'}\n",
            "A:\n  - B: {\"k\": 1,\n    \"l\": 2}\n    C: 3\n",
        ] {
            let strict = read(text, &Shifts(&[]))
                .ok()
                .unwrap_or_else(|| panic!("strict reads {text:?}"));
            let r = lenient::reindent(text).unwrap_or_else(|| panic!("re-indents {text:?}"));
            let lenient = read(&r.text, &Shifts(&r.shifts)).ok().expect("reads");
            assert_eq!(strict, lenient, "{text:?}");
        }
    }

    #[test]
    fn crlf_line_breaks_read_the_same_and_a_lone_cr_is_not_guessed_at() {
        for text in [QUOTED, FLOW] {
            let crlf = text.replace('\n', "\r\n");
            assert_eq!(parse(&crlf).expect("CRLF"), parse(text).expect("LF"));
        }
        // Lines broken by a lone CR would be counted apart from the parser: the strict error.
        let cr = "A:\r  B: '\rx'\r";
        assert!(lenient::reindent(cr).is_none());
        assert!(parse(cr).is_err());
    }
}
