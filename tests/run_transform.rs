//! `plugin-host run-transform`: each workspace plugin (null, null-stream, probe, faulty,
//! gzip, scanner) through the real binary without a proxy, compared with what the real
//! proxy produces for the same heads and body: status, the header fields plugins and
//! framing decide, the body byte for byte (for gzip, what it decodes to), and for a failing
//! plugin the exit status and the one-line message the proxy logs.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use e2e::host::host_binary;
use e2e::plugins::{write_plugin_config, ScratchDir, SETTLE_TIMEOUT};
use e2e::{assert_same_bytes, built_plugin, pattern, HostBuilder, Origin, PluginHost, RawConn, RawResponse};

/// How long one run-transform may take before it is killed and the test fails.
const RUN_WITHIN: Duration = Duration::from_secs(60);

/// Header fields whose presence and value must agree between the two.
const COMPARED: [&str; 6] =
    ["content-length", "transfer-encoding", "content-type", "x-probe-stamp", "x-probe-request", "x-req-framing"];

/// What one run-transform left.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    body: Vec<u8>,
    stderr: String,
}

impl Ran {
    /// The head on stderr (after any log lines): status and fields, parsed.
    fn head(&self) -> (u16, Vec<(String, String)>) {
        let start = line_starting(&self.stderr, "HTTP/1.1 ");
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut fields);
        let parsed = resp.parse(&self.stderr.as_bytes()[start..]);
        assert!(parsed.is_ok_and(|s| s.is_complete()), "no whole response head on stderr:\n{}", self.stderr);
        (resp.code.unwrap_or(0), lowercase(resp.headers))
    }

    /// The last stderr line: the one-line message of a failure.
    fn last_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or_default()
    }
}

/// Where the first line of `text` starting with `prefix` begins (after any log lines).
fn line_starting(text: &str, prefix: &str) -> usize {
    if text.starts_with(prefix) {
        return 0;
    }
    text.find(&format!("\n{prefix}")).map(|i| i + 1).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
}

fn lowercase(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers.iter().map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned())).collect()
}

/// The request head the origin would get, parsed from stderr (request direction).
fn request_head_fields(stderr: &str) -> Vec<(String, String)> {
    let start = line_starting(stderr, "POST ");
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut fields);
    let parsed = req.parse(&stderr.as_bytes()[start..]);
    assert!(parsed.is_ok_and(|s| s.is_complete()), "no whole request head on stderr:\n{stderr}");
    lowercase(req.headers)
}

/// `plugin-host run-transform --config <lines> ARGS < stdin`, bounded in time.
fn run_transform(lines: &[String], args: &[String], stdin: &[u8]) -> Ran {
    let scratch = ScratchDir::new("run-transform");
    let config = write_plugin_config(scratch.path(), lines);
    let runtime = scratch.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut heads = Vec::new();
    let mut all: Vec<String> = vec!["run-transform".into(), "--config".into(), config.display().to_string()];
    all.extend(["--runtime-dir".into(), runtime.display().to_string()]);
    for pair in args.chunks(2) {
        // A head is passed as its text; it goes into a file of the scratch folder.
        match (pair[0].as_str(), pair.get(1)) {
            (flag @ ("--request" | "--response-head"), Some(text)) => {
                let file = scratch.path().join(format!("head{}", heads.len()));
                std::fs::write(&file, text).expect("write a head file");
                heads.push(file.clone());
                all.extend([flag.to_string(), file.display().to_string()]);
            }
            _ => all.extend(pair.iter().cloned()),
        }
    }
    let mut child = Command::new(host_binary())
        .args(&all)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin-host run-transform");
    let mut input = child.stdin.take().expect("stdin");
    let body = stdin.to_vec();
    // The writer and readers on threads of their own: a full pipe must not block the test.
    let writer = thread::spawn(move || {
        // A run that fails early stops reading: a broken pipe here is its answer, not ours.
        let _ = input.write_all(&body);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + RUN_WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("run-transform {all:?} did not exit within {RUN_WITHIN:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let ran = Ran {
        code: status.code(),
        body: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    };
    drop(scratch);
    ran
}

/// One request through the real proxy running `lines`, on a fresh connection.
fn through_proxy(host: &PluginHost, request: &[u8]) -> RawResponse {
    let mut conn = RawConn::connect(host.addr());
    conn.send(request).expect("send the request");
    conn.read_response(false).expect("a response")
}

fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Status, compared fields and body agree between the proxy's response and the run's.
#[track_caller]
fn assert_same(what: &str, proxy: &RawResponse, ran: &Ran) {
    assert_eq!(ran.code, Some(0), "{what}: run-transform failed:\n{}", ran.stderr);
    let (status, fields) = ran.head();
    assert_eq!(status, proxy.status, "{what}: status; stderr:\n{}", ran.stderr);
    for name in COMPARED {
        assert_eq!(header(&fields, name), proxy.header(name), "{what}: {name}; stderr:\n{}", ran.stderr);
    }
    assert!(proxy.complete, "{what}: the proxy's response is complete");
    assert_same_bytes(&ran.body, &proxy.body, what);
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn post(target: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!("POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    req
}

fn plugin(name: &str, args: &str) -> String {
    format!("{} {args}", built_plugin(name).display()).trim_end().to_string()
}

/// A GET of `/bytes` through the proxy and the same body through run-transform, with the
/// origin's own response head (Content-Length, or chunked) as `--response-head`.
fn compare_get(lines: &[String], n: usize, seed: u64, chunked: bool, block_sizes: &[usize]) {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), lines);
    let framing = if chunked { "chunked" } else { "length" };
    let target = format!("/bytes?n={n}&seed={seed}&framing={framing}");
    let proxy = through_proxy(&host, get(&target).as_bytes());
    let response_head = if chunked {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
    } else {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n")
    };
    for &block in block_sizes {
        let args = ["--request".into(), get(&target), "--response-head".into(), response_head.clone()];
        let mut args = args.to_vec();
        args.extend(["--block-size".into(), block.to_string()]);
        let ran = run_transform(lines, &args, &pattern(n, seed));
        assert_same(&format!("{lines:?} {target} in blocks of {block}"), &proxy, &ran);
    }
}

#[test]
fn the_null_plugins_agree_with_the_proxy_in_every_block_size() {
    let null = vec![plugin("null", "")];
    compare_get(&null, 100_000, 1, false, &[1, 7, 16 * 1024, 1 << 20]);
    // Bodies of unknown length larger than one proxy read plus a chain buffer: the proxy
    // can never see their end before their first byte has gone through, so its framing
    // (chunked) is what run-transform's blocks give, not an accident of timing.
    compare_get(&null, 600_000, 2, true, &[4096]);
    compare_get(&vec![plugin("null", ""); 3], 50_000, 3, false, &[999]);
    compare_get(&[plugin("null_stream", "")], 300_000, 4, false, &[1000, 65_536]);
    compare_get(&[plugin("null_stream", ""), plugin("null", "response")], 600_000, 5, true, &[3000]);
}

#[test]
fn the_probe_agrees_with_the_proxy_on_headers_state_and_replacements() {
    let lines = [plugin("probe", "stamp=s remember")];
    compare_get(&lines, 5000, 6, false, &[512]);

    let lines = [plugin("probe", "block=NEEDLE")];
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
    let mut needle = pattern(200_000, 7);
    needle.extend_from_slice(b"NEEDLE");
    for (what, body) in [("a body with the word", needle), ("a clean body", pattern(200_000, 8))] {
        let proxy = through_proxy(&host, &post("/echo", &body));
        let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len());
        // The origin's /echo head as it sends it: the length and what it saw of the request.
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Req-Framing: length\r\nX-Req-Len: {}\r\n\r\n",
            body.len(),
            body.len()
        );
        let args =
            ["--request".into(), request, "--response-head".into(), response, "--block-size".into(), "777".into()];
        let ran = run_transform(&lines, &args, &body);
        assert_same(what, &proxy, &ran);
    }
}

#[test]
fn request_bodies_agree_with_what_the_origin_got_through_the_proxy() {
    let origin = Origin::start();
    for (lines, body) in [
        (vec![plugin("null", "request")], pattern(123_456, 9)),
        (vec![plugin("probe", "block-request=NEEDLE")], b"no match here".to_vec()),
        (vec![plugin("probe", "block-request=NEEDLE")], b"a NEEDLE in it".to_vec()),
    ] {
        let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
        // /echo answers with the body the origin received: the request chain's output.
        let proxy = through_proxy(&host, &post("/echo", &body));
        let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len());
        let args = ["--direction".into(), "request".into(), "--request".into(), request];
        let ran = run_transform(&lines, &args, &body);
        assert_eq!(ran.code, Some(0), "{lines:?}: {}", ran.stderr);
        if proxy.status == 403 {
            let (status, fields) = ran.head();
            assert_eq!(status, 403, "{}", ran.stderr);
            assert_eq!(header(&fields, "content-length"), proxy.header("content-length"));
            assert_same_bytes(&ran.body, &proxy.body, "a replaced request");
            continue;
        }
        assert_eq!(proxy.status, 200);
        let upstream = request_head_fields(&ran.stderr);
        // The origin saw a Content-Length exactly when run-transform's upstream head has one.
        let framing = if header(&upstream, "content-length").is_some() { "length" } else { "chunked" };
        assert_eq!(proxy.header("x-req-framing"), Some(framing), "{}", ran.stderr);
        assert_same_bytes(&ran.body, &proxy.body, "the request body the origin got");
    }
}

#[test]
fn a_failing_plugin_exits_1_with_the_proxys_status_and_one_line_message() {
    let origin = Origin::start();
    for mode in ["panic-data", "panic-hook", "early-complete", "never-reenable"] {
        let lines = [plugin("faulty", mode)];
        let host = PluginHost::start(HostBuilder::new(origin.addr()).opt("--inactivity-timeout-ms", 1000), &lines);
        let proxy = through_proxy(&host, get("/bytes?n=5000&seed=1").as_bytes());
        let args = ["--response-head".into(), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".into()];
        let ran = run_transform(&lines, &args, &pattern(5000, 1));
        assert_eq!(ran.code, Some(1), "{mode}: {}", ran.stderr);
        let message = ran.last_line().strip_prefix("plugin-host: ").unwrap_or_else(|| panic!("{mode}: {}", ran.stderr));
        assert!(message.contains("plugin-faulty"), "{mode}: the message names the plugin: {message}");
        let logged = host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains(message));
        assert!(logged.is_some(), "{mode}: the proxy logs the same line {message:?}; its logs:\n{}", host.logs());
        let (status, _) = ran.head();
        assert_eq!(status, proxy.status, "{mode}: {}", ran.stderr);
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let lines = [plugin("null", "")];
    let head = |n: usize| ["--response-head".to_string(), format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n")];
    let short = run_transform(&lines, &head(10), b"12345");
    assert_eq!(short.code, Some(1));
    assert_eq!(short.last_line(), "plugin-host: standard input ended after 5 of the 10 bytes the head declares");
    let long = run_transform(&lines, &head(3), b"12345");
    assert_eq!(long.last_line(), "plugin-host: standard input holds more than the 3 bytes the head declares");
    let bad = run_transform(&["/nonexistent/libx.so".to_string()], &[], b"");
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("plugin.config:1") && bad.stderr.contains("/nonexistent/libx.so"), "{}", bad.stderr);
}

#[test]
fn a_fault_after_the_message_was_whole_still_exits_1_with_the_whole_body() {
    let origin = Origin::start();
    for mode in ["panic-destroy", "use-after-close"] {
        let lines = [plugin("faulty", mode)];
        let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
        let proxy = through_proxy(&host, get("/bytes?n=5000&seed=2").as_bytes());
        let args = ["--response-head".into(), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".into()];
        let ran = run_transform(&lines, &args, &pattern(5000, 2));
        assert_eq!(ran.code, Some(1), "{mode}: {}", ran.stderr);
        assert!(ran.last_line().starts_with("plugin-host: plugin plugin-faulty: "), "{mode}: {}", ran.stderr);
        // The client of the proxy got the whole response: so does standard output.
        assert_eq!((ran.head().0, proxy.status), (200, 200), "{mode}: {}", ran.stderr);
        assert_same_bytes(&ran.body, &proxy.body, mode);
    }
}

#[test]
fn gzip_agrees_with_the_proxy_on_every_coding_and_on_no_coding() {
    use e2e::gzip::{decode, gzip_line};
    let scratch = ScratchDir::new("gzip-config");
    let config = scratch.path().join("compress.config");
    std::fs::write(&config, "supported-algorithms zstd,br,gzip,deflate\n").expect("write compress.config");
    let lines = [gzip_line(Some(&config))];
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
    let (n, seed) = (300_000, 11);
    let text = e2e::text::text(n, seed);
    let target = format!("/text?n={n}&seed={seed}");
    // The origin's own /text head: its type and length.
    let response = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {n}\r\n\r\n");
    for coding in ["gzip", "deflate", "br", "zstd", ""] {
        let accept = if coding.is_empty() { String::new() } else { format!("Accept-Encoding: {coding}\r\n") };
        let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{accept}\r\n");
        let proxy = through_proxy(&host, request.as_bytes());
        let args = [
            "--request".into(),
            request,
            "--response-head".into(),
            response.clone(),
            "--block-size".into(),
            "5000".into(),
        ];
        let ran = run_transform(&lines, &args, &text);
        assert_eq!(ran.code, Some(0), "{coding:?}: {}", ran.stderr);
        let (status, fields) = ran.head();
        assert_eq!((status, proxy.status), (200, 200), "{coding:?}: {}", ran.stderr);
        let want = (!coding.is_empty()).then_some(coding);
        assert_eq!(header(&fields, "content-encoding"), want, "{coding:?}: compressed: {}", ran.stderr);
        assert!(coding.is_empty() || ran.body.len() < n / 2, "{coding:?}: {} bytes for {n}", ran.body.len());
        for name in ["content-encoding", "vary", "content-length", "transfer-encoding", "content-type", "etag"] {
            assert_eq!(header(&fields, name), proxy.header(name), "{coding:?}: {name}; stderr:\n{}", ran.stderr);
        }
        // Compressed bytes may differ with where the input blocks fell; what they decode to may not.
        let (ours, theirs) = if coding.is_empty() {
            (ran.body.clone(), proxy.body.clone())
        } else {
            (decode(coding, &ran.body), decode(coding, &proxy.body))
        };
        assert_same_bytes(&theirs, &text, &format!("{coding:?} through the proxy"));
        assert_same_bytes(&ours, &text, &format!("{coding:?} through run-transform"));
    }
}

#[test]
fn the_scanner_agrees_with_the_proxy_in_report_replace_and_block_modes() {
    let scratch = ScratchDir::new("scanner-patterns");
    let patterns = scratch.path().join("patterns.txt");
    std::fs::write(&patterns, "secret\npassword=\n").expect("write patterns");
    let replacements = scratch.path().join("replace.txt");
    std::fs::write(&replacements, "secret\t[a longer replacement]\npassword=\tpassw0rd=\n")
        .expect("write replacements");
    let scanner = |args: String| plugin("scanner", &args);
    let configs = [
        scanner(format!("--patterns {} --mode report", patterns.display())),
        scanner(format!("--patterns {} --mode replace", replacements.display())),
        scanner(format!("--patterns {} --mode block", patterns.display())),
    ];
    // Matches on both sides of 7-byte block boundaries, and a body with none.
    let mut matching = pattern(100_000, 12);
    for (at, word) in [(5, &b"secret"[..]), (49_997, b"password="), (99_990, b"secret")] {
        matching[at..at + word.len()].copy_from_slice(word);
    }
    let clean = pattern(100_000, 13);
    let origin = Origin::start();
    for (mode, lines) in ["report", "replace", "block"].into_iter().zip(configs.iter().map(|c| vec![c.clone()])) {
        let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
        for (what, body) in [("matches", &matching), ("no match", &clean)] {
            let proxy = through_proxy(&host, &post("/echo", body));
            // Each mode did its work (else agreeing would prove little).
            let changed = what == "matches" && mode != "report";
            assert_eq!(proxy.body != *body, changed, "{mode}, {what}: the proxy's body");
            assert_eq!(proxy.status, if changed && mode == "block" { 403 } else { 200 }, "{mode}, {what}");
            let n = body.len();
            let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {n}\r\n\r\n");
            let response =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nX-Req-Framing: length\r\nX-Req-Len: {n}\r\n\r\n");
            let args =
                ["--request".into(), request, "--response-head".into(), response, "--block-size".into(), "7".into()];
            let ran = run_transform(&lines, &args, body);
            assert_same(&format!("{lines:?}, {what}"), &proxy, &ran);
        }
    }
}
