//! Hot reload through the real binary and real `.so` files: chains swapped under
//! keep-alive load with every response whole, an in-flight response finishing on the
//! old chain, every kind of failed reload changing nothing, a plugin rebuilt at the same
//! path running its new code, old plugins finalised once after their last transaction,
//! and what 100 reloads cost in mapped images and memory.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use e2e::faults::abi;
use e2e::faults::process::run_to_exit;
use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{assert_same_bytes, built_plugin, null_chain, pattern, HostBuilder, Origin, PluginHost, RawConn};
use serde_json::Value;

/// Time one `plugin-host reload` may take (loading a few plugins takes milliseconds).
const RELOAD_WITHIN: Duration = Duration::from_secs(30);

fn so(name: &str) -> String {
    built_plugin(name).display().to_string()
}

fn probe(args: &str) -> String {
    format!("{} {args}", so("probe"))
}

/// Rewrites the host's plugin.config.
fn configure(host: &PluginHost, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(host.config(), text).expect("rewrite plugin.config");
}

/// `GET path` on the admin endpoint, as JSON.
fn admin_json(admin: SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut conn = RawConn::connect(admin);
    conn.send(request).expect("send to admin");
    let resp = conn.read_response(false).expect("admin response");
    let doc = serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("admin sent no JSON ({e}): {resp:?}"));
    (resp.status, doc)
}

fn stats(host: &PluginHost) -> Value {
    admin_json(host.admin(), b"GET /stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").1
}

/// `POST /reload`: the status and the outcome document.
fn post_reload(host: &PluginHost) -> (u16, Value) {
    admin_json(host.admin(), b"POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

/// `plugin-host reload --admin ADDR`, as an operator runs it.
fn reload_command(host: &PluginHost) -> e2e::faults::process::Finished {
    run_to_exit(&["reload", "--admin", &host.admin().to_string()], RELOAD_WITHIN)
}

/// One GET on `conn`; returns the response's stamp header, checking the body byte for byte.
fn fetch(conn: &mut RawConn, n: usize, seed: u64) -> Result<Option<String>, String> {
    conn.send(format!("GET /bytes?n={n}&seed={seed} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let resp = conn.read_response(false).map_err(|e| format!("read: {e}"))?;
    if resp.status != 200 || !resp.complete {
        return Err(format!("status {} complete {} {:?}", resp.status, resp.complete, resp.body_error));
    }
    if resp.body != pattern(n, seed) {
        return Err(format!("body of {n} bytes (seed {seed}) differs: got {} bytes", resp.body.len()));
    }
    Ok(resp.header("x-probe-stamp").map(str::to_string))
}

fn stamp_of(host: &PluginHost) -> Option<String> {
    let mut conn = RawConn::connect(host.addr());
    fetch(&mut conn, 10, 1).unwrap_or_else(|e| panic!("{e}; logs:\n{}", host.logs()))
}

#[test]
fn a_hundred_reloads_under_keep_alive_load_lose_nothing() {
    const RELOADS: usize = 100;
    const CLIENTS: usize = 8;
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[probe("stamp=start")]);
    let chains: Vec<Vec<String>> = vec![
        vec!["# no plugins".to_string()],
        null_chain(1, None),
        null_chain(5, None),
        vec![probe("stamp=p"), so("null_stream"), so("null")],
        // The clients send no Accept-Encoding: gzip negotiates and passes bodies on as they are.
        vec![so("null"), so("gzip")],
        // Report mode passes bodies on unchanged, counting what it finds.
        vec![
            format!(
                "{} --patterns {}",
                so("scanner"),
                e2e::plugins::workspace_dir().join("scanner.patterns").display()
            ),
            so("gzip"),
        ],
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (stop, served, addr) = (stop.clone(), served.clone(), host.addr());
            thread::spawn(move || -> Result<(), String> {
                let sizes = [1024, 64 * 1024, 1 << 20, 4 << 20];
                let mut conn = RawConn::connect(addr);
                let mut i = 0u64;
                // Bounded: the reloads end in well under a minute; the cap is a backstop.
                while !stop.load(Ordering::Relaxed) && i < 100_000 {
                    let n = sizes[(i as usize + c) % sizes.len()];
                    fetch(&mut conn, n, i % 250 + 1).map_err(|e| format!("client {c}, request {i}: {e}"))?;
                    served.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                Ok(())
            })
        })
        .collect();
    for r in 0..RELOADS {
        configure(&host, &chains[r % chains.len()]);
        let (status, doc) = post_reload(&host);
        assert_eq!(status, 200, "reload {r}: {doc}");
        thread::sleep(Duration::from_millis(200)); // 5 reloads a second
    }
    stop.store(true, Ordering::Relaxed);
    for (c, client) in clients.into_iter().enumerate() {
        client.join().unwrap_or_else(|_| panic!("client {c} panicked")).unwrap_or_else(|e| panic!("{e}"));
    }
    let doc = stats(&host);
    assert_eq!(doc["generation"], RELOADS as u64 + 1, "{doc}");
    assert_eq!(doc["reloads"]["succeeded"], RELOADS as u64);
    assert_eq!(doc["reloads"]["failed"], 0);
    eprintln!("{} responses, all whole and byte-exact, across {RELOADS} reloads", served.load(Ordering::Relaxed));
    assert!(served.load(Ordering::Relaxed) >= CLIENTS as u64, "the clients got through");
    // Every old generation went away once its transactions ended.
    let settled = host.wait_for_stats(SETTLE_TIMEOUT, |s| s.is_idle());
    assert!(settled.is_idle());
    let doc = stats(&host);
    assert_eq!(doc["generations"].as_array().map(Vec::len), Some(1), "{doc}");
}

#[test]
fn a_response_in_flight_finishes_on_the_old_chain_whose_plugin_is_finalised_once_after_it() {
    const BIG: usize = 64 << 20;
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[probe("stamp=old")]);
    let mut slow = RawConn::connect(host.addr());
    slow.send(format!("GET /bytes?n={BIG}&seed=7 HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).expect("send");
    let head = slow.read_response_head().expect("the head of the big response");
    assert_eq!(head.header("x-probe-stamp"), Some("old"));

    configure(&host, &[probe("stamp=new")]);
    let (status, doc) = post_reload(&host);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(stamp_of(&host).as_deref(), Some("new"), "a transaction after the reload sees the new chain");
    let doc = stats(&host);
    let live = doc["generations"].as_array().cloned().unwrap_or_default();
    assert!(live.iter().any(|g| g["number"] == 1 && g["transactions"] == 1), "old generation still serving: {doc}");
    assert!(!host.logs().contains("probe fini stamp=old"), "finalised while its transaction runs");

    let resp = slow.read_response_body(head, false);
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_same_bytes(&resp.body, &pattern(BIG, 7), "the in-flight response");
    let line = host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("probe fini stamp=old"));
    assert!(line.is_some_and(|l| l.contains("plugin=plugin-probe")), "logs:\n{}", host.logs());
    thread::sleep(Duration::from_millis(200));
    assert_eq!(host.logs().matches("probe fini stamp=old").count(), 1, "finalised exactly once");
    assert!(!host.logs().contains("probe fini stamp=new"), "the new generation is still serving");
}

#[test]
fn every_kind_of_failed_reload_changes_nothing_and_says_why() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[probe("stamp=good")]);
    let config = host.config().to_path_buf();
    let text = config.with_file_name("not-a-plugin.so");
    std::fs::write(&text, "plain text").expect("write");
    let cases: Vec<(&str, Option<Vec<String>>, String)> = vec![
        ("missing file", None, format!("{}: cannot read the config file", config.display())),
        ("bad line", Some(vec!["\"unterminated".into()]), format!("{}:1:", config.display())),
        ("plugin refused", Some(vec![abi::minor_4().display().to_string()]), "newer than this host's".into()),
        ("not a shared object", Some(vec![text.display().to_string()]), "not a shared object".into()),
        ("init error", Some(vec![probe("sideways")]), "init refused its arguments".into()),
        ("init panic", Some(vec![format!("{} panic-init", e2e::fixtures::faulty().display())]), "init panicked".into()),
    ];
    for (i, (kind, lines, expect)) in cases.iter().enumerate() {
        match lines {
            Some(lines) => configure(&host, lines),
            None => std::fs::remove_file(&config).expect("remove plugin.config"),
        }
        let out = reload_command(&host);
        assert_eq!(out.code(), Some(1), "{kind}: {out:?}");
        assert!(out.stderr.contains("reload refused, nothing changed"), "{kind}: {out:?}");
        assert!(out.stderr.contains(expect.as_str()), "{kind}: wanted {expect:?} in {:?}", out.stderr);
        assert_eq!(stamp_of(&host).as_deref(), Some("good"), "{kind}: the old chain keeps serving");
        let doc = stats(&host);
        assert_eq!(doc["generation"], 1, "{kind}: {doc}");
        assert_eq!(doc["reloads"]["failed"], i as u64 + 1, "{kind}: {doc}");
        let last = doc["reloads"]["last_failure"].as_str().unwrap_or_default().to_string();
        assert!(last.contains(expect.as_str()), "{kind}: last_failure {last:?}");
        let warned = host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("WARN") && l.contains(expect.as_str()));
        assert!(warned.is_some(), "{kind}: no WARN line; logs:\n{}", host.logs());
    }
    configure(&host, &[probe("stamp=fixed")]);
    let out = reload_command(&host);
    assert!(out.success(), "{out:?}");
    assert!(out.stdout.contains("reloaded: generation 2"), "{out:?}");
    assert_eq!(stamp_of(&host).as_deref(), Some("fixed"));
}

#[test]
fn sighup_and_the_pid_file_reload_and_a_plugin_rebuilt_at_the_same_path_runs_its_new_code() {
    let origin = Origin::start();
    let dir = e2e::plugins::ScratchDir::new("reload-rebuilt");
    let at = dir.path().join("libmarked.so");
    std::fs::copy(built_plugin("probe"), &at).expect("copy probe");
    let pid_file = dir.path().join("host.pid");
    let builder = HostBuilder::new(origin.addr()).opt("--pid-file", pid_file.display());
    let host = PluginHost::start(builder, &[format!("{} stamp=first", at.display())]);
    let pid: u32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid");
    assert_eq!(pid, host.pid());
    assert_eq!(stamp_of(&host).as_deref(), Some("first"));

    // A different build copied over the same path (its inode kept, as `cp` does).
    std::fs::write(&at, std::fs::read(built_plugin("null_stream")).expect("read")).expect("overwrite");
    configure(&host, &[at.display().to_string()]);
    host.signal(libc::SIGHUP);
    let doc = wait_generation(&host, 2);
    assert_eq!(doc["plugins"][0]["name"], "plugin-null-stream", "the new code runs: {doc}");
    assert_eq!(stamp_of(&host), None);
    assert_eq!(doc["plugin_images"], 2, "{doc}");
}

fn wait_generation(host: &PluginHost, number: u64) -> Value {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let doc = stats(host);
        if doc["generation"] == number || Instant::now() > deadline {
            assert_eq!(doc["generation"], number, "logs:\n{}", host.logs());
            return doc;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Appends `tag` to a copy of the plugin: the same code, but new bytes, as a rebuild makes.
fn rebuilt_copy(from: &Path, to: &Path, tag: usize) {
    let mut bytes = std::fs::read(from).expect("read plugin");
    bytes.extend_from_slice(format!("rebuild {tag}").as_bytes());
    std::fs::write(to, bytes).expect("write rebuilt plugin");
}

#[test]
fn reloads_of_an_unchanged_chain_map_nothing_new_and_each_rebuilt_plugin_costs_one_image() {
    let rebuilt: usize = std::env::var("RELOAD_REBUILT").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let origin = Origin::start();
    let dir = e2e::plugins::ScratchDir::new("reload-images");
    let at = dir.path().join("librebuilt.so");
    rebuilt_copy(&built_plugin("probe"), &at, 0);
    let chain = vec![probe("stamp=same"), so("null"), so("null"), format!("{} stamp=r", at.display())];
    let builder = HostBuilder::new(origin.addr()).opt("--max-plugin-images", 10);
    let host = PluginHost::start(builder, &chain);
    let images = |doc: &Value| doc["plugin_images"].as_u64().unwrap_or(0);
    let start = stats(&host);
    assert_eq!(images(&start), 3, "probe, null and the copy: {start}");
    let rss_start = host.rss_bytes();
    for r in 0..100 {
        let (status, doc) = post_reload(&host);
        assert_eq!(status, 200, "reload {r}: {doc}");
    }
    let doc = stats(&host);
    let rss_unchanged = host.rss_bytes();
    assert_eq!(images(&doc), 3, "100 reloads of an unchanged chain map no new image: {doc}");
    // Loading compares files in small blocks and old generations are freed: no lasting growth.
    assert!(rss_unchanged < rss_start + (4 << 20), "RSS {rss_start} -> {rss_unchanged} after 100 unchanged reloads");
    eprintln!(
        "100 unchanged reloads: images 3 -> {}, RSS {} -> {} KiB",
        images(&doc),
        rss_start / 1024,
        rss_unchanged / 1024
    );
    for r in 1..=rebuilt {
        rebuilt_copy(&built_plugin("probe"), &at, r);
        let (status, doc) = post_reload(&host);
        assert_eq!(status, 200, "rebuilt reload {r}: {doc}");
    }
    let doc = stats(&host);
    let rss_rebuilt = host.rss_bytes();
    assert_eq!(images(&doc), 3 + rebuilt as u64, "one more image per rebuilt plugin: {doc}");
    eprintln!(
        "{rebuilt} rebuilt reloads: images {}, RSS +{} KiB, {} KiB per image",
        images(&doc),
        (rss_rebuilt.saturating_sub(rss_unchanged)) / 1024,
        (rss_rebuilt.saturating_sub(rss_unchanged)) / 1024 / rebuilt.max(1) as u64
    );
    let warned = host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("plugin images are mapped") && l.contains("restart"));
    assert!(warned.is_some(), "past --max-plugin-images the log tells to restart; logs:\n{}", host.logs());
    // The last stamping line wins: the rebuilt copy still runs.
    assert_eq!(stamp_of(&host).as_deref(), Some("r"));
}

#[test]
fn a_reload_during_a_graceful_shutdown_is_ignored_with_a_log_line() {
    let origin = Origin::start();
    let builder = HostBuilder::new(origin.addr()).opt("--drain-timeout-ms", 20_000);
    let host = PluginHost::start(builder, &[probe("stamp=s")]);
    // A response in flight keeps the host draining.
    let mut slow = RawConn::connect(host.addr());
    slow.send(format!("GET /bytes?n={}&seed=3 HTTP/1.1\r\nHost: t\r\n\r\n", 32 << 20).as_bytes()).expect("send");
    let head = slow.read_response_head().expect("head");
    host.sigterm();
    assert!(host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("shutting down")).is_some());
    let (status, doc) = post_reload(&host);
    assert_eq!(status, 503, "{doc}");
    assert!(doc["summary"].as_str().unwrap_or_default().contains("graceful shutdown"), "{doc}");
    assert!(host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("reload ignored: a graceful shutdown")).is_some());
    let resp = slow.read_response_body(head, false);
    assert!(resp.complete, "the draining response still completes");
}
