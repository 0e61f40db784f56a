//! The access log: one line per transaction with method, target, status, byte counts,
//! duration and whether the origin connection was new or reused.

use std::time::Duration;

use e2e::{agent, closed_port_addr, read_body, Host, Origin};

/// How long to wait for a log line after the response: logging may trail the last byte.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// The value of `key=` in an access log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn access_line(host: &Host, target: &str) -> String {
    let needle = format!("target={target}");
    host.wait_for_log(LOG_WAIT, |l| l.contains("access") && l.split_whitespace().any(|w| w == needle))
        .unwrap_or_else(|| panic!("no access log line with `{needle}`; logs:\n{}", host.logs()))
}

#[test]
fn access_log_line_per_request_with_origin_reuse() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let agent = agent();
    for seed in [5, 6] {
        let mut resp = agent.get(host.url(&format!("/bytes?n=123&seed={seed}"))).call().expect("GET");
        assert_eq!(resp.status(), 200);
        assert_eq!(read_body(&mut resp).expect("body").len(), 123);
    }
    let first = access_line(&host, "/bytes?n=123&seed=5");
    assert_eq!(field(&first, "method"), Some("GET"), "{first}");
    assert_eq!(field(&first, "status"), Some("200"), "{first}");
    assert_eq!(field(&first, "origin"), Some("new"), "{first}");
    for key in ["bytes_in", "bytes_out", "duration_ms"] {
        let value = field(&first, key).unwrap_or_else(|| panic!("`{key}=` missing: {first}"));
        assert!(value.parse::<u64>().is_ok(), "`{key}={value}` is not a number: {first}");
    }
    let out: u64 = field(&first, "bytes_out").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(out >= 123, "bytes_out={out} is less than the body sent: {first}");
    let second = access_line(&host, "/bytes?n=123&seed=6");
    assert_eq!(field(&second, "origin"), Some("reused"), "{second}");
}

#[test]
fn access_log_records_502() {
    let host = Host::start(closed_port_addr());
    let resp = agent().get(host.url("/down")).call().expect("response");
    assert_eq!(resp.status(), 502);
    let line = access_line(&host, "/down");
    assert_eq!(field(&line, "status"), Some("502"), "{line}");
}
