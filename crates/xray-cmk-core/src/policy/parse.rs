//! Reading `xray-cmk.toml` into an [`OrgPolicy`].
//!
//! The document is parsed into `toml`'s spanned tree and walked by hand rather than deserialized
//! with serde: serde stops at the first unknown key or wrong type, and its errors do not say which
//! setting they are about. Walking the tree lets one run report every problem, each with the dotted
//! key and the position of the offending text.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::checks;
use super::error::{line_column, Errors, PolicyErrors};
use super::{
    AccessPolicy, Date, Exemption, GuardPolicy, KeyPolicyRules, OrgPolicy, RotationPolicy,
    TagPolicy,
};

type Value<'i> = Spanned<DeValue<'i>>;
/// Checks a string setting; the error is the message to show next to it.
type Check<'a> = &'a dyn Fn(&str) -> Result<(), checks::Invalid>;

const SECTIONS: &[&str] = &["rotation", "tags", "keys", "access", "exemptions", "guard"];
const GUARD_KEYS: &[&str] = &[
    "automation_roles",
    "break_glass_roles",
    "alert_topic_arn",
    "auto_remediate",
];
const ROTATION_KEYS: &[&str] = &["max_period_days"];
const TAG_KEYS: &[&str] = &["required", "values"];
const KEY_KEYS: &[&str] = &["approved", "alias"];
const ACCESS_KEYS: &[&str] = &[
    "key_admins",
    "xray_admins",
    "trace_readers",
    "cross_account_readers",
    "trusted_accounts",
];
const EXEMPTION_KEYS: &[&str] = &["account", "region", "rule", "reason", "expires"];

pub(super) fn parse(
    source: &str,
    file: &str,
    known_rules: &[&str],
) -> Result<OrgPolicy, PolicyErrors> {
    let mut errors = Errors::new(source, file);
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    // After a syntax error the recovered tree may have lost or misplaced settings, and the
    // parser's own recovery cascades (one unclosed `[` gives an error per following line): report
    // the first syntax error alone. The parser does not return them in file order.
    let first = syntax_errors
        .iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start));
    if let Some(error) = first {
        report_syntax_error(&mut errors, error);
        return Err(errors.into_errors());
    }
    let policy = Reader {
        errors: &mut errors,
        known_rules,
    }
    .policy(document.get_ref());
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(errors.into_errors())
    }
}

fn report_syntax_error(errors: &mut Errors<'_>, error: &toml::de::Error) {
    let span = error.span().unwrap_or(0..0);
    let key = syntax::key_at(errors.source(), span.start);
    // The parser's messages can span lines; keep one error per line of output.
    let message = error.message().trim().replace('\n', "; ");
    errors.push(span, &key, format!("invalid TOML: {message}"));
}

/// Walks the document, keeping defaults for what is absent and recording every problem.
struct Reader<'r, 's> {
    errors: &'r mut Errors<'s>,
    known_rules: &'r [&'r str],
}

impl Reader<'_, '_> {
    fn policy(&mut self, root: &DeTable<'_>) -> OrgPolicy {
        self.reject_unknown(root, "", SECTIONS);
        let mut policy = OrgPolicy::default();
        if let Some(table) = self.section(root, "rotation") {
            policy.rotation = self.rotation(table);
        }
        if let Some(table) = self.section(root, "tags") {
            policy.tags = self.tags(table);
        }
        if let Some(table) = self.section(root, "keys") {
            policy.keys = self.keys(table);
        }
        if let Some(table) = self.section(root, "access") {
            policy.access = self.access(table);
        }
        if let Some(value) = root.get("exemptions") {
            policy.exemptions = self.exemptions(value);
        }
        if let Some(table) = self.section(root, "guard") {
            policy.guard = self.guard(table);
        }
        policy
    }

    fn guard(&mut self, table: &DeTable<'_>) -> GuardPolicy {
        self.reject_unknown(table, "guard", GUARD_KEYS);
        let mut guard = GuardPolicy::default();
        for (name, list) in [
            ("automation_roles", &mut guard.automation_roles),
            ("break_glass_roles", &mut guard.break_glass_roles),
        ] {
            if let Some(items) = self.string_list(table, "guard", name, &checks::iam_role) {
                self.reject_duplicates(&items);
                *list = texts(items);
            }
        }
        if let Some(value) = table.get("alert_topic_arn") {
            guard.alert_topic_arn =
                self.checked_string(value, "guard.alert_topic_arn", &checks::sns_topic_arn);
        }
        if let Some(value) = table.get("auto_remediate") {
            match value.get_ref() {
                DeValue::Boolean(b) => guard.auto_remediate = *b,
                other => self.type_error(
                    value.span(),
                    "guard.auto_remediate",
                    "a boolean (true or false)",
                    other,
                ),
            }
        }
        guard
    }

    fn rotation(&mut self, table: &DeTable<'_>) -> RotationPolicy {
        self.reject_unknown(table, "rotation", ROTATION_KEYS);
        let mut rotation = RotationPolicy::default();
        let key = "rotation.max_period_days";
        let Some(value) = table.get("max_period_days") else {
            return rotation;
        };
        let Some(days) = self.integer(value, key) else {
            return rotation;
        };
        match u32::try_from(days)
            .ok()
            .filter(|d| super::ROTATION_PERIOD_DAYS.contains(d))
        {
            Some(days) => rotation.max_period_days = days,
            None => self.errors.push(
                value.span(),
                key,
                format!(
                    "must be between {} and {} days, the rotation periods KMS allows; found {days}",
                    super::ROTATION_PERIOD_DAYS.start(),
                    super::ROTATION_PERIOD_DAYS.end()
                ),
            ),
        }
        rotation
    }

    fn tags(&mut self, table: &DeTable<'_>) -> TagPolicy {
        self.reject_unknown(table, "tags", TAG_KEYS);
        let mut tags = TagPolicy::default();
        if let Some(required) = self.string_list(table, "tags", "required", &checks::tag_key) {
            self.reject_duplicates(&required);
            tags.required = texts(required);
        }
        if let Some(value) = table.get("values") {
            if let Some(values) = self.table(value, "tags.values") {
                for (key, value) in values {
                    let name: &str = key.get_ref();
                    let path = join("tags.values", name);
                    if let Err(message) = checks::tag_key(name) {
                        self.errors.push(key.span(), &path, message);
                        continue;
                    }
                    if let Some(text) = self.checked_string(value, &path, &checks::tag_value) {
                        tags.values.insert(name.to_owned(), text);
                    }
                }
            }
        }
        tags
    }

    fn keys(&mut self, table: &DeTable<'_>) -> KeyPolicyRules {
        self.reject_unknown(table, "keys", KEY_KEYS);
        let mut keys = KeyPolicyRules::default();
        let approved = &checks::approved_key_pattern;
        if let Some(list) = self.string_list(table, "keys", "approved", approved) {
            keys.approved = texts(list);
        }
        if let Some(value) = table.get("alias") {
            if let Some(alias) =
                self.checked_string(value, "keys.alias", &checks::remediation_alias)
            {
                keys.alias = alias;
            }
        }
        keys
    }

    fn access(&mut self, table: &DeTable<'_>) -> AccessPolicy {
        self.reject_unknown(table, "access", ACCESS_KEYS);
        let principal = &checks::iam_principal;
        let mut list = |name: &str, check: Check<'_>| -> Vec<String> {
            texts(
                self.string_list(table, "access", name, check)
                    .unwrap_or_default(),
            )
        };
        AccessPolicy {
            key_admins: list("key_admins", principal),
            xray_admins: list("xray_admins", principal),
            trace_readers: list("trace_readers", principal),
            cross_account_readers: list("cross_account_readers", &cross_account_reader),
            trusted_accounts: list("trusted_accounts", &checks::account_id),
        }
    }

    fn exemptions(&mut self, value: &Value<'_>) -> Vec<Exemption> {
        let DeValue::Array(items) = value.get_ref() else {
            let found = value.get_ref().type_str();
            let message = format!("expected an array of tables (`[[exemptions]]`), found {found}");
            self.errors.push(value.span(), "exemptions", message);
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.exemption(item, index))
            .collect()
    }

    fn exemption(&mut self, item: &Value<'_>, index: usize) -> Option<Exemption> {
        let path = format!("exemptions[{index}]");
        let table = self.table(item, &path)?;
        self.reject_unknown(table, &path, EXEMPTION_KEYS);
        let header = item.span();
        let known_rules = self.known_rules;
        let rule_check = |rule: &str| checks::exemption_rule(rule, known_rules);
        // Read every field before giving up on any, so that all their errors are reported.
        let account =
            self.required_string(table, &path, "account", &header, &checks::exemption_account);
        let region =
            self.required_string(table, &path, "region", &header, &checks::exemption_region);
        let rule = self.required_string(table, &path, "rule", &header, &rule_check);
        let reason =
            self.required_string(table, &path, "reason", &header, &checks::exemption_reason);
        let expires = match table.get("expires") {
            Some(value) => self.date(value, &format!("{path}.expires")),
            None => self.missing(&header, &path, "expires"),
        };
        Some(Exemption {
            account: account?,
            region: region?,
            rule: rule?,
            reason: reason?,
            expires: expires?,
            line: line_column(self.errors.source(), header.start).0,
        })
    }

    /// A top-level table; absent is fine, anything else than a table is an error.
    fn section<'t, 'i>(&mut self, root: &'t DeTable<'i>, name: &str) -> Option<&'t DeTable<'i>> {
        let value = root.get(name)?;
        self.table(value, name)
    }

    fn table<'t, 'i>(&mut self, value: &'t Value<'i>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.type_error(value.span(), key, "a table", other);
                None
            }
        }
    }

    /// Typos must not pass silently: a misspelt key would otherwise leave its default in force.
    fn reject_unknown(&mut self, table: &DeTable<'_>, path: &str, known: &[&str]) {
        let what = if path.is_empty() { "section" } else { "key" };
        for key in table.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let message = match checks::suggestion(name, known) {
                Some(close) => format!("unknown {what}, did you mean `{close}`?"),
                None => format!("unknown {what}, expected one of: {}", known.join(", ")),
            };
            self.errors.push(key.span(), &join(path, name), message);
        }
    }

    fn integer(&mut self, value: &Value<'_>, key: &str) -> Option<i64> {
        match value.get_ref() {
            DeValue::Integer(int) => {
                let parsed = i64::from_str_radix(int.as_str(), int.radix()).ok();
                if parsed.is_none() {
                    self.errors.push(value.span(), key, "integer out of range");
                }
                parsed
            }
            other => {
                self.type_error(value.span(), key, "an integer", other);
                None
            }
        }
    }

    fn string<'v>(&mut self, value: &'v Value<'_>, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text),
            other => {
                self.type_error(value.span(), key, "a string", other);
                None
            }
        }
    }

    fn checked_string(&mut self, value: &Value<'_>, key: &str, check: Check<'_>) -> Option<String> {
        let text = self.string(value, key)?;
        match check(text) {
            Ok(()) => Some(text.to_owned()),
            Err(message) => {
                self.errors.push(value.span(), key, message);
                None
            }
        }
    }

    fn required_string(
        &mut self,
        table: &DeTable<'_>,
        path: &str,
        name: &str,
        header: &Range<usize>,
        check: Check<'_>,
    ) -> Option<String> {
        match table.get(name) {
            Some(value) => self.checked_string(value, &join(path, name), check),
            None => self.missing(header, path, name),
        }
    }

    fn missing<T>(&mut self, header: &Range<usize>, path: &str, name: &str) -> Option<T> {
        let message = "missing: every exemption needs account, region, rule, reason and expires";
        self.errors.push(header.clone(), &join(path, name), message);
        None
    }

    /// `section.name`, an array of strings each passing `check`; `None` when absent or not an
    /// array. The valid items keep their key and span for checks across items.
    fn string_list(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        name: &str,
        check: Check<'_>,
    ) -> Option<Vec<ListItem>> {
        let value = table.get(name)?;
        let key = join(section, name);
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(value.span(), &key, "an array of strings", value.get_ref());
            return None;
        };
        let valid = items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| {
                let key = format!("{key}[{index}]");
                let text = self.checked_string(item, &key, check)?;
                Some(ListItem {
                    key,
                    text: Spanned::new(item.span(), text),
                })
            })
            .collect();
        Some(valid)
    }

    fn reject_duplicates(&mut self, items: &[ListItem]) {
        let mut first_seen: HashMap<&str, &str> = HashMap::new();
        for item in items {
            let text = item.text.get_ref().as_str();
            match first_seen.entry(text) {
                Entry::Vacant(slot) => {
                    slot.insert(&item.key);
                }
                Entry::Occupied(first) => {
                    let message = format!("`{text}` is listed twice (first as {})", first.get());
                    self.errors.push(item.text.span(), &item.key, message);
                }
            }
        }
    }

    /// A TOML local date, or the same as a `"YYYY-MM-DD"` string for hand-written files that quote it.
    fn date(&mut self, value: &Value<'_>, key: &str) -> Option<Date> {
        let parsed = match value.get_ref() {
            DeValue::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
                (Some(day), None, None) => Date::new(day.year, day.month, day.day)
                    .ok_or_else(|| format!("`{datetime}` is not a day of the calendar")),
                _ => Err(format!(
                    "`{datetime}` must be a date like 2027-06-30, without a time"
                )),
            },
            DeValue::String(text) => text.parse::<Date>().map_err(|e| e.to_string()),
            other => {
                self.type_error(value.span(), key, "a date (YYYY-MM-DD)", other);
                return None;
            }
        };
        parsed
            .map_err(|message| self.errors.push(value.span(), key, message))
            .ok()
    }

    fn type_error(&mut self, span: Range<usize>, key: &str, expected: &str, found: &DeValue<'_>) {
        let message = format!("expected {expected}, found {}", found.type_str());
        self.errors.push(span, key, message);
    }
}

/// A valid string of a list, with its key (`tags.required[2]`) and span.
struct ListItem {
    key: String,
    text: Spanned<String>,
}

fn texts(items: Vec<ListItem>) -> Vec<String> {
    items.into_iter().map(|i| i.text.into_inner()).collect()
}

/// A cross-account reader lives in one fixed, other account: `{account}` would make it a
/// same-account principal, which belongs in `trace_readers`.
fn cross_account_reader(arn: &str) -> Result<(), checks::Invalid> {
    checks::iam_principal(arn)?;
    if arn.contains(super::ACCOUNT_PLACEHOLDER) {
        return Err(checks::Invalid(format!(
            "`{arn}` names `{}`; a cross-account reader belongs to one fixed account \
             (same-account readers go in `trace_readers`)",
            super::ACCOUNT_PLACEHOLDER
        )));
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Naming the setting a syntax error is in. The parser only gives a position, so the key is found
/// from the text: the last table header before the error and the key on its line. Best effort, for
/// messages only; a line it cannot read gives just the table, or no key at all.
mod syntax {
    use std::collections::HashMap;

    use super::join;

    pub(super) fn key_at(source: &str, offset: usize) -> String {
        let line_number = super::line_column(source, offset).0;
        let mut table = String::new();
        let mut array_counts: HashMap<String, usize> = HashMap::new();
        for (index, line) in source.lines().enumerate() {
            if let Some((name, is_array)) = header(line) {
                table = if is_array {
                    let count = array_counts.entry(name.to_owned()).or_default();
                    *count += 1;
                    format!("{name}[{}]", *count - 1)
                } else {
                    name.to_owned()
                };
            }
            if index + 1 == line_number {
                return match assigned_key(line) {
                    Some(key) if header(line).is_none() => join(&table, key),
                    _ => table,
                };
            }
        }
        table
    }

    /// `[name]` or `[[name]]` with a bare dotted name, optionally followed by a comment.
    fn header(line: &str) -> Option<(&str, bool)> {
        let line = line.split('#').next().unwrap_or_default().trim();
        let (inner, is_array) = match line.strip_prefix("[[") {
            Some(rest) => (rest.strip_suffix("]]")?, true),
            None => (line.strip_prefix('[')?.strip_suffix(']')?, false),
        };
        let name = inner.trim();
        is_bare_key(name).then_some((name, is_array))
    }

    /// The bare (possibly dotted) key of a `key = value` line.
    fn assigned_key(line: &str) -> Option<&str> {
        let (key, _) = line.split_once('=')?;
        let key = key.trim();
        is_bare_key(key).then_some(key)
    }

    fn is_bare_key(text: &str) -> bool {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    }

    #[cfg(test)]
    mod tests {
        use super::key_at;

        #[test]
        fn finds_table_and_key_of_a_line() {
            let source = "[rotation]\nmax_period_days = \n[[exemptions]]\n[[exemptions]]\nreason = \"x\nfoo\n";
            assert_eq!(key_at(source, 0), "rotation");
            assert_eq!(key_at(source, 12), "rotation.max_period_days");
            assert_eq!(
                key_at(source, source.find("reason").unwrap_or(0)),
                "exemptions[1].reason"
            );
            assert_eq!(
                key_at(source, source.find("foo").unwrap_or(0)),
                "exemptions[1]"
            );
            assert_eq!(key_at("= 3", 0), "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::policy::OrgPolicy;
    use proptest::prelude::*;

    const RULES: &[&str] = &["rule-a"];

    fn errors(source: &str) -> String {
        match parse(source, "p.toml", RULES) {
            Ok(policy) => panic!("should be rejected, parsed as {policy:?}"),
            Err(errors) => errors.to_string(),
        }
    }

    #[test]
    fn tags_aws_would_reject_are_refused_and_shown_escaped() {
        let e = errors("[tags]\nrequired = [\"team\u{1F600}\"]\n");
        assert!(
            e.contains(
                "has the character `\u{1F600}` (U+1F600), which AWS does not allow in a tag key"
            ),
            "{e}"
        );
        let e =
            errors("[tags]\nrequired = [\"owner\"]\nvalues = { owner = \"evil\u{202E}txt\" }\n");
        assert!(
            e.contains("`evil\\u{202e}txt` has the control character `\\u{202e}` (U+202E)"),
            "{e}"
        );
        assert!(!e.contains('\u{202E}'), "never printed raw: {e}");
        let e = errors("[tags]\nrequired = [\"AWS:team\"]\n");
        assert!(e.contains("the `aws:` prefix is reserved"), "{e}");
        // What AWS allows passes.
        parse(
            "[tags]\nrequired = [\"cost-center\", \"équipe\", \"a.b:c/d=e+f-g@h i_j\"]\n",
            "p.toml",
            RULES,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn an_exemption_reason_that_would_act_on_the_terminal_is_refused() {
        let e = errors(
            "[[exemptions]]\naccount = \"*\"\nregion = \"*\"\nrule = \"rule-a\"\nreason = \"ok\u{202E}\"\nexpires = \"2099-01-01\"\n",
        );
        assert!(
            e.contains("the reason has the control character U+202E"),
            "{e}"
        );
        assert!(!e.contains('\u{202E}'), "{e}");
    }

    #[test]
    fn a_deeply_nested_key_path_is_not_echoed_whole() {
        let depth = 5000;
        let source = format!("[rotation]\n{} = 1\n", vec!["a"; depth].join("."));
        let e = errors(&source);
        assert!(e.len() < 2000, "{} bytes: {}", e.len(), &e[..200]);
    }

    #[test]
    fn inline_tables_and_dotted_keys_are_the_same_settings() {
        let source = "rotation.max_period_days = 90\n\
                      keys = { alias = \"alias/x\" }\n\
                      exemptions = [\n  \
                        { account = \"*\", region = \"*\", rule = \"rule-a\", reason = \"r\", expires = \"2027-01-01\" },\n\
                      ]\n";
        let policy = parse(source, "p.toml", RULES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(policy.rotation.max_period_days, 90);
        assert_eq!(policy.keys.alias, "alias/x");
        assert_eq!(policy.exemptions.len(), 1);
        assert_eq!(policy.exemptions[0].line, 4);
    }

    #[test]
    fn windows_line_endings_give_the_same_positions() {
        let source = "[rotation]\r\nmax_period_days = 10\r\n";
        assert_eq!(
            errors(source),
            "p.toml:2:19: rotation.max_period_days: must be between 90 and 2560 days, \
             the rotation periods KMS allows; found 10"
        );
    }

    #[test]
    fn exemption_missing_every_field_is_one_error_per_field() {
        let text = errors("[[exemptions]]\n");
        let keys: Vec<&str> = text.lines().filter_map(|l| l.split(": ").nth(1)).collect();
        assert_eq!(
            keys,
            [
                "exemptions[0].account",
                "exemptions[0].region",
                "exemptions[0].rule",
                "exemptions[0].reason",
                "exemptions[0].expires"
            ]
        );
    }

    #[test]
    fn huge_integers_are_reported_not_wrapped() {
        assert_eq!(
            errors("[rotation]\nmax_period_days = 4294967686\n"),
            "p.toml:2:19: rotation.max_period_days: must be between 90 and 2560 days, \
             the rotation periods KMS allows; found 4294967686"
        );
    }

    #[test]
    fn the_guard_table_is_read_and_checked_like_the_others() {
        let policy = parse(
            "[guard]\nautomation_roles = [\"arn:aws:iam::{account}:role/Auto\"]\n\
             break_glass_roles = [\"arn:aws:iam::111122223333:role/BreakGlass\"]\n\
             alert_topic_arn = \"arn:aws:sns:us-east-1:{account}:alerts\"\nauto_remediate = true\n",
            "p.toml",
            RULES,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            policy.guard.automation_roles,
            ["arn:aws:iam::{account}:role/Auto"]
        );
        assert_eq!(
            policy.guard.alert_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:{account}:alerts")
        );
        assert!(policy.guard.auto_remediate);
        let e = errors(
            "[guard]\nautomation_role = []\nbreak_glass_roles = [\"arn:aws:iam::111122223333:user/bob\", \"x\"]\n\
             alert_topic_arn = \"arn:aws:sqs:us-east-1:111122223333:q\"\nauto_remediate = \"yes\"\n",
        );
        assert_eq!(
            e,
            "p.toml:2:1: guard.automation_role: unknown key, did you mean `automation_roles`?\n\
             p.toml:3:22: guard.break_glass_roles[0]: `arn:aws:iam::111122223333:user/bob` is not an IAM role ARN \
             (expected arn:aws:iam::<12-digit account or {account}>:role/<name>)\n\
             p.toml:3:60: guard.break_glass_roles[1]: `x` is not an IAM role ARN \
             (expected arn:aws:iam::<12-digit account or {account}>:role/<name>)\n\
             p.toml:4:19: guard.alert_topic_arn: `arn:aws:sqs:us-east-1:111122223333:q` is not an SNS topic ARN \
             (expected arn:aws:sns:<region>:<12-digit account or {account}>:<topic name>)\n\
             p.toml:5:18: guard.auto_remediate: expected a boolean (true or false), found string"
        );
        let e = errors("[guard]\nbreak_glass_roles = [\"arn:aws:iam::{account}:role/B\", \"arn:aws:iam::{account}:role/B\"]\n");
        assert!(e.contains("is listed twice"), "{e}");
    }

    #[test]
    fn the_default_policy_is_what_an_empty_file_means() {
        assert_eq!(
            parse("# nothing\n", "p.toml", RULES),
            Ok(OrgPolicy::default())
        );
    }

    proptest! {
        /// Error positions and keys are computed from arbitrary text: they must never panic.
        #[test]
        fn never_panics(source in "[\\[\\]a-z_.=\"'{}#, 0-9\\n\\r\t-é]{0,80}") {
            let _ = parse(&source, "p.toml", RULES);
        }
    }
}
