//! `plugin-host check` refuses a scanner line with a bad argument or a bad patterns file,
//! one line per refusal naming the config line, then the patterns file's `file:line` and
//! the fix; a good set of lines passes.

use std::time::Duration;

use e2e::faults::process::run_to_exit;
use e2e::plugins::{write_plugin_config, ScratchDir};
use e2e::scanner::scanner_config_line;

const EXIT_WITHIN: Duration = Duration::from_secs(20);

#[test]
fn check_names_every_bad_scanner_line_and_its_patterns_file_line() {
    let dir = ScratchDir::new("scanner-check");
    let write = |name: &str, text: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write patterns");
        path
    };
    let good = write("good.txt", b"# ok\nfoo\n\\x00\\xff\n");
    let escape = write("escape.txt", b"foo\n\\q\n");
    let no_tab = write("notab.txt", b"foo\tbar\nbaz\n");
    let lines = [
        scanner_config_line(&good, "--mode report"),
        scanner_config_line(&escape, ""),
        scanner_config_line(&no_tab, "--mode replace"),
        scanner_config_line(&good, "--mode scan"),
        scanner_config_line(&dir.path().join("missing.txt"), ""),
        scanner_config_line(&good, "--mode block --on both --types text/* --max-hold 4096"),
    ];
    let config = write_plugin_config(dir.path(), &lines);
    let (config, runtime) = (config.display().to_string(), dir.path().display().to_string());
    let check = run_to_exit(&["check", "--config", &config, "--runtime-dir", &runtime], EXIT_WITHIN);
    assert_eq!(check.code(), Some(1), "{check:?}");
    let refusals: Vec<&str> = check.stderr.lines().map(str::trim).filter(|l| l.starts_with(&config)).collect();
    let wants = [
        (2, format!("{}:2: unknown escape \\q", escape.display())),
        (3, format!("{}:2: replace mode needs PATTERN<TAB>REPLACEMENT", no_tab.display())),
        (4, "--mode \"scan\": write report, block or replace".to_string()),
        (5, "missing.txt: cannot read the patterns file".to_string()),
    ];
    assert_eq!(refusals.len(), wants.len(), "one refusal per bad line; stderr:\n{}", check.stderr);
    for ((line, want), got) in wants.iter().zip(&refusals) {
        assert!(got.starts_with(&format!("{config}:{line}:")), "{got}");
        assert!(got.contains(want.as_str()), "line {line}: want {want:?} in {got}");
    }
}
