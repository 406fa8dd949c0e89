//! Glob matching with IAM's two wildcards: `*` (any run of characters, also none) and `?` (exactly
//! one character). Used for actions, `StringLike` and the components of `ArnLike`.

/// Whether `text` matches `pattern`, comparing letters case-sensitively or not.
pub(crate) fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    // Greedy scan with one backtrack point (the last `*`): linear enough for policy-sized input and
    // free of the exponential blow-up of naive recursion on patterns like `*a*a*a*b`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && same(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `pattern` is made of wildcards only (`*`, `**`, `?*`): it restricts nothing useful.
pub(crate) fn is_wildcard_only(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.chars().all(|c| c == '*' || c == '?')
}

#[cfg(test)]
mod tests {
    use super::{is_wildcard_only, matches};

    #[test]
    fn star_and_question_mark() {
        assert!(matches("kms:*", "kms:Decrypt", false));
        assert!(matches("kms:Create*", "kms:CreateGrant", false));
        assert!(matches("kms:Create*", "kms:Create", false));
        assert!(!matches("kms:Create*", "kms:DescribeKey", false));
        assert!(matches("*", "", false));
        assert!(matches("kms:?ecrypt", "kms:Decrypt", false));
        assert!(!matches("kms:?ecrypt", "kms:ecrypt", false));
        assert!(matches("*a*a*b", "aaaaaaaaaaaaaaaaaab", false));
        assert!(!matches("*a*a*b", "aaaaaaaaaaaaaaaaaaa", false));
        assert!(matches("a*b*c", "a-b-x-c", false));
        assert!(!matches("abc", "abcd", false));
    }

    #[test]
    fn case_handling() {
        assert!(matches("KMS:decrypt", "kms:Decrypt", true));
        assert!(!matches("KMS:decrypt", "kms:Decrypt", false));
    }

    #[test]
    fn wildcard_only() {
        assert!(is_wildcard_only("*"));
        assert!(is_wildcard_only("?*"));
        assert!(!is_wildcard_only("o-*"));
        assert!(!is_wildcard_only(""));
    }
}
