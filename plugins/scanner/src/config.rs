//! The plugin's `plugin.config` arguments (see `README.md`), parsed into a
//! [`Config`]. Unknown flags and bad values are init errors that say what to
//! write instead.

/// What the scanner does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pass the body unchanged; count and log matches.
    Report,
    /// Hold the body; answer with the block status on a match.
    Block,
    /// Replace each match with its replacement.
    Replace,
}

impl Mode {
    /// The mode as `--mode` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Report => "report",
            Mode::Block => "block",
            Mode::Replace => "replace",
        }
    }
}

/// Which bodies are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    /// Request bodies (client to origin).
    pub request: bool,
    /// Response bodies (origin to client).
    pub response: bool,
}

/// The parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `--patterns FILE` (required).
    pub patterns: String,
    /// `--mode` (default report).
    pub mode: Mode,
    /// `--ignore-case`: ASCII letters match either case.
    pub ignore_case: bool,
    /// `--on` (default response).
    pub on: Sides,
    /// `--max-hold BYTES` (default 1 MiB): block mode's hold limit.
    pub max_hold: u64,
    /// `--block-status N` (default 403).
    pub block_status: u16,
    /// `--types` media-type wildcards (`text/*`); empty: every type.
    pub types: Vec<String>,
    /// `--top-patterns N` (default 20): the most frequent patterns shown in `/stats`.
    pub top_patterns: usize,
}

/// The default `--top-patterns`.
pub const DEFAULT_TOP_PATTERNS: usize = 20;

/// The largest `--top-patterns`: the host shows a plugin at most 256 counters.
pub const MAX_TOP_PATTERNS: usize = 200;

/// The default `--max-hold`.
pub const DEFAULT_MAX_HOLD: u64 = 1024 * 1024;

const USAGE: &str = "usage: --patterns FILE [--mode report|block|replace] [--ignore-case] \
[--on response|request|both] [--max-hold BYTES] [--block-status N] [--types WILDCARD,...] [--top-patterns N]";

impl Config {
    /// Parses the words after the plugin's path.
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config {
            patterns: String::new(),
            mode: Mode::Report,
            ignore_case: false,
            on: Sides { request: false, response: true },
            max_hold: DEFAULT_MAX_HOLD,
            block_status: 403,
            types: Vec::new(),
            top_patterns: DEFAULT_TOP_PATTERNS,
        };
        let mut words = args.iter();
        while let Some(flag) = words.next() {
            // `--flag=value` and `--flag value` both work.
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag.as_str(), None),
            };
            if name == "--ignore-case" {
                if inline.is_some() {
                    return Err(format!("--ignore-case takes no value, got {flag:?}; {USAGE}"));
                }
                cfg.ignore_case = true;
                continue;
            }
            let mut value = || {
                inline.clone().or_else(|| words.next().cloned()).ok_or_else(|| format!("{name} needs a value; {USAGE}"))
            };
            match name {
                "--patterns" => cfg.patterns = value()?,
                "--mode" => {
                    cfg.mode = match value()?.as_str() {
                        "report" => Mode::Report,
                        "block" => Mode::Block,
                        "replace" => Mode::Replace,
                        other => return Err(format!("--mode {other:?}: write report, block or replace")),
                    }
                }
                "--on" => {
                    cfg.on = match value()?.as_str() {
                        "response" => Sides { request: false, response: true },
                        "request" => Sides { request: true, response: false },
                        "both" => Sides { request: true, response: true },
                        other => return Err(format!("--on {other:?}: write response, request or both")),
                    }
                }
                "--max-hold" => {
                    let v = value()?;
                    cfg.max_hold =
                        v.parse().map_err(|_| format!("--max-hold {v:?}: write a number of bytes, as in 1048576"))?;
                }
                "--block-status" => {
                    let v = value()?;
                    cfg.block_status = v
                        .parse()
                        .ok()
                        .filter(|s| (200..=599).contains(s))
                        .ok_or_else(|| format!("--block-status {v:?}: write a status code from 200 to 599"))?;
                }
                "--types" => {
                    let v = value()?;
                    cfg.types = v.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
                    if cfg.types.is_empty() {
                        return Err(format!("--types {v:?}: list media types, as in text/*,application/json"));
                    }
                }
                "--top-patterns" => {
                    let v = value()?;
                    cfg.top_patterns = v.parse().ok().filter(|n| *n <= MAX_TOP_PATTERNS).ok_or_else(|| {
                        format!("--top-patterns {v:?}: write how many patterns to show, from 0 to {MAX_TOP_PATTERNS}")
                    })?;
                }
                other => return Err(format!("unknown argument {other:?}; {USAGE}")),
            }
        }
        if cfg.patterns.is_empty() {
            return Err(format!("--patterns FILE is required; {USAGE}"));
        }
        Ok(cfg)
    }

    /// Whether a body of `content_type` (the header's value, if any) is
    /// scanned. A body without a type is taken as `application/octet-stream`,
    /// as RFC 9110 section 8.3 lets a recipient assume.
    pub fn scans_type(&self, content_type: Option<&[u8]>) -> bool {
        if self.types.is_empty() {
            return true;
        }
        let value = content_type.map(String::from_utf8_lossy).unwrap_or("application/octet-stream".into());
        let media = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        self.types.iter().any(|t| wildcard_match(t.as_bytes(), media.as_bytes()))
    }
}

/// Whether a body in `content_encoding` (the header's value, if any) is plain
/// bytes a literal scan makes sense on: absent or `identity` only.
pub fn is_identity(content_encoding: Option<&[u8]>) -> bool {
    content_encoding.is_none_or(|v| {
        String::from_utf8_lossy(v).split(',').all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"))
    })
}

/// `*` matches any run of bytes (including none); everything else is literal.
/// Backtracks only to the last `*` (O(pattern x text)): the text comes from
/// the client or the origin.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            // Let the last star take one more byte and retry after it.
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults() {
        let c = Config::parse(&args("--patterns p.txt")).expect("minimal config");
        assert_eq!(c.mode, Mode::Report);
        assert_eq!(c.on, Sides { request: false, response: true });
        assert_eq!((c.max_hold, c.block_status, c.ignore_case), (1 << 20, 403, false));
        assert!(c.types.is_empty());
        assert_eq!(c.top_patterns, DEFAULT_TOP_PATTERNS);
    }

    #[test]
    fn every_flag() {
        let c = Config::parse(&args(
            "--patterns=p --mode block --ignore-case --on both --max-hold 10 --block-status=451 --types text/*,Application/JSON --top-patterns 0",
        ))
        .expect("full config");
        assert_eq!(c.patterns, "p");
        assert_eq!(c.mode, Mode::Block);
        assert!(c.ignore_case);
        assert_eq!(c.on, Sides { request: true, response: true });
        assert_eq!((c.max_hold, c.block_status, c.top_patterns), (10, 451, 0));
        assert_eq!(c.types, ["text/*", "application/json"]);
        let c = Config::parse(&args("--patterns p --mode replace --on request")).expect("replace");
        assert_eq!((c.mode, c.on), (Mode::Replace, Sides { request: true, response: false }));
    }

    #[test]
    fn errors_name_the_argument() {
        let cases = [
            ("", "--patterns FILE is required"),
            ("--patterns", "--patterns needs a value"),
            ("--patterns p --frob", "unknown argument \"--frob\""),
            ("--patterns p --mode scan", "--mode \"scan\""),
            ("--patterns p --on sideways", "--on \"sideways\""),
            ("--patterns p --max-hold 1M", "--max-hold \"1M\""),
            ("--patterns p --block-status 99", "--block-status \"99\""),
            ("--patterns p --types ,", "--types \",\""),
            ("--patterns p --ignore-case=yes", "--ignore-case takes no value"),
            ("--patterns p --top-patterns 201", "--top-patterns \"201\""),
        ];
        for (a, want) in cases {
            let e = Config::parse(&args(a)).expect_err(a);
            assert!(e.starts_with(want), "{a}: {e}");
        }
    }

    #[test]
    fn types_match_wildcards_on_the_media_type() {
        let c = Config::parse(&args("--patterns p --types text/*,application/json")).expect("config");
        assert!(c.scans_type(Some(b"text/html; charset=utf-8")));
        assert!(c.scans_type(Some(b"Application/JSON")));
        assert!(!c.scans_type(Some(b"image/png")));
        assert!(!c.scans_type(None));
        let all = Config::parse(&args("--patterns p")).expect("config");
        assert!(all.scans_type(Some(b"image/png")) && all.scans_type(None));
        let any = Config::parse(&args("--patterns p --types */octet-stream")).expect("config");
        assert!(any.scans_type(None));
        for (pat, text, want) in [
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*/*+json", "application/problem+json", true),
            ("text/*", "texts/html", false),
        ] {
            assert_eq!(wildcard_match(pat.as_bytes(), text.as_bytes()), want, "{pat} {text}");
        }
        let long = "a".repeat(5000);
        assert!(!wildcard_match(b"*a*a*a*a*a*a*b", long.as_bytes()), "no blow-up on a long header");
    }

    #[test]
    fn identity_encoding() {
        assert!(is_identity(None));
        assert!(is_identity(Some(b"identity")));
        assert!(is_identity(Some(b" Identity ")));
        assert!(!is_identity(Some(b"gzip")));
        assert!(!is_identity(Some(b"identity, br")));
    }
}
