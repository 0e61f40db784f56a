//! The host's admin server as the tests see it: `GET /stats` parsed into [`Stats`], and a
//! bounded wait for the counters to reach a state (e.g. nothing live after aborts).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::RawConn;

/// Poll interval for [`wait_for_stats`].
const POLL: Duration = Duration::from_millis(50);

/// One `plugin.config` line's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginStats {
    /// The plugin's name (from its descriptor).
    pub name: String,
    /// The path it was configured with.
    pub path: String,
    /// Transactions it took part in.
    pub transactions: u64,
    /// Body bytes into its transforms.
    pub bytes_in: u64,
    /// Body bytes out of its transforms.
    pub bytes_out: u64,
    /// Transforms aborted (client or origin went away, or a fault).
    pub aborts: u64,
    /// Panics caught at the boundary.
    pub panics: u64,
    /// VIO protocol violations.
    pub protocol_errors: u64,
    /// The plugin's own counters (ABI 1.2), by name.
    pub counters: BTreeMap<String, u64>,
}

impl PluginStats {
    /// `(aborts, panics, protocol_errors)`: the fault counters, for one comparison.
    pub fn faults(&self) -> (u64, u64, u64) {
        (self.aborts, self.panics, self.protocol_errors)
    }
}

/// The whole `/stats` document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Open client connections.
    pub connections: u64,
    /// Transactions not yet ended.
    pub live_transactions: u64,
    /// Transform instances not yet destroyed.
    pub live_transforms: u64,
    /// IO buffers not yet freed.
    pub live_buffers: u64,
    /// The water mark of every buffer in the current generation's chains (`--buffer-bytes`).
    pub chain_water_mark: u64,
    /// One entry per `plugin.config` line, in order.
    pub plugins: Vec<PluginStats>,
    /// Plugin callbacks the watchdog flagged past its first limit, by plugin name.
    pub stuck_callbacks: BTreeMap<String, u64>,
}

impl Stats {
    /// Nothing live: no transaction, transform or buffer left over.
    pub fn is_idle(&self) -> bool {
        self.live() == (0, 0, 0)
    }

    /// `(live_transactions, live_transforms, live_buffers)`.
    pub fn live(&self) -> (u64, u64, u64) {
        (self.live_transactions, self.live_transforms, self.live_buffers)
    }

    /// The plugin on config line `index` (0-based, comments and blanks not counted).
    #[track_caller]
    pub fn plugin(&self, index: usize) -> &PluginStats {
        self.plugins.get(index).unwrap_or_else(|| panic!("no plugin #{index} in /stats: {self:#?}"))
    }
}

/// `GET /stats` on a fresh connection to `admin`.
pub fn fetch_stats(admin: SocketAddr) -> Result<Stats, String> {
    let mut conn =
        RawConn::connect_or_none(admin).ok_or_else(|| format!("cannot connect to the admin server {admin}"))?;
    conn.send(b"GET /stats HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("sending GET /stats: {e}"))?;
    let resp = conn.read_response(false).map_err(|e| format!("reading the /stats response: {e}"))?;
    if resp.status != 200 || !resp.complete {
        return Err(format!(
            "/stats answered {} (complete: {}, {:?}): {}",
            resp.status,
            resp.complete,
            resp.body_error,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    parse_stats(&resp.body)
}

/// Parses a `/stats` document; the error names the missing or mistyped field.
pub fn parse_stats(body: &[u8]) -> Result<Stats, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("/stats is not JSON ({e}): {}", String::from_utf8_lossy(body)))?;
    let plugins = doc
        .get("plugins")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("/stats has no `plugins` array: {doc}"))?
        .iter()
        .map(parse_plugin)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stats {
        connections: num(&doc, "connections")?,
        live_transactions: num(&doc, "live_transactions")?,
        live_transforms: num(&doc, "live_transforms")?,
        live_buffers: num(&doc, "live_buffers")?,
        chain_water_mark: num(&doc, "chain_water_mark")?,
        plugins,
        stuck_callbacks: counts(&doc, "stuck_callbacks")?,
    })
}

fn parse_plugin(entry: &Value) -> Result<PluginStats, String> {
    Ok(PluginStats {
        name: text(entry, "name")?,
        path: text(entry, "path")?,
        transactions: num(entry, "transactions")?,
        bytes_in: num(entry, "bytes_in")?,
        bytes_out: num(entry, "bytes_out")?,
        aborts: num(entry, "aborts")?,
        panics: num(entry, "panics")?,
        protocol_errors: num(entry, "protocol_errors")?,
        counters: entry
            .get("counters")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("/stats: `counters` missing or not an object in {entry}"))?
            .iter()
            .map(|(k, v)| v.as_u64().map(|v| (k.clone(), v)).ok_or_else(|| format!("/stats: counter {k} is {v}")))
            .collect::<Result<_, _>>()?,
    })
}

/// An object of counts; absent means none.
fn counts(obj: &Value, key: &str) -> Result<BTreeMap<String, u64>, String> {
    let Some(map) = obj.get(key) else { return Ok(BTreeMap::new()) };
    map.as_object()
        .ok_or_else(|| format!("/stats: `{key}` is not an object in {obj}"))?
        .iter()
        .map(|(k, v)| v.as_u64().map(|v| (k.clone(), v)).ok_or_else(|| format!("/stats: {key}.{k} is {v}")))
        .collect()
}

fn num(obj: &Value, key: &str) -> Result<u64, String> {
    obj.get(key).and_then(Value::as_u64).ok_or_else(|| format!("/stats: `{key}` missing or not a count in {obj}"))
}

fn text(obj: &Value, key: &str) -> Result<String, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("/stats: `{key}` missing or not a string in {obj}"))
}

/// Polls `/stats` until `done` holds or `timeout` passes. `Err` carries the last document
/// (or fetch error) seen, for the failure message.
pub fn wait_for_stats(admin: SocketAddr, timeout: Duration, done: impl Fn(&Stats) -> bool) -> Result<Stats, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = fetch_stats(admin);
        match &last {
            Ok(stats) if done(stats) => return last,
            _ if Instant::now() >= deadline => {
                return Err(match last {
                    Ok(stats) => format!("after {timeout:?} /stats still says {stats:#?}"),
                    Err(e) => format!("after {timeout:?} /stats still fails: {e}"),
                })
            }
            _ => thread::sleep(POLL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape_and_names_missing_fields() {
        let doc = br#"{"connections":2,"live_transactions":1,"live_transforms":5,"live_buffers":6,
            "chain_water_mark":65536,
            "plugins":[{"name":"plugin-null","path":"/x/libplugin_null.so","transactions":3,
            "bytes_in":10,"bytes_out":10,"aborts":7,"panics":8,"protocol_errors":9,"counters":{"seen":4}}]}"#;
        let stats = parse_stats(doc).expect("valid document");
        assert_eq!(stats.live(), (1, 5, 6));
        assert!(!stats.is_idle());
        assert_eq!(stats.plugins.len(), 1);
        assert_eq!(stats.plugins[0].bytes_out, 10);
        assert_eq!(stats.plugins[0].path, "/x/libplugin_null.so");
        assert_eq!(stats.plugin(0).faults(), (7, 8, 9));
        assert_eq!(stats.plugin(0).counters.get("seen"), Some(&4));
        assert_eq!(stats.chain_water_mark, 65536);
        let err = parse_stats(br#"{"connections":0,"live_transactions":0,"live_transforms":0,"plugins":[]}"#)
            .expect_err("live_buffers is missing");
        assert!(err.contains("live_buffers"), "{err}");
        assert!(parse_stats(b"not json").is_err());
    }
}
