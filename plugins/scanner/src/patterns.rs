//! The patterns file: one literal pattern per line, `#` comment lines, blank
//! lines skipped, escapes `\t`, `\n`, `\\` and `\xNN`. In replace mode each
//! line is `PATTERN<TAB>REPLACEMENT` (the first raw tab separates them; write
//! `\t` for a tab inside either).
//!
//! Every fault is an error naming `file:line` and the fix, so that
//! `plugin-host check` refuses the configuration before it serves.

/// Longest pattern accepted. The scanner holds back at most this many bytes
/// minus one in replace mode, and keeps at most this many candidates, so it
/// bounds per-transaction memory.
pub const MAX_PATTERN_LEN: usize = 4096;

/// One line of the patterns file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The bytes to find.
    pub bytes: Vec<u8>,
    /// What replaces them (replace mode only).
    pub replacement: Option<Vec<u8>>,
    /// The line it came from (1-based), for messages.
    pub line: usize,
}

/// Reads and parses the patterns file at `path`.
pub fn load(path: &str, replace: bool) -> Result<Vec<Pattern>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!("{path}: cannot read the patterns file: {e}; check --patterns (relative paths are from the host's working directory)")
    })?;
    parse(&text, path, replace)
}

/// Parses the text of a patterns file; `file` names it in messages.
pub fn parse(text: &[u8], file: &str, replace: bool) -> Result<Vec<Pattern>, String> {
    let mut patterns = Vec::new();
    for (index, raw) in text.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        // A file written on Windows ends its lines in CR LF; match a CR with \x0d.
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() || raw[0] == b'#' {
            continue;
        }
        let at = |what: String| format!("{file}:{line}: {what}");
        let (pat, repl) = if replace {
            let tab = raw.iter().position(|b| *b == b'\t').ok_or_else(|| {
                at("replace mode needs PATTERN<TAB>REPLACEMENT, this line has no tab; separate them with one tab"
                    .into())
            })?;
            (&raw[..tab], Some(&raw[tab + 1..]))
        } else {
            (raw, None)
        };
        let bytes = unescape(pat).map_err(&at)?;
        if bytes.is_empty() {
            return Err(at("empty pattern; write at least one byte before the tab, or remove the line".into()));
        }
        if bytes.len() > MAX_PATTERN_LEN {
            return Err(at(format!("pattern of {} bytes is longer than {MAX_PATTERN_LEN}; shorten it", bytes.len())));
        }
        let replacement = repl.map(unescape).transpose().map_err(&at)?;
        patterns.push(Pattern { bytes, replacement, line });
    }
    if patterns.is_empty() {
        return Err(format!("{file}: no patterns (only comments and blank lines); add one pattern per line"));
    }
    Ok(patterns)
}

/// Decodes the escapes of one field.
fn unescape(field: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hi = bytes.next().and_then(hex);
                let lo = bytes.next().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err("bad escape: \\x needs two hex digits, as in \\x00 or \\xff".into()),
                }
            }
            Some(other) => {
                return Err(format!(
                    "unknown escape \\{}; the escapes are \\t \\n \\\\ \\xNN (write \\\\ for a backslash)",
                    char::from(other).escape_default()
                ))
            }
            None => return Err("the line ends in a lone backslash; write \\\\ for a backslash".into()),
        }
    }
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, replace: bool) -> Vec<Pattern> {
        parse(text.as_bytes(), "p.txt", replace).expect("valid patterns file")
    }

    fn err(text: &str, replace: bool) -> String {
        parse(text.as_bytes(), "p.txt", replace).expect_err("invalid patterns file")
    }

    #[test]
    fn lines_comments_blanks_and_escapes() {
        let p = ok("# header\nfoo\n\n\\x00\\xFF\\xab\r\na\\tb\\nc\\\\d\n  # not a comment\n", false);
        let bytes: Vec<&[u8]> = p.iter().map(|p| p.bytes.as_slice()).collect();
        assert_eq!(bytes, [&b"foo"[..], b"\x00\xff\xab", b"a\tb\nc\\d", b"  # not a comment"]);
        assert_eq!(p.iter().map(|p| p.line).collect::<Vec<_>>(), [2, 4, 5, 6]);
        assert!(p.iter().all(|p| p.replacement.is_none()));
    }

    #[test]
    fn raw_non_utf8_bytes_are_literal() {
        let p = parse(b"a\xff\x00b\n", "p", false).expect("raw bytes are allowed");
        assert_eq!(p[0].bytes, b"a\xff\x00b");
    }

    #[test]
    fn replace_lines_split_at_the_first_tab() {
        let p = ok("secret\t[redacted]\na\\tb\tx\ty\nempty\t\n", true);
        assert_eq!(p[0].bytes, b"secret");
        assert_eq!(p[0].replacement.as_deref(), Some(&b"[redacted]"[..]));
        assert_eq!(p[1].bytes, b"a\tb");
        assert_eq!(p[1].replacement.as_deref(), Some(&b"x\ty"[..]));
        assert_eq!(p[2].replacement.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn every_error_names_file_line_and_fix() {
        let cases = [
            ("ok\n\\q\n", false, "p.txt:2: unknown escape \\q"),
            ("\\x4\n", false, "p.txt:1: bad escape: \\x needs two hex digits"),
            ("\\xzz\n", false, "p.txt:1: bad escape"),
            ("ab\\\n", false, "p.txt:1: the line ends in a lone backslash"),
            ("# c\nno tab here\n", true, "p.txt:2: replace mode needs PATTERN<TAB>REPLACEMENT"),
            ("\tx\n", true, "p.txt:1: empty pattern"),
            ("a\t\\q\n", true, "p.txt:1: unknown escape \\q"),
            ("# only\n\n", false, "p.txt: no patterns"),
        ];
        for (text, replace, want) in cases {
            let e = err(text, replace);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
        let long = "x".repeat(MAX_PATTERN_LEN + 1);
        assert!(err(&long, false).contains("longer than 4096"));
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let e = load("/nonexistent/patterns.txt", false).expect_err("missing file");
        assert!(e.starts_with("/nonexistent/patterns.txt: cannot read the patterns file"), "{e}");
    }
}
