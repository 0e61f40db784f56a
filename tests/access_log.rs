//! The access log: one line per transaction (and per refused head), in the format asked
//! for, on standard error or in a file that SIGUSR1 reopens; every line on disk once a
//! graceful shutdown exits 0. Lines are buffered per worker and flushed within a second,
//! so every read of the log waits, bounded, instead of reading once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use e2e::host::host_binary;
use e2e::{agent, closed_port_addr, get_request, read_body, Host, HostBuilder, Origin, RawConn};

/// How long to wait for a log line after the response: lines are flushed within a second.
const LOG_WAIT: Duration = Duration::from_secs(10);
/// How long a SIGTERMed host gets to drain and exit.
const EXIT_WAIT: Duration = Duration::from_secs(20);
/// Keep-alive connections and requests on each in [`traffic`].
const CONNECTIONS: usize = 3;
const PER_CONNECTION: usize = 3;

/// The value of `key=` in a `kv` line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn kv_line(host: &Host, target: &str) -> String {
    let needle = format!("target={target}");
    host.wait_for_log(LOG_WAIT, |l| l.starts_with("access ") && l.split_whitespace().any(|w| w == needle))
        .unwrap_or_else(|| panic!("no access log line with `{needle}`; logs:\n{}", host.logs()))
}

/// A scratch directory for log files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("plugin-host-e2e-{}-alog-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn file_host(origin: std::net::SocketAddr, log: &Path, format: &str) -> Host {
    HostBuilder::new(origin).opt("--access-log", log.display()).opt("--access-log-format", format).start()
}

/// SIGTERM, then the exit status must be 0: the drain path flushed every buffer.
fn shut_down(mut host: Host) {
    host.sigterm();
    let status = host.wait_exit(EXIT_WAIT);
    assert!(status.success(), "exit {status:?} after SIGTERM; logs:\n{}", host.logs());
}

/// The file's lines (without their `\n`); every line must be complete.
fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "a partial last line in {}", path.display());
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// Waits (bounded) until `path` holds `n` lines.
fn wait_for_lines(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let lines = if path.exists() { lines_of(path) } else { Vec::new() };
        if lines.len() >= n || Instant::now() >= deadline {
            return lines;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Keep-alive requests on several connections, a 502 and a 400; returns how many lines
/// the log must get.
fn traffic(host: &Host, bad_origin: &Host) -> usize {
    for c in 0..CONNECTIONS {
        let mut conn = RawConn::connect(host.addr());
        for r in 0..PER_CONNECTION {
            conn.send(&get_request(&format!("/bytes?n=100&seed={}", c * 10 + r))).expect("send");
            let resp = conn.read_response(false).expect("response");
            assert_eq!(resp.status, 200);
        }
    }
    let resp = agent().get(bad_origin.url("/down")).call().expect("response");
    assert_eq!(resp.status(), 502);
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /bad HTTP/1.1\r\nno colon here\r\n\r\n").expect("send");
    assert_eq!(conn.read_response(false).expect("response").status, 400);
    CONNECTIONS * PER_CONNECTION + 2
}

/// One `combined` line, checked field by field as strictly as a regex would:
/// `IP - - [DD/Mon/YYYY:HH:MM:SS +0000] "REQUEST" STATUS BYTES "REFERER" "USER-AGENT"`.
#[derive(Debug)]
struct Combined {
    request: String,
    status: u16,
    bytes: Option<u64>,
    referer: String,
    user_agent: String,
}

fn parse_combined(line: &[u8]) -> Result<Combined, String> {
    let line = std::str::from_utf8(line).map_err(|e| format!("not ASCII: {e}"))?;
    let fail = |what: &str| format!("{what}: {line:?}");
    let (ip, rest) = line.split_once(" - - [").ok_or_else(|| fail("no `IP - - [`"))?;
    ip.parse::<IpAddr>().map_err(|_| fail("bad address"))?;
    let (time, rest) = rest.split_once("] ").ok_or_else(|| fail("no time"))?;
    check_time(time).map_err(|w| fail(&w))?;
    let (request, rest) = quoted(rest).map_err(|w| fail(&w))?;
    let rest = rest.strip_prefix(' ').ok_or_else(|| fail("no space after the request"))?;
    let (status, rest) = rest.split_once(' ').ok_or_else(|| fail("no status"))?;
    let status = status.parse::<u16>().ok().filter(|s| (100..600).contains(s) && status.len() == 3);
    let status = status.ok_or_else(|| fail("bad status"))?;
    let (bytes, rest) = rest.split_once(' ').ok_or_else(|| fail("no bytes"))?;
    let bytes = match bytes {
        "-" => None,
        n if n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0') => n.parse().ok(),
        _ => return Err(fail("bad byte count")),
    };
    let (referer, rest) = quoted(rest).map_err(|w| fail(&w))?;
    let rest = rest.strip_prefix(' ').ok_or_else(|| fail("no space after the referer"))?;
    let (user_agent, rest) = quoted(rest).map_err(|w| fail(&w))?;
    if !rest.is_empty() {
        return Err(fail("trailing bytes"));
    }
    Ok(Combined { request, status, bytes, referer, user_agent })
}

fn check_time(t: &str) -> Result<(), String> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let ok = t.len() == 26
        && digits(0..2)
        && &t[2..3] == "/"
        && MONTHS.contains(&&t[3..6])
        && &t[6..7] == "/"
        && digits(7..11)
        && &t[11..12] == ":"
        && digits(12..14)
        && &t[14..15] == ":"
        && digits(15..17)
        && &t[17..18] == ":"
        && digits(18..20)
        && &t[20..] == " +0000";
    if ok {
        Ok(())
    } else {
        Err(format!("bad time {t:?}"))
    }
}

/// A `"..."` field: printable ASCII, no bare `"`, `\` only as `\xHH`; returns it unescaped
/// as Latin-1 and the rest of the line.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let s = s.strip_prefix('"').ok_or("no opening quote")?;
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Ok((out, &s[i + 1..])),
            b'\\' => {
                let hex = s.get(i + 1..i + 4).filter(|h| h.starts_with('x')).ok_or("bad escape")?;
                let v = u8::from_str_radix(&hex[1..], 16).map_err(|_| "bad escape")?;
                out.push(char::from(v));
                i += 4;
            }
            b @ 0x20..=0x7e => {
                out.push(char::from(b));
                i += 1;
            }
            _ => return Err("unescaped byte in a quoted field".into()),
        }
    }
    Err("no closing quote".into())
}

#[test]
fn kv_lines_say_whether_the_origin_connection_was_reused() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--access-log-format", "kv").start();
    let agent = agent();
    for seed in [5, 6] {
        let mut resp = agent.get(host.url(&format!("/bytes?n=123&seed={seed}"))).call().expect("GET");
        assert_eq!(resp.status(), 200);
        assert_eq!(read_body(&mut resp).expect("body").len(), 123);
    }
    let first = kv_line(&host, "/bytes?n=123&seed=5");
    assert_eq!(field(&first, "method"), Some("GET"), "{first}");
    assert_eq!(field(&first, "status"), Some("200"), "{first}");
    assert_eq!(field(&first, "origin"), Some("new"), "{first}");
    assert_eq!(field(&first, "outcome"), Some("done"), "{first}");
    for key in ["bytes_in", "bytes_out", "duration_ms"] {
        let value = field(&first, key).unwrap_or_else(|| panic!("`{key}=` missing: {first}"));
        assert!(value.parse::<u64>().is_ok(), "`{key}={value}` is not a number: {first}");
    }
    let out: u64 = field(&first, "bytes_out").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(out >= 123, "bytes_out={out} is less than the body sent: {first}");
    let second = kv_line(&host, "/bytes?n=123&seed=6");
    assert_eq!(field(&second, "origin"), Some("reused"), "{second}");
}

#[test]
fn bytes_out_is_what_the_client_received() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--access-log-format", "kv").start();
    // Everything the proxy wrote: the connection closes after the response, so read to EOF.
    let mut raw = std::net::TcpStream::connect(host.addr()).expect("connect");
    std::io::Write::write_all(&mut raw, b"GET /bytes?n=777&seed=3 HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut raw, &mut all).expect("read to EOF");
    let line = kv_line(&host, "/bytes?n=777&seed=3");
    assert_eq!(field(&line, "bytes_out"), Some(all.len().to_string().as_str()), "{line}");
}

#[test]
fn kv_records_a_502() {
    let host = HostBuilder::new(closed_port_addr()).opt("--access-log-format", "kv").start();
    let resp = agent().get(host.url("/down")).call().expect("response");
    assert_eq!(resp.status(), 502);
    let line = kv_line(&host, "/down");
    assert_eq!(field(&line, "status"), Some("502"), "{line}");
    assert_eq!(field(&line, "outcome"), Some("failed"), "{line}");
}

#[test]
fn a_client_gone_before_the_response_is_a_499() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--access-log-format", "kv").start();
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: 100\r\n\r\nonly ten b").expect("send");
    drop(conn);
    let line = kv_line(&host, "/echo");
    assert_eq!((field(&line, "status"), field(&line, "outcome")), (Some("499"), Some("aborted")), "{line}");
}

#[test]
fn the_default_is_combined_on_stderr() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let resp = agent().get(host.url("/bytes?n=7&seed=1")).header("Referer", "http://r.test/p").call().expect("GET");
    assert_eq!(resp.status(), 200);
    let line = host
        .wait_for_log(LOG_WAIT, |l| l.contains("\"GET /bytes?n=7&seed=1 HTTP/1.1\""))
        .unwrap_or_else(|| panic!("no combined line on stderr; logs:\n{}", host.logs()));
    let parsed = parse_combined(line.as_bytes()).expect("a combined line");
    assert_eq!((parsed.status, parsed.referer.as_str()), (200, "http://r.test/p"), "{line}");
    assert!(parsed.user_agent.starts_with("ureq"), "{line}");
    assert!(parsed.bytes.is_some_and(|b| b > 7), "{line}");
}

#[test]
fn a_graceful_shutdown_leaves_one_combined_line_per_transaction_in_the_file() {
    let dir = Dir::new("combined");
    let log = dir.0.join("access.log");
    let origin = Origin::start();
    let host = file_host(origin.addr(), &log, "combined");
    // The 502 comes from a second host whose origin is down, logging into the same file:
    // two processes appending to one file must not tear each other's lines either.
    let bad = file_host(closed_port_addr(), &log, "combined");
    let expected = traffic(&host, &bad);
    shut_down(bad);
    shut_down(host);
    let lines = lines_of(&log);
    assert_eq!(lines.len(), expected, "{}", String::from_utf8_lossy(&lines.concat()));
    let parsed: Vec<Combined> = lines.iter().map(|l| parse_combined(l).unwrap_or_else(|e| panic!("{e}"))).collect();
    for c in 0..CONNECTIONS {
        for r in 0..PER_CONNECTION {
            let request = format!("GET /bytes?n=100&seed={} HTTP/1.1", c * 10 + r);
            let found: Vec<&Combined> = parsed.iter().filter(|p| p.request == request).collect();
            assert_eq!(found.len(), 1, "{request}: {parsed:?}");
            assert_eq!((found[0].status, found[0].referer.as_str()), (200, "-"), "{:?}", found[0]);
        }
    }
    let down = parsed.iter().find(|p| p.request == "GET /down HTTP/1.1").expect("the 502's line");
    assert_eq!(down.status, 502, "{down:?}");
    assert!(down.bytes.is_some(), "an error page has bytes: {down:?}");
    let bad_head = parsed.iter().find(|p| p.status == 400).expect("the 400's line");
    assert_eq!(bad_head.request, "GET /bad HTTP/1.1", "a refused head logs its request line: {bad_head:?}");
}

#[test]
fn json_lines_parse_and_escape_quotes_backslashes_and_bytes_that_are_not_utf8() {
    let dir = Dir::new("json");
    let log = dir.0.join("access.log");
    let origin = Origin::start();
    let host = file_host(origin.addr(), &log, "json");
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /bytes?n=3&q=a\"b\\c HTTP/1.1\r\nHost: e\r\nUser-Agent: agent \"007\" \xff\r\n\r\n").expect("send");
    assert_eq!(conn.read_response(false).expect("response").status, 200);
    let mut bad = RawConn::connect(host.addr());
    bad.send(b"GET /caf\xe9\"\\ HTTP/1.1\r\nHost: e\r\n\r\n").expect("send");
    assert_eq!(bad.read_response(false).expect("response").status, 400);
    shut_down(host);
    let lines = lines_of(&log);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&lines.concat()));
    let values: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l))))
        .collect();
    let ok = values.iter().find(|v| v["status"] == 200).expect("the 200");
    assert_eq!(ok["target"], "/bytes?n=3&q=a\"b\\c", "{ok}");
    assert_eq!(ok["request"], "GET /bytes?n=3&q=a\"b\\c HTTP/1.1", "{ok}");
    assert_eq!((&ok["method"], &ok["protocol"]), (&"GET".into(), &"HTTP/1.1".into()), "{ok}");
    assert_eq!(ok["user_agent"], "agent \"007\" \u{ff}", "an invalid UTF-8 byte reads as its Latin-1 char: {ok}");
    assert_eq!(ok["referer"], serde_json::Value::Null, "{ok}");
    assert_eq!((&ok["origin"], &ok["outcome"]), (&"new".into(), &"done".into()), "{ok}");
    for key in ["bytes_in", "bytes_out", "duration_ms"] {
        assert!(ok[key].is_u64(), "{key}: {ok}");
    }
    assert!(ok["time"].as_str().is_some_and(|t| t.len() == 25 && t.ends_with("+00:00")), "{ok}");
    let refused = values.iter().find(|v| v["status"] == 400).expect("the 400");
    assert_eq!(refused["request"], "GET /caf\u{e9}\"\\ HTTP/1.1", "{refused}");
    assert_eq!((&refused["target"], &refused["outcome"]), (&serde_json::Value::Null, &"refused".into()));
    let raw = String::from_utf8_lossy(&lines[if values[0]["status"] == 400 { 0 } else { 1 }]).into_owned();
    assert!(raw.contains(r#""GET /caf\u00E9\"\\ HTTP/1.1""#), "escaped as written: {raw}");
}

#[test]
fn sigusr1_reopens_the_file_after_a_rename() {
    let dir = Dir::new("reopen");
    let log = dir.0.join("access.log");
    let rotated = dir.0.join("access.log.1");
    let origin = Origin::start();
    let host = file_host(origin.addr(), &log, "kv");
    let agent = agent();
    for i in 0..3 {
        agent.get(host.url(&format!("/bytes?n=10&seed={i}"))).call().expect("before");
    }
    assert_eq!(wait_for_lines(&log, 3).len(), 3, "the first lines were flushed");
    std::fs::rename(&log, &rotated).expect("rotate");
    host.signal(libc::SIGUSR1);
    host.wait_for_log(LOG_WAIT, |l| l.contains("SIGUSR1: reopened the access log"))
        .unwrap_or_else(|| panic!("no reopen line; logs:\n{}", host.logs()));
    for i in 10..12 {
        agent.get(host.url(&format!("/bytes?n=10&seed={i}"))).call().expect("after");
    }
    shut_down(host);
    // Sorted: each worker flushes its own buffer, so lines of two workers are not in time order.
    let targets = |p: &Path| -> Vec<String> {
        let lines = lines_of(p);
        let mut t: Vec<String> =
            lines.iter().filter_map(|l| field(&String::from_utf8_lossy(l), "target").map(str::to_string)).collect();
        t.sort();
        t
    };
    assert_eq!(targets(&rotated), ["/bytes?n=10&seed=0", "/bytes?n=10&seed=1", "/bytes?n=10&seed=2"]);
    assert_eq!(targets(&log), ["/bytes?n=10&seed=10", "/bytes?n=10&seed=11"]);
}

#[test]
fn off_writes_no_line() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--access-log", "off").start();
    for _ in 0..3 {
        assert_eq!(agent().get(host.url("/bytes?n=5")).call().expect("GET").status(), 200);
    }
    let logs = host.logs();
    shut_down(host);
    assert!(!logs.contains("/bytes?n=5"), "an access line with --access-log off:\n{logs}");
}

/// Starts the binary expecting it to refuse; returns its exit code and stderr.
fn refused_start(access_log: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(host_binary())
        .args(["run", "--no-plugins", "--listen", "127.0.0.1:0", "--origin", "127.0.0.1:9"])
        .arg("--access-log")
        .arg(access_log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin-host");
    let deadline = Instant::now() + EXIT_WAIT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("plugin-host started with an unwritable --access-log {}", access_log.display());
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_unwritable_path_is_a_startup_error_naming_it() {
    let dir = Dir::new("unwritable");
    for path in [dir.0.join("missing-dir/access.log"), dir.0.clone()] {
        let (code, stderr) = refused_start(&path);
        assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {stderr}");
        let want = format!("cannot open the access log {}: ", path.display());
        assert!(stderr.contains(&want) && stderr.contains("os error"), "{stderr}");
    }
}
