//! Wildcards for `compressible-content-type` and `allow`, as Traffic
//! Server's `fnmatch(pattern, text, 0)` reads them: `*` matches any run of
//! characters (`/` included), `?` one character, `[...]` one of a set
//! (`[!...]` or `[^...]` negated, `a-z` ranges), `\` quotes the next
//! character. Content types match case-insensitively (media types are case-
//! insensitive, RFC 9110 section 8.3.1); URLs match exactly.

/// Whether `text` matches `pattern`.
///
/// ```
/// use plugin_gzip::glob::matches;
/// assert!(matches("text/*", "text/html", true));
/// assert!(matches("*/nothere/*", "/a/nothere/b.js", false));
/// assert!(!matches("/this/*.js", "/this/a.css", false));
/// ```
pub fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if ignore_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    // Iterative matching with one backtrack point for the last `*`: linear
    // in practice and never recursive, whatever the pattern.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p[pi..], t[ti], ignore_case).map(|len| pi + len),
            Some('\\') if pi + 1 < p.len() => eq(p[pi + 1], t[ti]).then_some(pi + 2),
            Some(&c) => eq(c, t[ti]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                // Let the last `*` swallow one more character and retry.
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`; returns
/// the expression's length on a match. An unclosed `[` is a literal `[`.
fn class(p: &[char], c: char, ignore_case: bool) -> Option<usize> {
    let Some(close) = p.iter().skip(2).position(|x| *x == ']').map(|i| i + 2) else {
        return (c == '[').then_some(1);
    };
    let negated = matches!(p.get(1), Some('!' | '^'));
    let body = &p[if negated { 2 } else { 1 }..close];
    let fold = |x: char| if ignore_case { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    let mut found = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            found |= (fold(body[i])..=fold(body[i + 2])).contains(&c);
            i += 3;
        } else {
            found |= fold(body[i]) == c;
            i += 1;
        }
    }
    (found != negated).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*", "", false));
        assert!(matches("text/*", "text/", false));
        assert!(matches("*javascript", "application/javascript", false));
        assert!(matches("*ml;*", "text/html; charset=utf-8", false));
        assert!(matches("a*b*c", "aXbYbZc", false));
        assert!(!matches("a*b*c", "aXbYbZ", false));
        assert!(matches("te?t/*", "text/css", false));
        assert!(!matches("text/*", "image/text", false));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(matches("image/[sx]*", "image/svg+xml", false));
        assert!(!matches("image/[!sx]*", "image/svg+xml", false));
        assert!(matches("v[0-9]", "v7", false));
        assert!(matches("a\\*", "a*", false));
        assert!(!matches("a\\*", "ab", false));
        assert!(matches("[", "[", false));
    }

    #[test]
    fn case_folding_only_when_asked() {
        assert!(matches("text/*", "Text/HTML", true));
        assert!(!matches("/A/*", "/a/b", false));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = "a".repeat(10_000);
        assert!(!matches(&format!("{}b", "a*".repeat(50)), &text, false));
    }
}
