//! Text from files and from AWS, made safe to print on a terminal: control characters (an ESC
//! that starts a terminal escape sequence, a carriage return that overwrites a line) and Unicode
//! bidirectional controls (U+202E turns the rest of a line around, "Trojan Source") are shown as
//! `\u{…}` escapes instead of acting on the terminal. Everything else is kept as it is.

use std::borrow::Cow;

/// Whether `c` would act on a terminal instead of being shown: C0 and C1 controls, DEL, and the
/// bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
/// U+2069).
pub fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character that [acts on a terminal](acts_on_terminal) escaped; borrowed when
/// there is none (the usual case). Tabs are escaped too, so table columns stay aligned.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if acts_on_terminal(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`for_terminal`] for text of several lines (an error listing one problem per line): line
/// breaks are kept, every other character that acts on a terminal is escaped.
pub fn for_terminal_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && acts_on_terminal(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.split('\n')
            .map(|line| for_terminal(line).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// [`for_terminal`], cut to at most `max` characters (with `…` where it was cut): for echoing a
/// user's input back in a message without echoing 40 KB of it.
pub fn shortened(s: &str, max: usize) -> String {
    let safe = for_terminal(s);
    if safe.chars().count() <= max {
        return safe.into_owned();
    }
    let mut cut: String = safe.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        assert!(matches!(
            for_terminal("owner: platform-team é 日本"),
            Cow::Borrowed("owner: platform-team é 日本")
        ));
    }

    #[test]
    fn escapes_bidi_and_controls_are_shown_not_obeyed() {
        assert_eq!(
            for_terminal("a\u{1b}[31mred\u{202e}txt\r\n\t"),
            "a\\u{1b}[31mred\\u{202e}txt\\u{d}\\u{a}\\u{9}"
        );
        assert_eq!(for_terminal("\u{85}\u{2066}x"), "\\u{85}\\u{2066}x");
    }

    #[test]
    fn lines_keep_their_breaks_and_lose_their_escapes() {
        assert_eq!(
            for_terminal_lines("a: bad\nb: \u{1b}[2Jworse\r"),
            "a: bad\nb: \\u{1b}[2Jworse\\u{d}"
        );
        assert!(matches!(for_terminal_lines("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn shortened_cuts_long_input() {
        let long = "a.".repeat(1000);
        let s = shortened(&long, 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.ends_with('…'));
        assert_eq!(shortened("short", 20), "short");
    }
}
