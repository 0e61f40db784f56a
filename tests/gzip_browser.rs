//! A real browser through the gzip plugin: headless Chromium (Debian's `chromium`) loads
//! the host's built-in sample site with the repository's own `compress.config`. The page
//! must render (its text is in the DOM Chromium dumps), and Chromium's own network log
//! must show the HTML and the CSS arriving compressed: fewer bytes read from the socket
//! than decoded.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::gzip::gzip_line;
use e2e::host::host_binary;
use e2e::plugins::{workspace_dir, write_plugin_config, ScratchDir};

/// Longest Chromium may take to load the page and exit.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

/// The host with no `--origin` (so it serves its sample site); killed on drop.
struct SampleHost(Child);

impl Drop for SampleHost {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sample_host(dir: &Path) -> (SampleHost, String) {
    let config = workspace_dir().join("compress.config");
    let plugin_config = write_plugin_config(dir, &[gzip_line(Some(&config))]);
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut child = Command::new(host_binary())
        .args(["run", "--listen", "127.0.0.1:0", "--threads", "1"])
        .args(["--config", &plugin_config.display().to_string(), "--runtime-dir", &runtime.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn plugin-host");
    let stdout = child.stdout.take().expect("host stdout");
    let host = SampleHost(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the host's first line");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("host said {line:?}")).to_string();
    (host, addr)
}

/// Runs Chromium on `url`, its network log to `netlog`; returns the DOM it dumped.
fn chromium_dump_dom(url: &str, profile: &Path, netlog: &Path) -> String {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--net-log-capture-mode=Everything")
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("run chromium ({e}); .ci/run installs Debian's chromium"));
    let deadline = Instant::now() + BROWSER_LIMIT;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut dom = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut dom);
    }
    dom
}

/// What the network log says about one URL.
#[derive(Debug, Default)]
struct Fetch {
    content_encoding: Option<String>,
    /// Body bytes read off the connection (still encoded).
    wire: u64,
    /// Body bytes after Chromium's decoders.
    decoded: u64,
}

/// Groups the network log's events by request and picks out `url`'s.
fn fetch_of(netlog: &serde_json::Value, url: &str) -> Fetch {
    let types: std::collections::HashMap<u64, String> = netlog["constants"]["logEventTypes"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((v.as_u64()?, k.clone()))).collect())
        .unwrap_or_default();
    let events = netlog["events"].as_array().cloned().unwrap_or_default();
    let source = events.iter().find_map(|e| {
        let is_alive = e["type"].as_u64().and_then(|t| types.get(&t)).is_some_and(|t| t == "REQUEST_ALIVE");
        (is_alive && e["params"]["url"].as_str() == Some(url)).then(|| e["source"]["id"].as_u64()).flatten()
    });
    let Some(source) = source else { panic!("no request for {url} in Chromium's network log") };
    let mut fetch = Fetch::default();
    for e in events.iter().filter(|e| e["source"]["id"].as_u64() == Some(source)) {
        let count = e["params"]["byte_count"].as_u64().unwrap_or(0);
        match e["type"].as_u64().and_then(|t| types.get(&t)).map(String::as_str) {
            Some("URL_REQUEST_JOB_BYTES_READ") => fetch.wire += count,
            Some("URL_REQUEST_JOB_FILTERED_BYTES_READ") => fetch.decoded += count,
            Some("HTTP_TRANSACTION_READ_RESPONSE_HEADERS") => {
                let headers = e["params"]["headers"].as_array().cloned().unwrap_or_default();
                fetch.content_encoding = headers.iter().filter_map(|h| h.as_str()).find_map(|h| {
                    let (name, value) = h.split_once(':')?;
                    name.eq_ignore_ascii_case("content-encoding").then(|| value.trim().to_string())
                });
            }
            _ => {}
        }
    }
    fetch
}

#[test]
fn chromium_renders_the_sample_site_with_compressed_html_and_css() {
    let dir = ScratchDir::new("gzip-browser");
    let (_host, addr) = start_sample_host(dir.path());
    let netlog_path = dir.path().join("netlog.json");
    let dom = chromium_dump_dom(&format!("http://{addr}/"), &dir.path().join("profile"), &netlog_path);
    assert!(dom.contains("plugin-host is running"), "the page did not render; DOM:\n{dom}");

    let text = std::fs::read_to_string(&netlog_path).expect("Chromium wrote its network log");
    // Chromium may leave the log's closing brackets off when it exits; close them.
    let netlog: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the network log is JSON");
    let site = workspace_dir().join("examples/site");
    for (path, file) in [("/", "index.html"), ("/style.css", "style.css")] {
        let fetch = fetch_of(&netlog, &format!("http://{addr}{path}"));
        let size = std::fs::metadata(site.join(file)).map(|m| m.len()).expect("sample file");
        assert!(
            matches!(fetch.content_encoding.as_deref(), Some("zstd" | "br" | "gzip" | "deflate")),
            "{path}: not compressed: {fetch:?}"
        );
        assert_eq!(fetch.decoded, size, "{path}: the browser decoded the whole file: {fetch:?}");
        assert!(fetch.wire < fetch.decoded, "{path}: {fetch:?}");
    }
}
