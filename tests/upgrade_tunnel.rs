//! Protocol upgrades through the proxy: a real WebSocket client (tungstenite) talks
//! through the host to a real WebSocket origin (tungstenite's server side, on a socket
//! whose HTTP head this file reads): the 101 reaches the client with the response hooks
//! run on it, messages go both ways unchanged (1 MiB ones included, with the null
//! transform loaded), the close handshake ends both connections, and the host serves on.
//! Headless Chromium (Debian's `chromium`) opens one from a page too. An upgrade the
//! origin declines, or one the client did not list in Connection, is an ordinary request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use e2e::plugins::{built_plugin, PluginHost};
use e2e::{assert_same_bytes, pattern, HostBuilder, RawConn};
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

/// Bound on any one read in these tests: a loopback hop takes microseconds.
const WAIT: Duration = Duration::from_secs(20);

/// What the origin saw of one request: its target and header fields (names lowercased).
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// An origin that switches `GET /ws` with `Upgrade: websocket` to a WebSocket echo
/// server (text gets an `echo: ` prefix, binary comes back as it was, a close is
/// answered), and answers anything else `200` with the body `plain`, keeping the
/// connection. One thread per connection, each ending when its peer goes.
struct WsOrigin {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl WsOrigin {
    fn start() -> WsOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the origin");
        let addr = listener.local_addr().expect("origin address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for conn in listener.incoming().take(64) {
                let Ok(conn) = conn else { continue };
                let log = Arc::clone(&log);
                thread::spawn(move || serve(conn, &log));
            }
        });
        WsOrigin { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("origin log").clone()
    }
}

fn serve(conn: TcpStream, log: &Mutex<Vec<Seen>>) {
    let _ = conn.set_read_timeout(Some(WAIT));
    let mut reader = BufReader::new(conn.try_clone().expect("clone the origin socket"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split(' ').nth(1).unwrap_or_default().to_string();
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if reader.read_line(&mut field).unwrap_or(0) == 0 {
                return;
            }
            let field = field.trim_end();
            if field.is_empty() {
                break;
            }
            if let Some((name, value)) = field.split_once(':') {
                fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let seen = Seen { target, fields };
        log.lock().expect("origin log").push(seen.clone());
        let mut out = conn.try_clone().expect("clone the origin socket");
        let upgrade = seen.field("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        if seen.target == "/ws" && upgrade {
            let key = seen.field("sec-websocket-key").unwrap_or_default();
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            out.write_all(head.as_bytes()).expect("write the 101");
            // Nothing of the tunnel was read past the head: the client waits for the 101.
            assert!(reader.buffer().is_empty(), "bytes before the 101");
            echo(WebSocket::from_raw_socket(out, Role::Server, None));
            return;
        }
        let body: &[u8] = if seen.target == "/page" { PAGE.as_bytes() } else { b"plain" };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", body.len());
        if out.write_all(head.as_bytes()).and_then(|()| out.write_all(body)).is_err() {
            return;
        }
    }
}

/// A page that opens a WebSocket to its own host, sends one message, and reports
/// the echo (or the failure) by loading `/done?...`, which the origin records.
const PAGE: &str = r#"<!doctype html>
<html><body><p id="out">waiting</p><script>
const report = (what) => { new Image().src = "/done?" + encodeURIComponent(what); };
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => ws.send("from the browser");
ws.onmessage = (e) => { report(e.data); ws.close(); };
ws.onerror = () => report("error");
</script></body></html>
"#;

fn echo(mut ws: WebSocket<TcpStream>) {
    loop {
        let reply = match ws.read() {
            Ok(Message::Text(t)) => Message::text(format!("echo: {}", t.as_str())),
            Ok(Message::Binary(b)) => Message::Binary(b),
            Ok(_) => continue,
            // A close was answered by tungstenite (or the peer went): the server closes.
            Err(_) => return,
        };
        if ws.send(reply).is_err() {
            return;
        }
    }
}

/// The null transform (on every body) and the probe stamping every response and
/// naming the request in it, so the 101 shows whether the response hooks ran.
fn chain() -> Vec<String> {
    vec![
        built_plugin("null").display().to_string(),
        format!("{} stamp=tunnel remember", built_plugin("probe").display()),
    ]
}

fn connect(host: SocketAddr) -> (WebSocket<TcpStream>, tungstenite::handshake::client::Response) {
    let stream = TcpStream::connect(host).expect("connect to the host");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    tungstenite::client(format!("ws://{host}/ws"), stream).expect("the WebSocket handshake through the proxy")
}

#[test]
fn a_websocket_goes_through_both_ways_and_closes_cleanly() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr), &chain());
    let (mut ws, response) = connect(host.addr());
    assert_eq!(response.status(), 101);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("x-probe-stamp").as_deref(), Some("tunnel"), "the response hooks ran on the 101");
    assert_eq!(header("x-probe-request").as_deref(), Some("GET /ws"), "{:?}", response.headers());
    assert_eq!(header("via").as_deref(), Some("1.1 plugin-host"));
    assert!(header("content-length").is_none() && header("transfer-encoding").is_none(), "a 1xx has no framing");

    let seen = origin.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].field("connection"), Some("upgrade"), "{seen:?}");
    assert_eq!(seen[0].field("upgrade"), Some("websocket"));
    assert_eq!(seen[0].field("via"), Some("1.1 plugin-host"));
    assert!(seen[0].field("sec-websocket-key").is_some(), "end-to-end fields pass");

    for i in 0..100 {
        ws.send(Message::text(format!("message {i}"))).expect("send text");
        match ws.read().expect("read the echo") {
            Message::Text(t) => assert_eq!(t.as_str(), format!("echo: message {i}")),
            other => panic!("expected text, got {other:?}"),
        }
    }
    // Larger than the host's buffers both ways (bounded, so it goes in several reads),
    // and written whole before any of the echo is read.
    let big = pattern(1 << 20, 7);
    ws.send(Message::binary(big.clone())).expect("send 1 MiB");
    match ws.read().expect("read the 1 MiB echo") {
        Message::Binary(b) => assert_same_bytes(&b, &big, "the 1 MiB message"),
        other => panic!("expected binary, got {other:?}"),
    }

    ws.close(None).expect("start the close handshake");
    let end = loop {
        match ws.read() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(matches!(end, tungstenite::Error::ConnectionClosed), "a clean close, got {end:?}");

    host.wait_idle();
    // Access lines are written within a second of their transaction.
    let logged = host.wait_for_log(WAIT, |l| l.contains("\"GET /ws HTTP/1.1\" 101 "));
    assert!(logged.is_some(), "the access log has the tunnel:\n{}", host.logs());
    // The host serves on, on a fresh connection and without a tunnel.
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /after HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]));
}

#[test]
fn an_upgrade_the_origin_declines_is_an_ordinary_response_on_a_kept_connection() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr), &chain());
    let mut conn = RawConn::connect(host.addr());
    for _ in 0..2 {
        conn.send(b"GET /plain HTTP/1.1\r\nHost: e2e.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]));
        assert_eq!(resp.header("connection"), None, "the connection persists");
    }
    let seen = origin.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.field("upgrade") == Some("websocket")), "{seen:?}");
}

#[test]
fn upgrade_without_the_connection_token_is_a_hop_by_hop_field_removed() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr), &chain());
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /ws HTTP/1.1\r\nHost: e2e.test\r\nUpgrade: websocket\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"plain"[..]));
    // HTTP/1.0 cannot upgrade (RFC 9110 section 7.8): neither field goes on.
    conn.send(b"GET /ws HTTP/1.0\r\nHost: e2e.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        .expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    let seen = origin.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.field("upgrade").is_none() && s.field("connection").is_none()), "{seen:?}");
}

#[test]
fn a_quiet_tunnel_is_closed_after_the_inactivity_timeout() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr).opt("--inactivity-timeout-ms", 300), &chain());
    let (mut ws, response) = connect(host.addr());
    assert_eq!(response.status(), 101);
    // Nothing is sent: the host closes the tunnel (bounded wait).
    let stream = ws.get_mut();
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest);
    assert!(read.is_ok(), "the host closed the connection (EOF), not the read timeout: {read:?}");
    assert!(rest.is_empty(), "nothing came through: {rest:?}");
    host.wait_for_log(WAIT, |l| l.contains("tunnel idle past the inactivity timeout")).expect("the host says why");
    host.wait_idle();
}

/// Chromium, killed on drop.
struct Browser(std::process::Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn chromium_opens_a_websocket_through_the_host() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr), &chain());
    let profile = e2e::plugins::ScratchDir::new("ws-browser");
    let child = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--disable-extensions", "--disable-background-networking", "--disable-component-update"])
        .args(["--disable-sync", "--disable-quic", "--remote-debugging-port=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://{}/page", host.addr()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("run chromium ({e}); .ci/run installs Debian's chromium"));
    let _browser = Browser(child);
    // Bounded: a cold Chromium start takes seconds on a busy machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let report = loop {
        if let Some(done) = origin.seen().into_iter().find(|s| s.target.starts_with("/done?")) {
            break done.target;
        }
        assert!(std::time::Instant::now() < deadline, "no report from the page; the origin saw {:?}", origin.seen());
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(report, "/done?echo%3A%20from%20the%20browser", "the page's WebSocket got its echo");
    let upgrade = origin.seen().into_iter().find(|s| s.target == "/ws").expect("the origin saw the handshake");
    assert_eq!(upgrade.field("connection"), Some("upgrade"));
    assert!(upgrade.field("user-agent").is_some_and(|a| a.contains("Chrome")), "{upgrade:?}");
}

#[test]
fn a_reload_finalises_the_old_plugins_while_a_tunnel_stays_open() {
    let origin = WsOrigin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr), &chain());
    let (mut ws, response) = connect(host.addr());
    assert_eq!(response.headers().get("x-probe-stamp").map(|v| v.as_bytes()), Some(&b"tunnel"[..]));

    let next = vec![format!("{} stamp=second", built_plugin("probe").display())];
    e2e::plugins::write_plugin_config(host.config().parent().expect("config folder"), &next);
    host.signal(libc::SIGHUP);
    // The tunnel holds no transaction of the old generation: its plugins go at once.
    let fini = host.wait_for_log(WAIT, |l| l.contains("probe fini stamp=tunnel"));
    assert!(fini.is_some(), "the old probe was not finalised:\n{}", host.logs());

    ws.send(Message::text("still here")).expect("send after the reload");
    match ws.read().expect("read the echo") {
        Message::Text(t) => assert_eq!(t.as_str(), "echo: still here"),
        other => panic!("expected text, got {other:?}"),
    }
    let (mut second, response) = connect(host.addr());
    assert_eq!(response.headers().get("x-probe-stamp").map(|v| v.as_bytes()), Some(&b"second"[..]));
    second.close(None).expect("close");
    ws.close(None).expect("close");
    while ws.read().is_ok() {}
    while second.read().is_ok() {}
    host.wait_idle();
}
