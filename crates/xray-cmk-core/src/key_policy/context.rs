//! The request context: the condition keys a request carries and their values.

use std::collections::BTreeMap;

/// Condition keys and their values for one request. Key names are case-insensitive (as in IAM);
/// values keep their case. A key may carry several values (multi-valued keys such as
/// `aws:TagKeys`); a key set to an empty list counts as absent.
///
/// ```
/// use xray_cmk_core::key_policy::Context;
/// let ctx = Context::new()
///     .with("kms:ViaService", "xray.us-east-1.amazonaws.com")
///     .with_bool("kms:GrantIsForAWSResource", true);
/// assert_eq!(ctx.get("KMS:VIASERVICE"), Some(&["xray.us-east-1.amazonaws.com".to_string()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to the single value `value`, replacing what it had.
    pub fn with(self, key: &str, value: impl Into<String>) -> Self {
        self.with_values(key, [value.into()])
    }

    /// Sets `key` to `true` or `false`, as the request context spells booleans.
    pub fn with_bool(self, key: &str, value: bool) -> Self {
        self.with(key, value.to_string())
    }

    /// Sets `key` to a number.
    pub fn with_number(self, key: &str, value: f64) -> Self {
        self.with(key, value.to_string())
    }

    /// Sets a multi-valued `key` to `values` (an empty list leaves the key absent).
    pub fn with_values<I, V>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// The values of `key`, or `None` when the request does not carry it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
            .filter(|values| !values.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::Context;

    #[test]
    fn keys_are_case_insensitive_and_values_are_not() {
        let ctx = Context::new()
            .with("aws:SourceIp", "10.0.0.1")
            .with("AWS:PrincipalOrgID", "o-ABC");
        assert_eq!(ctx.get("AWS:SOURCEIP"), Some(&["10.0.0.1".to_string()][..]));
        assert_eq!(
            ctx.get("aws:principalorgid"),
            Some(&["o-ABC".to_string()][..])
        );
        assert_eq!(ctx.get("aws:SourceVpc"), None);
    }

    #[test]
    fn later_values_replace_earlier_ones_and_empty_means_absent() {
        let ctx = Context::new()
            .with("k", "a")
            .with("K", "b")
            .with_values("tags", Vec::<String>::new());
        assert_eq!(ctx.get("k"), Some(&["b".to_string()][..]));
        assert_eq!(ctx.get("tags"), None);
        assert_eq!(
            Context::new().with_bool("b", true).get("b"),
            Some(&["true".to_string()][..])
        );
        assert_eq!(
            Context::new().with_number("n", 10.0).get("n"),
            Some(&["10".to_string()][..])
        );
    }
}
