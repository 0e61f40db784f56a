//! The `plugin.config` parser: Traffic Server's syntax, one plugin a line.
//!
//! ```text
//! # comment                      a `#` outside double quotes ends the line
//! null.so                        relative to the plugin directory
//! /opt/ph/gzip.so --min=256      absolute path, then arguments
//! scanner.so "a b" --re="x\"y"   quotes group spaces; \" and \\ escape
//! ```
//!
//! Whitespace is spaces and tabs; a trailing `\r` (CRLF files) is dropped.
//! Quotes may open anywhere in an argument and join what touches them
//! (`--x="a b"c` is `--x=a bc`); `""` is an empty argument. Inside quotes
//! only `\"` and `\\` are escapes: any other backslash is kept, so regular
//! expressions need no doubling. Outside quotes a backslash is literal.
//!
//! Parsing reports every error in the file, not just the first, so an
//! operator fixes the file in one pass (`plugin-host check` prints them).
//! The order of the returned lines is the order of the transform chain.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// One plugin line of `plugin.config`, checked to name an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLine {
    /// The config file the line came from, as given to the parser.
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    /// The plugin's shared object, resolved to an absolute path (symlinks
    /// are not resolved: the loader copies the bytes anyway).
    pub path: PathBuf,
    /// The arguments after the path, quotes removed. Traffic Server's
    /// `argv[0]` (the path) is not included.
    pub args: Vec<String>,
}

/// Everything that can be wrong with a `plugin.config`; each names the file
/// and, where there is one, the line.
#[derive(Debug)]
pub enum ConfigError {
    /// The config file itself could not be read.
    Unreadable { file: PathBuf, source: io::Error },
    /// A line is not UTF-8; `column` is the 1-based character position of
    /// the first bad byte.
    NotUtf8 {
        file: PathBuf,
        line: usize,
        column: usize,
    },
    /// A double quote opened at `column` (1-based) is never closed.
    UnterminatedQuote {
        file: PathBuf,
        line: usize,
        column: usize,
    },
    /// The plugin path, as written (`given`) and as resolved, does not exist.
    PluginNotFound {
        file: PathBuf,
        line: usize,
        given: String,
        resolved: PathBuf,
    },
    /// The plugin path names a directory.
    PluginIsDirectory {
        file: PathBuf,
        line: usize,
        given: String,
        resolved: PathBuf,
    },
    /// The plugin path could not be inspected (permissions, a file where a
    /// directory should be, ...).
    PluginUnreadable {
        file: PathBuf,
        line: usize,
        given: String,
        resolved: PathBuf,
        source: io::Error,
    },
}

impl ConfigError {
    /// The config file the error is in.
    pub fn file(&self) -> &Path {
        match self {
            Self::Unreadable { file, .. }
            | Self::NotUtf8 { file, .. }
            | Self::UnterminatedQuote { file, .. }
            | Self::PluginNotFound { file, .. }
            | Self::PluginIsDirectory { file, .. }
            | Self::PluginUnreadable { file, .. } => file,
        }
    }

    /// The 1-based line, or `None` for an error about the whole file.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Unreadable { .. } => None,
            Self::NotUtf8 { line, .. }
            | Self::UnterminatedQuote { line, .. }
            | Self::PluginNotFound { line, .. }
            | Self::PluginIsDirectory { line, .. }
            | Self::PluginUnreadable { line, .. } => Some(*line),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file().display())?;
        if let Some(line) = self.line() {
            write!(f, ":{line}")?;
        }
        match self {
            Self::Unreadable { source, .. } => write!(
                f,
                ": cannot read the config file: {source}; check the path and its permissions"
            ),
            Self::NotUtf8 { column, .. } => write!(
                f,
                ": not valid UTF-8 (first bad byte at column {column}); save the file as UTF-8"
            ),
            Self::UnterminatedQuote { column, .. } => write!(
                f,
                ": double quote opened at column {column} is never closed; \
                 close it, and write \\\" for a quote inside quotes"
            ),
            Self::PluginNotFound {
                given, resolved, ..
            } => write!(
                f,
                ": plugin {given} not found (looked in {}); check the path or --plugin-dir",
                resolved.display()
            ),
            Self::PluginIsDirectory {
                given, resolved, ..
            } => write!(
                f,
                ": plugin {given} is a directory ({}); name the plugin's .so file",
                resolved.display()
            ),
            Self::PluginUnreadable {
                given,
                resolved,
                source,
                ..
            } => write!(
                f,
                ": cannot inspect plugin {given} ({}): {source}; check the permissions of the \
                 file and its directories",
                resolved.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreadable { source, .. } | Self::PluginUnreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads and parses `config`; relative plugin paths are resolved against
/// `plugin_dir`. Returns every plugin line, or every error found.
pub fn parse_file(config: &Path, plugin_dir: &Path) -> Result<Vec<PluginLine>, Vec<ConfigError>> {
    match std::fs::read(config) {
        Ok(bytes) => parse_bytes(&bytes, config, plugin_dir),
        Err(source) => Err(vec![ConfigError::Unreadable {
            file: config.to_path_buf(),
            source,
        }]),
    }
}

/// Parses config text; `file` is only used to label lines and errors.
pub fn parse_str(
    text: &str,
    file: &Path,
    plugin_dir: &Path,
) -> Result<Vec<PluginLine>, Vec<ConfigError>> {
    parse_bytes(text.as_bytes(), file, plugin_dir)
}

/// The shared body of both entry points: works on bytes so that a file
/// with one bad line still has its other lines checked.
fn parse_bytes(
    bytes: &[u8],
    file: &Path,
    plugin_dir: &Path,
) -> Result<Vec<PluginLine>, Vec<ConfigError>> {
    let mut plugins = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(e) => {
                let valid = String::from_utf8_lossy(&raw[..e.valid_up_to()]);
                let column = valid.chars().count() + 1;
                errors.push(ConfigError::NotUtf8 {
                    file: file.to_path_buf(),
                    line,
                    column,
                });
                continue;
            }
        };
        let mut words = match split_words(text) {
            Ok(words) => words,
            Err(Unterminated { column }) => {
                let file = file.to_path_buf();
                errors.push(ConfigError::UnterminatedQuote { file, line, column });
                continue;
            }
        };
        if words.is_empty() {
            continue; // blank or comment-only
        }
        let given = words.remove(0);
        let path = resolve(plugin_dir, &given);
        match check_plugin(file, line, given, &path) {
            Ok(()) => plugins.push(PluginLine {
                file: file.to_path_buf(),
                line,
                path,
                args: words,
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(plugins)
    } else {
        Err(errors)
    }
}

/// A quote opened at `column` (1-based, in characters) and never closed.
#[derive(Debug, PartialEq, Eq)]
struct Unterminated {
    column: usize,
}

/// Splits one line into words by the rules in the module doc.
fn split_words(line: &str) -> Result<Vec<String>, Unterminated> {
    let mut words = Vec::new();
    // `Some` while inside a word, so that `""` still yields an empty word.
    let mut word: Option<String> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '#' => break,
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(Unterminated { column: index + 1 }),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.peek() {
                            Some(&(_, escaped @ ('"' | '\\'))) => {
                                word.push(escaped);
                                chars.next();
                            }
                            _ => word.push('\\'),
                        },
                        Some((_, other)) => word.push(other),
                    }
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Absolute paths stay; relative ones join `plugin_dir`. The result is made
/// absolute lexically (no symlink resolution, `.` removed) so that messages
/// show where the host really looked.
fn resolve(plugin_dir: &Path, given: &str) -> PathBuf {
    let joined = plugin_dir.join(given);
    // `absolute` only fails on an empty path or without a current
    // directory; the joined path is still the best thing to report then.
    std::path::absolute(&joined).unwrap_or(joined)
}

fn check_plugin(file: &Path, line: usize, given: String, path: &Path) -> Result<(), ConfigError> {
    let file = file.to_path_buf();
    let resolved = path.to_path_buf();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(ConfigError::PluginIsDirectory {
            file,
            line,
            given,
            resolved,
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ConfigError::PluginNotFound {
            file,
            line,
            given,
            resolved,
        }),
        Err(source) => Err(ConfigError::PluginUnreadable {
            file,
            line,
            given,
            resolved,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch plugin directory holding `a.so`, `b.so` and a `sub/`
    /// directory; removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "plugin-host-config-test-{}-{n}",
                std::process::id()
            ));
            std::fs::create_dir_all(dir.join("sub")).expect("create scratch dir");
            for name in ["a.so", "b.so"] {
                std::fs::write(dir.join(name), b"not really ELF").expect("write plugin");
            }
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn parse_ok(text: &str) -> (Scratch, Vec<PluginLine>) {
        let dir = Scratch::new();
        let lines = parse_str(text, Path::new("plugin.config"), &dir.0)
            .unwrap_or_else(|errors| panic!("unexpected errors: {errors:?}"));
        (dir, lines)
    }

    fn args_of(text: &str) -> Vec<String> {
        let (_dir, lines) = parse_ok(text);
        assert_eq!(lines.len(), 1, "{text:?}");
        lines[0].args.clone()
    }

    fn words(line: &str) -> Vec<String> {
        split_words(line).expect("terminated")
    }

    #[test]
    fn plugin_lines_in_order_with_line_numbers_and_args() {
        let (dir, lines) = parse_ok("# head\n\na.so one two\n  \t \nb.so\na.so three\n");
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.line, l.path.clone(), l.args.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    3,
                    dir.0.join("a.so"),
                    vec!["one".to_string(), "two".to_string()]
                ),
                (5, dir.0.join("b.so"), vec![]),
                (6, dir.0.join("a.so"), vec!["three".to_string()]),
            ]
        );
        assert!(lines.iter().all(|l| l.file == Path::new("plugin.config")));
    }

    #[test]
    fn absolute_path_is_kept_and_relative_dot_is_removed() {
        let dir = Scratch::new();
        let abs = dir.0.join("b.so");
        let text = format!("{} x\n./a.so\n", abs.display());
        let lines = parse_str(&text, Path::new("p.config"), Path::new("/nonexistent"));
        // The absolute line is fine; only the relative one is looked up in
        // the (missing) plugin dir.
        let errors = lines.expect_err("relative line must fail");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "p.config:2: plugin ./a.so not found (looked in /nonexistent/a.so); \
             check the path or --plugin-dir"
        );
        let lines = parse_str(&text.replace("./a.so", ""), Path::new("p"), Path::new("/x"))
            .expect("absolute path parses");
        assert_eq!(lines[0].path, abs);
        assert_eq!(lines[0].args, vec!["x"]);
    }

    #[test]
    fn relative_plugin_dir_is_made_absolute() {
        // Cargo runs unit tests in the package root, so this file is
        // `./src/plugins/config.rs` from there.
        let cwd = std::env::current_dir().expect("cwd");
        let lines =
            parse_str("config.rs x", Path::new("p"), Path::new("./src/plugins")).expect("parses");
        assert_eq!(lines[0].path, cwd.join("src/plugins/config.rs"));
        assert_eq!(lines[0].args, ["x"]);
    }

    #[test]
    fn spaces_and_tabs_separate_words() {
        assert_eq!(words(" a\t\tb  c\t"), ["a", "b", "c"]);
        assert_eq!(
            words("a\u{a0}b"),
            ["a\u{a0}b"],
            "only space and tab are whitespace"
        );
    }

    #[test]
    fn hash_starts_a_comment_anywhere_outside_quotes() {
        assert_eq!(words("# all comment"), Vec::<String>::new());
        assert_eq!(words("   # indented comment"), Vec::<String>::new());
        assert_eq!(words("a b # c d"), ["a", "b"]);
        assert_eq!(words("a b#c d"), ["a", "b"]);
        assert_eq!(words("a \"b # c\" d"), ["a", "b # c", "d"]);
    }

    #[test]
    fn quotes_group_spaces_and_join_touching_text() {
        assert_eq!(words("a \"b  c\" d"), ["a", "b  c", "d"]);
        assert_eq!(words("--x=\"a b\"c"), ["--x=a bc"]);
        assert_eq!(words("\"\" \"\""), ["", ""], "empty quotes are empty words");
        assert_eq!(words("a\"\""), ["a"]);
        assert_eq!(words("\"\ta\t\""), ["\ta\t"]);
    }

    #[test]
    fn escapes_inside_quotes() {
        assert_eq!(words(r#""a\"b""#), [r#"a"b"#]);
        assert_eq!(words(r#""a\\b""#), [r"a\b"]);
        assert_eq!(
            words(r#""\\""#),
            [r"\"],
            "escaped backslash does not escape the quote"
        );
        assert_eq!(
            words(r#""\d+\s""#),
            [r"\d+\s"],
            "other backslashes are kept"
        );
        assert_eq!(
            words(r"a\b c\"),
            [r"a\b", r"c\"],
            "outside quotes backslash is literal"
        );
    }

    #[test]
    fn unterminated_quote_reports_its_column() {
        assert_eq!(split_words(r#"a "b c"#), Err(Unterminated { column: 3 }));
        assert_eq!(split_words(r#"a "b\""#), Err(Unterminated { column: 3 }));
        assert_eq!(
            split_words(r#"é "x"#),
            Err(Unterminated { column: 3 }),
            "columns count characters"
        );
    }

    #[test]
    fn args_reach_the_plugin_line_exactly() {
        assert_eq!(
            args_of("a.so --mode=block \"--pattern=evil thing\" '' x\\y # trailing\r\n"),
            ["--mode=block", "--pattern=evil thing", "''", r"x\y"]
        );
    }

    #[test]
    fn the_documented_example_parses_as_documented() {
        // The last line of the example in docs/plugin-config.md.
        let line = r#"b.so "--pattern=say \"hi\"" "--pattern=C:\\dir" --regex="\d+\s""#;
        assert_eq!(
            args_of(line),
            [
                r#"--pattern=say "hi""#,
                r"--pattern=C:\dir",
                r"--regex=\d+\s"
            ]
        );
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let (_dir, lines) = parse_ok("a.so x\r\nb.so\r\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].args, ["x"]);
        assert_eq!(lines[1].args, Vec::<String>::new());
    }

    #[test]
    fn empty_and_comment_only_files_have_no_plugins() {
        assert!(parse_ok("").1.is_empty());
        assert!(parse_ok("\n\n# nothing\n\t\n").1.is_empty());
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let dir = Scratch::new();
        let text = "a.so\nmissing.so x\nsub y\nb.so \"open\nsub/\n";
        let errors = parse_str(text, Path::new("plugin.config"), &dir.0).expect_err("errors");
        let lines: Vec<_> = errors.iter().map(ConfigError::line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5)]);
        assert!(matches!(errors[0], ConfigError::PluginNotFound { .. }));
        assert!(matches!(errors[1], ConfigError::PluginIsDirectory { .. }));
        assert!(matches!(
            errors[2],
            ConfigError::UnterminatedQuote { column: 6, .. }
        ));
        assert!(matches!(errors[3], ConfigError::PluginIsDirectory { .. }));
    }

    #[test]
    fn error_messages() {
        let dir = Scratch::new();
        let d = dir.0.display();
        let text = "nul.so\nsub\nb.so \"x\n";
        let errors = parse_str(text, Path::new("conf/plugin.config"), &dir.0).expect_err("errors");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "conf/plugin.config:1: plugin nul.so not found (looked in {d}/nul.so); \
                     check the path or --plugin-dir"
                ),
                format!(
                    "conf/plugin.config:2: plugin sub is a directory ({d}/sub); \
                     name the plugin's .so file"
                ),
                "conf/plugin.config:3: double quote opened at column 6 is never closed; \
                 close it, and write \\\" for a quote inside quotes"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn plugin_path_through_a_file_cannot_be_inspected() {
        let dir = Scratch::new();
        // `a.so/x`: a regular file used as a directory gives ENOTDIR.
        let errors = parse_str("a.so/x", Path::new("p.config"), &dir.0).expect_err("errors");
        assert!(
            matches!(errors[0], ConfigError::PluginUnreadable { .. }),
            "{errors:?}"
        );
        let shown = errors[0].to_string();
        let prefix = format!(
            "p.config:1: cannot inspect plugin a.so/x ({}/a.so/x): ",
            dir.0.display()
        );
        assert!(shown.starts_with(&prefix), "{shown}");
        assert!(
            shown.ends_with("; check the permissions of the file and its directories"),
            "{shown}"
        );
    }

    #[test]
    fn non_utf8_lines_are_reported_and_the_rest_still_checked() {
        let dir = Scratch::new();
        let config = dir.0.join("plugin.config");
        std::fs::write(&config, b"a.so\na.so \xc3\xa9\xff\nmissing.so\n").expect("write");
        let errors = parse_file(&config, &dir.0).expect_err("errors");
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].to_string(),
            format!(
                "{}:2: not valid UTF-8 (first bad byte at column 7); save the file as UTF-8",
                config.display()
            )
        );
        assert!(matches!(
            errors[1],
            ConfigError::PluginNotFound { line: 3, .. }
        ));
    }

    #[test]
    fn parse_file_reads_the_file() {
        let dir = Scratch::new();
        let config = dir.0.join("plugin.config");
        std::fs::write(&config, "b.so \"x y\"\n").expect("write");
        let lines = parse_file(&config, &dir.0).expect("parses");
        assert_eq!(lines[0].file, config);
        assert_eq!(lines[0].args, ["x y"]);
    }

    #[test]
    fn unreadable_config_file() {
        let dir = Scratch::new();
        let config = dir.0.join("absent.config");
        let errors = parse_file(&config, &dir.0).expect_err("errors");
        assert_eq!(errors.len(), 1);
        assert!(matches!(&errors[0], ConfigError::Unreadable { source, .. }
            if source.kind() == io::ErrorKind::NotFound));
        assert_eq!(errors[0].line(), None);
        let shown = errors[0].to_string();
        let prefix = format!("{}: cannot read the config file: ", config.display());
        assert!(shown.starts_with(&prefix), "{shown}");
        assert!(
            shown.ends_with("; check the path and its permissions"),
            "{shown}"
        );
    }
}
