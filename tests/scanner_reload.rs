//! The scanner across reloads (SIGHUP): an edited patterns file is read by the new
//! generation, and a broken one is refused with its `file:line` while the running
//! generation keeps scanning with the old patterns.

use std::time::Duration;

use e2e::scanner::{counters, expect, scanner_host};
use e2e::trickle::{TrickleOrigin, TrickleReply};
use e2e::RawConn;

const RELOAD_WAIT: Duration = Duration::from_secs(20);

#[test]
fn patterns_change_on_reload_and_a_bad_file_keeps_the_old_ones() {
    let origin = TrickleOrigin::start(TrickleReply::new(b"alpha beta gamma".to_vec(), 5));
    let host = scanner_host(origin.addr(), b"alpha\n", "");
    let fetch = || {
        let mut conn = RawConn::connect(host.addr());
        conn.send(b"GET /r HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send request");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.body, b"alpha beta gamma");
    };
    fetch();
    assert_eq!(counters(&host.wait_idle(), 0, &["matches"]), expect(&[("matches", 1)]));

    std::fs::write(host.patterns_path(0), "alpha\nbeta\ngamma\n").expect("rewrite patterns");
    host.signal(libc::SIGHUP);
    host.wait_for_log(RELOAD_WAIT, |l| l.contains("reloaded plugin.config"))
        .unwrap_or_else(|| panic!("no reload; logs:\n{}", host.logs()));
    fetch();
    // The new generation's scanner starts its counters afresh, with three patterns.
    assert_eq!(
        counters(&host.wait_idle(), 0, &["matches", "pattern_line_3:gamma"]),
        expect(&[("matches", 3), ("pattern_line_3:gamma", 1)])
    );

    std::fs::write(host.patterns_path(0), "alpha\n\\q\n").expect("break patterns");
    host.signal(libc::SIGHUP);
    // The refusal is one log event over several lines: wait for the line naming file:line.
    let refused = host.wait_for_log(RELOAD_WAIT, |l| l.contains("patterns-0.txt:2: unknown escape \\q"));
    assert!(refused.is_some(), "a broken patterns file was not refused with its file:line; logs:\n{}", host.logs());
    assert!(host.logs().contains("reload refused"), "{}", host.logs());
    fetch();
    assert_eq!(
        counters(&host.wait_idle(), 0, &["matches"]),
        expect(&[("matches", 6)]),
        "the old generation kept scanning"
    );
}
