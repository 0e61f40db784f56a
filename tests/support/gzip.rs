//! The gzip plugin end to end: a host running `libplugin_gzip.so` (alone, or between null
//! transforms) in front of the test origin, with its `compress.config` in a scratch folder,
//! and response bodies decoded by Debian's own tools (`gzip -dc`, `pigz -dcz` for the zlib
//! format HTTP calls deflate, `brotli -dc`, `zstd -dc`), never by the crates the plugin uses.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;

use crate::client::{RawConn, RawResponse};
use crate::host::HostBuilder;
use crate::origin::Origin;
use crate::plugins::{built_plugin, null_chain, PluginHost, ScratchDir};

/// Where gzip sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// gzip alone.
    Alone,
    /// null (responses), gzip, null (responses).
    BetweenNulls,
}

/// A host with the gzip plugin and the test origin behind it.
pub struct GzipHost {
    /// The host (its logs, `/stats`, address).
    pub host: PluginHost,
    /// The origin (its recorded requests).
    pub origin: Origin,
    /// The config file given to the plugin, if any.
    pub config: Option<PathBuf>,
    _dir: ScratchDir,
}

/// The plugin.config line loading gzip with `config` (if any).
pub fn gzip_line(config: Option<&PathBuf>) -> String {
    let so = built_plugin("gzip");
    match config {
        Some(c) => format!("{} {}", so.display(), c.display()),
        None => so.display().to_string(),
    }
}

impl GzipHost {
    /// gzip alone, configured with `config` (the text of a compress.config; `None`: no file).
    pub fn start(config: Option<&str>) -> GzipHost {
        GzipHost::start_chain(config, Chain::Alone)
    }

    /// gzip in `chain`, configured with `config`.
    pub fn start_chain(config: Option<&str>, chain: Chain) -> GzipHost {
        let dir = ScratchDir::new("gzip");
        let config = config.map(|text| {
            let path = dir.path().join("compress.config");
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        });
        let gzip = gzip_line(config.as_ref());
        let lines = match chain {
            Chain::Alone => vec![gzip],
            Chain::BetweenNulls => {
                let null = null_chain(1, Some("response")).remove(0);
                vec![null.clone(), gzip, null]
            }
        };
        let origin = Origin::start();
        let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
        GzipHost { host, origin, config, _dir: dir }
    }

    /// One request on a fresh connection: `GET target HTTP/1.1` (or `method`), `Host:
    /// e2e.test` unless `fields` has one, then `fields`. Returns the raw response.
    #[track_caller]
    pub fn request(&self, method: &str, target: &str, fields: &[(&str, &str)]) -> RawResponse {
        let mut conn = RawConn::connect(self.host.addr());
        conn.send(&request_bytes(method, target, "HTTP/1.1", fields)).expect("send request");
        conn.read_response(method == "HEAD")
            .unwrap_or_else(|e| panic!("{method} {target}: {e}; logs:\n{}", self.host.logs()))
    }

    /// `GET target` with `Accept-Encoding: accept`.
    #[track_caller]
    pub fn get(&self, target: &str, accept: &str) -> RawResponse {
        self.request("GET", target, &[("Accept-Encoding", accept)])
    }
}

/// The bytes of a request with `fields` (a `Host` is added unless given).
pub fn request_bytes(method: &str, target: &str, version: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("{method} {target} {version}\r\n");
    if !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str("Host: e2e.test\r\n");
    }
    for (name, value) in fields {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The decoding command for a Content-Encoding.
fn decoder(coding: &str) -> Command {
    let (tool, args): (&str, &[&str]) = match coding {
        "gzip" => ("gzip", &["-dc"]),
        // pigz reads the zlib format (RFC 1950) with -z; gzip cannot.
        "deflate" => ("pigz", &["-dcz"]),
        "br" => ("brotli", &["-dc"]),
        "zstd" => ("zstd", &["-dcq"]),
        other => panic!("no decoder for Content-Encoding {other:?}"),
    };
    let mut cmd = Command::new(tool);
    cmd.args(args);
    cmd
}

/// Runs the decoder for `coding` over `bytes`: (stdout, success, stderr).
fn run_decoder(coding: &str, bytes: &[u8]) -> (Vec<u8>, bool, String) {
    let mut child = decoder(coding)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run the {coding} decoder ({e}); .ci/run installs gzip, pigz, brotli and zstd"));
    let mut stdin = child.stdin.take().expect("decoder stdin");
    let input = bytes.to_vec();
    // Fed from a thread: a decoder blocks on a full stdout pipe while we would block on stdin.
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_end(&mut out);
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    let _ = feeder.join();
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    (out, ok, err)
}

/// Decodes a whole body with the real tool for `coding`; panics if it is not valid.
#[track_caller]
pub fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let (out, ok, err) = run_decoder(coding, bytes);
    assert!(ok, "{coding} decoder refused the body ({} bytes): {err}", bytes.len());
    out
}

/// Decodes as much of a cut-off stream as the tool can (it exits non-zero at the cut).
///
/// `brotli -dc` prints nothing for a cut stream, so a brotli prefix is closed first with an
/// empty last meta-block (the byte 0x03: ISLAST and ISLASTEMPTY, RFC 7932 section 9.2);
/// that makes a valid stream exactly when the prefix ends where the encoder flushed.
pub fn decode_prefix(coding: &str, bytes: &[u8]) -> Vec<u8> {
    if coding == "br" {
        let mut closed = bytes.to_vec();
        closed.push(0x03);
        return run_decoder(coding, &closed).0;
    }
    run_decoder(coding, bytes).0
}

/// Every field named `name` in `resp`, in order.
pub fn fields<'r>(resp: &'r RawResponse, name: &str) -> Vec<&'r str> {
    resp.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// The response head as text, for failure messages.
pub fn head_text(resp: &RawResponse) -> String {
    let mut s = format!("HTTP/1.{} {}\n", resp.minor_version, resp.status);
    for (n, v) in &resp.headers {
        s.push_str(&format!("{n}: {v}\n"));
    }
    s
}
