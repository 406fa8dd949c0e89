//! Expressions on unknowns: each operator and function, alone.

use hcl::Value;

use super::expr::{eval, Eval, Scope};
use crate::value::{reference, resolve, unknown, Resolved};

/// Evaluates `src` with `u` unknown, `r` a reference to `aws_kms_key.k`, `s` = "a",
/// `l` = ["a", "b"], `m` = {a = 1} and `n` = null.
fn run(src: &str) -> Eval {
    let body: hcl::Body = hcl::parse(&format!("x = {src}")).expect("parses");
    let expr = body.attributes().next().expect("x").expr().clone();
    let bindings = vec![
        ("u".to_owned(), unknown("var.u has no value")),
        ("r".to_owned(), reference("aws_kms_key.k")),
        ("s".to_owned(), Value::from("a")),
        (
            "l".to_owned(),
            Value::Array(vec![Value::from("a"), Value::from("b")]),
        ),
        (
            "m".to_owned(),
            Value::Object([("a".to_owned(), Value::from(1u64))].into_iter().collect()),
        ),
        ("n".to_owned(), Value::Null),
    ];
    eval(&expr, &Scope::isolated(".", bindings).outside_template())
}

fn is_unknown(src: &str) -> bool {
    matches!(
        run(src).map(|v| matches!(resolve(&v), Resolved::Unknown(_))),
        Ok(true)
    )
}

fn value(src: &str) -> Value {
    run(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn every_operator_on_an_unknown_is_unknown() {
    for src in [
        "u == \"a\"",
        "u != \"a\"",
        "r == \"a\"",
        "[u] == [\"a\"]",
        "u < 1",
        "u <= 1",
        "u > 1",
        "u >= 1",
        "u + 1",
        "u - 1",
        "u * 2",
        "u / 2",
        "u % 2",
        "!u",
        "-u",
        "u && true",
        "u || false",
        "r + 1",
    ] {
        assert!(is_unknown(src), "{src} should be unknown");
    }
}

#[test]
fn a_definite_operand_decides_a_logical_operator() {
    assert_eq!(value("u && false"), Value::Bool(false));
    assert_eq!(value("true || u"), Value::Bool(true));
    assert_eq!(value("1 + 2 * 3"), Value::from(7u64));
    assert_eq!(value("7 / 2"), Value::from(3.5));
    assert_eq!(value("\"a\" == s"), Value::Bool(true));
    assert_eq!(value("1 == \"1\""), Value::Bool(false));
}

#[test]
fn a_conditional_on_an_unknown_is_unknown_unless_both_branches_agree() {
    assert!(is_unknown("u ? \"a\" : \"b\""));
    assert_eq!(value("u ? \"a\" : \"a\""), Value::from("a"));
    assert_eq!(value("true ? s : u"), Value::from("a"));
    assert!(is_unknown("n == null ? u : 1"));
    assert_eq!(value("n == null ? [] : [u]"), Value::Array(Vec::new()));
}

#[test]
fn indexing_traversing_and_iterating_an_unknown_is_unknown() {
    for src in [
        "u[0]",
        "u.a",
        "u[*].a",
        "l[u]",
        "m[u]",
        "[for x in u : x]",
        "{for k, v in u : k => v}",
        "[for x in l : x if u]",
        "{for x in l : u => x}",
        "\"%{if u}a%{endif}\"",
        "\"%{for x in u}${x}%{endfor}\"",
    ] {
        assert!(is_unknown(src), "{src} should be unknown");
    }
    assert!(run("m.b").is_err(), "a missing attribute is an error");
}

#[test]
fn every_function_on_an_unknown_is_unknown() {
    for src in [
        "length(u)",
        "length(r)",
        "length(\"${u}x\")",
        "lookup(u, \"a\", 1)",
        "lookup(m, u, 1)",
        "element(u, 0)",
        "element(l, u)",
        "one(u)",
        "flatten([l, u])",
        "flatten(u)",
        "toset([u, \"a\"])",
        "toset(u)",
        "distinct([u])",
        "tomap(u)",
        "tolist(u)",
        "zipmap([u], [1])",
        "zipmap(l, u)",
        "keys(u)",
        "values(u)",
        "contains(l, u)",
        "contains([u], \"a\")",
        "startswith(u, \"a\")",
        "endswith(s, u)",
        "replace(u, \"a\", \"b\")",
        "replace(s, \"/a/\", \"b\")",
        "regex(\"a\", s)",
        "coalesce(n, u, \"a\")",
        "compact([u])",
        "format(u, 1)",
        "format(\"%d\", u)",
        "format(\"%05d\", 1)",
        "join(u, l)",
        "join(\",\", u)",
        "join(\",\", [u])",
        "split(\",\", u)",
        "lower(u)",
        "upper(r)",
        "tostring(u)",
        "tonumber(u)",
        "tobool(u)",
        "merge(m, u)",
        "concat(l, u)",
        "jsonencode(u)",
        "jsondecode(u)",
        "max(1, u)",
        "min(u, 1)",
        "abs(u)",
        "can(u)",
        "try(u, 1)",
        "templatefile(u, {})",
        "file(u)",
        "cidrsubnet(\"10.0.0.0/8\", 8, 1)",
        "provider::aws::arn_parse(s)",
        "max(u...)",
    ] {
        assert!(is_unknown(src), "{src} should be unknown");
    }
}

#[test]
fn functions_on_known_values() {
    let list = |items: &[&str]| Value::Array(items.iter().map(|s| Value::from(*s)).collect());
    assert_eq!(value("length(l)"), Value::from(2u64));
    assert_eq!(value("length([u, u])"), Value::from(2u64));
    assert_eq!(value("toset([\"b\", \"a\", \"b\"])"), list(&["a", "b"]));
    assert_eq!(value("distinct([\"b\", \"a\", \"b\"])"), list(&["b", "a"]));
    assert_eq!(value("flatten([l, [[\"c\"]]])"), list(&["a", "b", "c"]));
    assert_eq!(value("one([])"), Value::Null);
    assert!(run("one(l)").is_err(), "two elements: an error");
    assert_eq!(value("element(l, 3)"), Value::from("b"));
    assert_eq!(value("keys({b = 1, a = 2})"), list(&["a", "b"]));
    assert_eq!(
        value("values({b = 1, a = 2})"),
        Value::Array(vec![Value::from(2u64), Value::from(1u64)])
    );
    assert_eq!(value("contains(l, \"b\")"), Value::Bool(true));
    assert_eq!(
        value("startswith(\"arn:aws\", \"arn:\")"),
        Value::Bool(true)
    );
    assert_eq!(value("endswith(\"x.json\", \".tf\")"), Value::Bool(false));
    assert_eq!(
        value("replace(\"a-b-c\", \"-\", \"_\")"),
        Value::from("a_b_c")
    );
    assert_eq!(value("coalesce(n, \"\", \"x\")"), Value::from("x"));
    assert_eq!(value("compact([\"a\", \"\", null])"), list(&["a"]));
    assert_eq!(value("lookup(m, \"z\", 5)"), Value::from(5u64));
    assert_eq!(
        crate::value::get(&value("zipmap(l, [1, 2])"), "b")
            .cloned()
            .expect("b"),
        Value::from(2u64)
    );
    assert_eq!(value("format(\"%s-%d-%%\", s, 3)"), Value::from("a-3-%"));
    assert_eq!(value("join(\"/\", l, [\"c\"])"), Value::from("a/b/c"));
    assert_eq!(value("split(\",\", \"a,b\")"), list(&["a", "b"]));
    assert_eq!(value("upper(s)"), Value::from("A"));
    assert_eq!(value("tostring(5)"), Value::from("5"));
    assert_eq!(value("tonumber(\"5\")"), Value::from(5u64));
    assert_eq!(value("tobool(\"true\")"), Value::Bool(true));
    assert_eq!(
        crate::value::get(&value("merge(m, {b = 2})"), "b")
            .cloned()
            .expect("b"),
        Value::from(2u64)
    );
    assert_eq!(value("concat(l, [\"c\"])"), list(&["a", "b", "c"]));
    assert_eq!(
        value("jsonencode({b = 1, a = s})"),
        Value::from(r#"{"a":"a","b":1}"#)
    );
    assert_eq!(
        value("jsondecode(\"[1]\")"),
        Value::Array(vec![Value::from(1u64)])
    );
    assert_eq!(value("max(1, 5, 3)"), Value::from(5u64));
    assert_eq!(value("min([3, 1]...)"), Value::from(1u64));
    assert_eq!(value("abs(-3)"), Value::from(3u64));
    assert_eq!(value("try(m.b, \"fallback\")"), Value::from("fallback"));
    assert_eq!(value("can(m.b)"), Value::Bool(false));
    assert_eq!(value("can(m.a)"), Value::Bool(true));
    assert_eq!(value("[for x in l : upper(x) if x != \"a\"]"), list(&["B"]));
    assert_eq!(
        crate::value::get(&value("{for x in l : x => x...}"), "a")
            .cloned()
            .expect("a"),
        list(&["a"])
    );
    assert_eq!(value("l[*]"), list(&["a", "b"]));
}

#[test]
fn references_flow_through_assignment_templates_and_jsonencode() {
    assert_eq!(value("r"), reference("aws_kms_key.k"));
    assert_eq!(value("\"${r}\""), reference("aws_kms_key.k"));
    assert_eq!(value("tostring(r)"), reference("aws_kms_key.k"));
    for src in ["\"x-${r}\"", "jsonencode({k = r})", "format(\"x%s\", r)"] {
        assert!(
            matches!(resolve(&value(src)), Resolved::Unknown(why) if why.contains("aws_kms_key.k")),
            "{src}"
        );
    }
    // A computed attribute is never null nor empty: coalesce and compact keep it.
    assert_eq!(value("coalesce(n, r)"), reference("aws_kms_key.k"));
    assert_eq!(
        value("compact([r, \"\"])"),
        Value::Array(vec![reference("aws_kms_key.k")])
    );
    assert!(is_unknown("coalesce(u, r)"));
    // A comparison or a measure of a reference is unknown, not a guess.
    assert!(is_unknown("r == \"\""));
    assert!(is_unknown("length(r) > 0"));
}

#[test]
fn templatefile_reads_a_regular_file_in_the_module_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8").to_owned();
    std::fs::write(
        dir.path().join("p.tpl"),
        "id=${account}%{ for x in xs } ${x}%{ endfor }",
    )
    .expect("write");
    std::fs::write(dir.path().join("big.tpl"), vec![b'a'; 1024 * 1024 + 1]).expect("write");
    let body: hcl::Body = hcl::parse(concat!(
        "a = templatefile(\"p.tpl\", { account = \"111122223333\", xs = [1, 2] })\n",
        "b = templatefile(\"big.tpl\", {})\n",
        "c = templatefile(\".\", {})\n",
        "d = templatefile(\"missing.tpl\", {})\n",
    ))
    .expect("parses");
    // A module's scope may call templatefile; a template's may not.
    let scope = Scope::isolated(&d, Vec::new()).outside_template();
    let got: Vec<Value> = body
        .attributes()
        .map(|a| eval(a.expr(), &scope).expect("evaluates"))
        .collect();
    assert_eq!(got[0], Value::from("id=111122223333 1 2"));
    for v in &got[1..] {
        assert!(matches!(resolve(v), Resolved::Unknown(_)), "{v:?}");
    }
}

/// N counted keys and N aliases naming them by index evaluate in linear time: each reference
/// is a lookup of a value kept once, not a rescan of the module or a copy of its context.
#[test]
fn counted_instances_referring_to_each_other_evaluate_in_linear_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        r#"
resource "aws_kms_key" "k" {
  count               = 10000
  description         = "k-${count.index}"
  enable_key_rotation = true
}

resource "aws_kms_alias" "a" {
  count         = 10000
  name          = "alias/xray-${count.index}"
  target_key_id = aws_kms_key.k[count.index].key_id
}
"#,
    )
    .expect("write");
    let found = crate::files::discover(&[dir.path().to_path_buf()]);
    let parsed = crate::module::parse(&found.modules[0]);
    let start = std::time::Instant::now();
    let prepared = super::Prepared::new(&parsed);
    let facts = super::evaluate(&prepared, &super::Catalog::new(), budget(50_000, 500_000));
    let took = start.elapsed();
    eprintln!("evaluated 10,000 keys and 10,000 aliases in {took:?}");
    assert_eq!(facts.instances.len(), 20_000);
    let last = facts.instances.last().expect("alias");
    assert_eq!(
        crate::value::get(&last.value, "target_key_id"),
        Some(&reference("aws_kms_key.k[9999]"))
    );
    // A quadratic evaluator needs minutes here in a debug build.
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
}

#[test]
fn templates_keep_escapes_heredocs_and_strip_markers() {
    assert_eq!(value(r#""q\"${s}\n""#), Value::from("q\"a\n"));
    assert_eq!(value(r#""$${s}""#), Value::from("${s}"));
    assert_eq!(
        value("\"%{ for x in l ~} ${x} %{~ endfor }\""),
        Value::from("ab")
    );
    assert_eq!(
        value(r#""%{if s == "a"}yes%{else}no%{endif}""#),
        Value::from("yes")
    );
    assert_eq!(
        value("\"${1 + 1}\""),
        Value::from(2u64),
        "one interpolation: its value"
    );
}

#[test]
fn range_as_terraform_documents_it() {
    let nums = |src: &str| match value(src) {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect::<Vec<f64>>(),
        other => panic!("{src}: {other:?}"),
    };
    assert_eq!(nums("range(3)"), [0.0, 1.0, 2.0]);
    assert_eq!(nums("range(1, 4)"), [1.0, 2.0, 3.0]);
    assert_eq!(nums("range(0, -3)"), [0.0, -1.0, -2.0]);
    assert_eq!(nums("range(0, 10, 4)"), [0.0, 4.0, 8.0]);
    assert_eq!(nums("range(1, 2, 0.5)"), [1.0, 1.5]);
    assert!(nums("range(0)").is_empty());
    assert_eq!(nums("range(1024)").len(), 1024);
    // Terraform refuses more than 1,024 numbers, and a zero step.
    assert!(run("range(1025)").is_err());
    assert!(run("range(0, 5, 0)").is_err());
    assert!(is_unknown("range(u)"));
}

fn budget(tree: usize, scan: usize) -> super::Budget {
    super::Budget::new(
        tree,
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(scan)),
        scan,
    )
}

/// The modules `files` (`dir/file.tf`, text) make, each evaluated as a root with `budget(dir)`.
fn evaluated(
    files: &[(&str, String)],
    budget: impl Fn() -> super::Budget,
) -> std::collections::BTreeMap<String, crate::build::ModuleFacts> {
    let t = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = t.path().join(path);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let found = crate::files::discover(&[t.path().to_path_buf()]);
    let parsed: Vec<_> = found.modules.iter().map(crate::module::parse).collect();
    let catalog: super::Catalog<'_> = parsed
        .iter()
        .map(|p| (p.dir.clone(), super::Prepared::new(p)))
        .collect();
    let base = crate::files::display(t.path());
    catalog
        .values()
        .map(|m| {
            let facts = super::evaluate(m, &catalog, budget());
            let dir = facts.path.strip_prefix(&base).unwrap_or(&facts.path);
            (dir.trim_start_matches('/').to_owned(), facts)
        })
        .collect()
}

fn addresses(f: &crate::build::ModuleFacts) -> Vec<&str> {
    f.instances.iter().map(|i| i.address.as_str()).collect()
}

#[test]
fn a_module_call_is_an_instance_with_the_callers_arguments_and_full_addresses() {
    let key = r#"
variable "rotate" {
  default = true
}
resource "aws_kms_key" "this" {
  enable_key_rotation = var.rotate
}
output "arn" {
  value = aws_kms_key.this.arn
}
"#;
    let root = r#"
module "a" {
  source   = "../key"
  for_each = toset(["x", "y"])
  rotate   = each.key == "x"
}
module "b" {
  source = "../key"
  count  = 0
}
resource "aws_xray_encryption_config" "c" {
  type   = "KMS"
  key_id = module.a["y"].arn
}
"#;
    let all = evaluated(
        &[("key/main.tf", key.into()), ("root/main.tf", root.into())],
        || budget(1000, 1000),
    );
    let r = &all["root"];
    assert_eq!(
        addresses(r),
        vec![
            "aws_xray_encryption_config.c",
            "module.a[\"x\"].aws_kms_key.this",
            "module.a[\"y\"].aws_kms_key.this",
        ]
    );
    let get = |addr: &str, attr: &str| {
        let i = r.instances.iter().find(|i| i.address == addr).expect(addr);
        crate::value::get(&i.value, attr).cloned()
    };
    assert_eq!(
        get("module.a[\"x\"].aws_kms_key.this", "enable_key_rotation"),
        Some(Value::Bool(true))
    );
    assert_eq!(
        get("module.a[\"y\"].aws_kms_key.this", "enable_key_rotation"),
        Some(Value::Bool(false))
    );
    // The output leads to the instance's own key.
    assert_eq!(
        get("aws_xray_encryption_config.c", "key_id"),
        Some(reference("module.a[\"y\"].aws_kms_key.this"))
    );
    assert_eq!(r.calls.len(), 2);
    // On its own, the called module has its defaults.
    assert_eq!(addresses(&all["key"]), vec!["aws_kms_key.this"]);
}

#[test]
fn an_unknown_count_on_a_call_makes_every_instance_under_it_uncertain() {
    let root = r#"
variable "n" {}
module "a" {
  source = "../mid"
  count  = var.n
}
"#;
    let mid = "module \"b\" {\n  source = \"../leaf\"\n}\n";
    let leaf = "resource \"aws_xray_encryption_config\" \"c\" {\n  type = \"NONE\"\n}\n";
    let all = evaluated(
        &[
            ("root/main.tf", root.into()),
            ("mid/main.tf", mid.into()),
            ("leaf/main.tf", leaf.into()),
        ],
        || budget(1000, 1000),
    );
    let r = &all["root"];
    assert_eq!(
        addresses(r),
        vec!["module.a[*].module.b.aws_xray_encryption_config.c"]
    );
    let maybe = r.instances[0].maybe.as_ref().expect("uncertain");
    assert_eq!(maybe.why, "module.a: count is unknown: var.n has no value");
    assert!(maybe.at.file.ends_with("root/main.tf"), "{:?}", maybe.at);
    assert_eq!(maybe.at.line, 3, "at the module block");
    assert!(all["mid"].instances[0].maybe.is_none());
}

#[test]
fn calls_that_multiply_stop_at_the_tree_bound_and_the_rest_is_unknown() {
    // Every level calls the next twice: 2^30 instances if followed without a bound.
    let mut files = Vec::new();
    for level in 0..30 {
        let next = level + 1;
        let calls = if next < 30 {
            format!(
                "module \"l\" {{\n  source = \"../l{next}\"\n}}\nmodule \"r\" {{\n  source = \"../l{next}\"\n}}\n"
            )
        } else {
            String::new()
        };
        files.push((
            format!("l{level}/main.tf"),
            format!("{calls}resource \"aws_kms_key\" \"k\" {{}}\n"),
        ));
    }
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let start = std::time::Instant::now();
    let all = evaluated(&files, || budget(200, 1_000_000));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    let root = &all["l0"];
    assert!(root.instances.len() <= 200, "{}", root.instances.len());
    let beyond = root.unread.first().expect("calls past the bound");
    assert_eq!(
        beyond.why,
        "the module tree makes more than 200 instances, the most evaluated"
    );
    // Counted calls: 100 × 100 over a bound of 500.
    let all = evaluated(
        &[
            (
                "outer/main.tf",
                "module \"m\" {\n  source = \"../inner\"\n  count = 100\n}\n".into(),
            ),
            (
                "inner/main.tf",
                "resource \"aws_kms_key\" \"k\" {\n  count = 100\n}\n".into(),
            ),
        ],
        || budget(500, 1_000_000),
    );
    let outer = &all["outer"];
    assert!(outer.instances.len() <= 500, "{}", outer.instances.len());
    // Four instances of the call get their 100 keys; the others are calls not followed.
    assert_eq!(outer.instances.len(), 400);
    assert_eq!(outer.unread.len(), 96);
    assert!(outer
        .unread
        .iter()
        .all(|u| u.why.contains("more than 500 instances") && u.address.starts_with("module.m[")));
}

#[test]
fn the_scan_bound_is_shared_by_every_tree() {
    let scan = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(150));
    let module = |n: usize| format!("resource \"aws_kms_key\" \"k\" {{\n  count = {n}\n}}\n");
    let all = evaluated(
        &[("a/main.tf", module(100)), ("b/main.tf", module(100))],
        || super::Budget::new(1000, std::sync::Arc::clone(&scan), 150),
    );
    let unknown: Vec<_> = all
        .values()
        .flat_map(|f| &f.instances)
        .filter_map(|i| i.maybe.as_ref())
        .collect();
    assert_eq!(unknown.len(), 1, "one of the two trees is past the bound");
    assert_eq!(
        unknown[0].why,
        "the scan makes more than 150 instances, the most evaluated"
    );
}

#[test]
fn a_cycle_of_calls_is_not_followed_and_says_so() {
    let all = evaluated(
        &[
            (
                "a/main.tf",
                "module \"b\" {\n  source = \"../b\"\n}\n".into(),
            ),
            (
                "b/main.tf",
                "module \"a\" {\n  source = \"../a\"\n}\nresource \"aws_kms_key\" \"k\" {}\n"
                    .into(),
            ),
        ],
        || budget(1000, 1000),
    );
    let a = &all["a"];
    assert_eq!(addresses(a), vec!["module.b.aws_kms_key.k"]);
    assert!(
        a.unread[0].why.starts_with("module call cycle"),
        "{:?}",
        a.unread
    );
    assert_eq!(a.unread[0].address, "module.b.module.a");
}

#[test]
fn an_indented_heredoc_loses_its_common_indentation() {
    let body: hcl::Body =
        hcl::parse("x = <<-EOT\n    {\n      \"a\": 1\n    }\n    EOT\n").expect("parses");
    let expr = body.attributes().next().expect("x").expr().clone();
    let v = eval(&expr, &Scope::isolated(".", Vec::new()).outside_template()).expect("value");
    assert_eq!(v, Value::from("{\n  \"a\": 1\n}\n"));
}
