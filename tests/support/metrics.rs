//! The admin server's `GET /metrics` as the tests see it: scraped, parsed by a real
//! Prometheus parser (Python's `prometheus_client.parser`, which `.ci/run` installs as
//! Debian's `python3-prometheus-client`), and checked against Prometheus's naming
//! conventions independently of how the host wrote it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::client::RawConn;

/// Dumps what the parser saw as JSON: one object per family.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = []
for f in text_string_to_metric_families(sys.stdin.read()):
    families.append({"name": f.name, "type": f.type, "help": f.documentation,
                     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
json.dump(families, sys.stdout)
"#;

/// One sample: its name, labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's name (`x_total`, `x_bucket`, ...).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// One metric family as the parser grouped it.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The family name (for a counter the parser drops the `_total`).
    pub name: String,
    /// `counter`, `gauge`, `histogram`, ... (`unknown` or `untyped`: a sample outside its `# TYPE`).
    pub kind: String,
    /// The `# HELP` text.
    pub help: String,
    /// Its samples, in document order.
    pub samples: Vec<Sample>,
}

/// One scrape: the raw text, its content type, and the parsed families.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// The `Content-Type` the admin server sent.
    pub content_type: String,
    /// The document as sent.
    pub text: String,
    /// What the parser made of it.
    pub families: Vec<Family>,
}

impl Scrape {
    /// The value of the one sample named `name` with exactly `labels`; panics if absent.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("no sample {name}{want:?} in /metrics:\n{}", self.text))
    }

    /// Every sample of every family.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.iter().flat_map(|f| f.samples.iter())
    }
}

/// An interpreter that can import `prometheus_client.parser`: Debian's `/usr/bin/python3`
/// first (where the apt package installs it, whatever `python3` a PATH shim points at).
fn python() -> String {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import prometheus_client.parser"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate.to_string();
        }
    }
    panic!("no python3 with prometheus_client: install python3-prometheus-client (as .ci/run does)")
}

/// Parses `text` with `prometheus_client.parser`; panics with the parser's error.
pub fn parse(text: &str) -> Vec<Family> {
    let mut child = Command::new(python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to the parser");
    let out = child.wait_with_output().expect("the parser exits");
    assert!(
        out.status.success(),
        "prometheus_client.parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    let as_str = |v: &Value| v.as_str().unwrap_or_default().to_string();
    doc.as_array()
        .expect("a list of families")
        .iter()
        .map(|f| Family {
            name: as_str(&f["name"]),
            kind: as_str(&f["type"]),
            help: as_str(&f["help"]),
            samples: f["samples"]
                .as_array()
                .expect("samples")
                .iter()
                .map(|s| Sample {
                    name: as_str(&s["name"]),
                    labels: s["labels"]
                        .as_object()
                        .expect("labels")
                        .iter()
                        .map(|(k, v)| (k.clone(), as_str(v)))
                        .collect(),
                    value: s["value"].as_f64().expect("a numeric value"),
                })
                .collect(),
        })
        .collect()
}

/// `GET /metrics` on a fresh connection to `admin`, parsed; panics if it is not a 200.
#[track_caller]
pub fn scrape(admin: SocketAddr) -> Scrape {
    let mut conn = RawConn::connect(admin);
    conn.send(b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").expect("send GET /metrics");
    let resp = conn.read_response(false).expect("a /metrics response");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.complete, "{resp:?}");
    let text = String::from_utf8(resp.body.clone()).expect("/metrics is UTF-8");
    let families = parse(&text);
    Scrape { content_type: resp.header("content-type").unwrap_or_default().to_string(), text, families }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Every breach of the exposition format's rules and Prometheus's naming conventions in
/// `scrape`, one line each (empty: none). Checked on the raw `# TYPE` lines as well as on
/// the parsed families, since the parser quietly adds `_total` to a counter's samples.
pub fn convention_breaches(scrape: &Scrape) -> Vec<String> {
    let mut bad = Vec::new();
    let mut declared = BTreeSet::new();
    for line in scrape.text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, kind) = (words.get(2).copied().unwrap_or(""), words.get(3).copied().unwrap_or(""));
        if !declared.insert(name.to_string()) {
            bad.push(format!("{name}: declared twice"));
        }
        match kind {
            "counter" if !name.ends_with("_total") => bad.push(format!("counter {name} does not end in _total")),
            "gauge" | "histogram" if name.ends_with("_total") => bad.push(format!("{kind} {name} ends in _total")),
            "counter" | "gauge" | "histogram" => {}
            other => bad.push(format!("{name}: unexpected type {other:?}")),
        }
    }
    let mut series = BTreeSet::new();
    for f in &scrape.families {
        let n = &f.name;
        if f.kind == "untyped" || f.kind == "unknown" {
            bad.push(format!("{n}: a sample outside its # TYPE family"));
        }
        if f.help.is_empty() {
            bad.push(format!("{n}: no # HELP"));
        }
        if !valid_name(n) || !n.starts_with("plugin_host_") {
            bad.push(format!("{n}: not a plugin_host_ metric name"));
        }
        for unit in ["_ms", "millis", "_us", "micro", "_kb", "kilo", "_mb", "mega", "percent"] {
            if n.contains(unit) {
                bad.push(format!("{n}: not in a base unit (seconds, bytes, ratios)"));
            }
        }
        if n.contains("bytes") && !n.ends_with("_bytes") {
            bad.push(format!("{n}: a byte count whose name does not end in the unit _bytes"));
        }
        if (n.contains("duration") || n.contains("latency")) && !n.ends_with("_seconds") {
            bad.push(format!("{n}: a duration whose name does not end in the unit _seconds"));
        }
        for s in &f.samples {
            if !series.insert((s.name.clone(), s.labels.clone())) {
                bad.push(format!("{}{:?}: duplicate series", s.name, s.labels));
            }
            for label in s.labels.keys() {
                if !valid_name(label) || label.contains(':') || label.starts_with("__") {
                    bad.push(format!("{}: bad label name {label:?}", s.name));
                }
            }
            if s.value < 0.0 || !s.value.is_finite() {
                bad.push(format!("{}{:?}: value {}", s.name, s.labels, s.value));
            }
        }
        if f.kind == "histogram" {
            bad.extend(histogram_breaches(f));
        }
    }
    bad
}

/// Buckets in ascending `le` order ending in `+Inf`, cumulative, and `_count` equal to `+Inf`.
fn histogram_breaches(f: &Family) -> Vec<String> {
    let mut bad = Vec::new();
    let buckets: Vec<&Sample> = f.samples.iter().filter(|s| s.name.ends_with("_bucket")).collect();
    let bounds: Vec<f64> =
        buckets.iter().map(|s| s.labels.get("le").and_then(|le| le.parse().ok()).unwrap_or(f64::NAN)).collect();
    if bounds.last() != Some(&f64::INFINITY) {
        bad.push(format!("{}: the last bucket is not le=\"+Inf\"", f.name));
    }
    if bounds.windows(2).any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less)) {
        bad.push(format!("{}: bucket bounds not strictly ascending: {bounds:?}", f.name));
    }
    if buckets.windows(2).any(|w| w[0].value > w[1].value) {
        bad.push(format!("{}: bucket counts not cumulative", f.name));
    }
    let count = f.samples.iter().find(|s| s.name.ends_with("_count")).map(|s| s.value);
    if count != buckets.last().map(|s| s.value) {
        bad.push(format!("{}: _count {count:?} is not the +Inf bucket", f.name));
    }
    if !f.samples.iter().any(|s| s.name.ends_with("_sum")) {
        bad.push(format!("{}: no _sum", f.name));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaches(text: &str) -> Vec<String> {
        let scrape = Scrape { content_type: String::new(), text: text.to_string(), families: parse(text) };
        convention_breaches(&scrape)
    }

    #[test]
    fn the_checks_catch_what_the_lax_parser_lets_through() {
        let good =
            "# HELP plugin_host_x_total X.\n# TYPE plugin_host_x_total counter\nplugin_host_x_total{a=\"1\"} 2\n";
        assert_eq!(breaches(good), Vec::<String>::new());
        let bad = breaches(
            "# HELP plugin_host_x X.\n# TYPE plugin_host_x counter\nplugin_host_x 1\n\
             # HELP plugin_host_size_kb S.\n# TYPE plugin_host_size_kb gauge\nplugin_host_size_kb 1\n\
             plugin_host_stray 3\n",
        );
        let all = bad.join("\n");
        assert!(all.contains("counter plugin_host_x does not end in _total"), "{all}");
        assert!(all.contains("plugin_host_size_kb: not in a base unit"), "{all}");
        assert!(all.contains("plugin_host_stray: a sample outside its # TYPE family"), "{all}");
        let hist = "# HELP plugin_host_d_seconds D.\n# TYPE plugin_host_d_seconds histogram\n\
                    plugin_host_d_seconds_bucket{le=\"1\"} 3\nplugin_host_d_seconds_bucket{le=\"+Inf\"} 2\n\
                    plugin_host_d_seconds_sum 1\nplugin_host_d_seconds_count 2\n";
        assert!(breaches(hist).join("\n").contains("not cumulative"), "{:?}", breaches(hist));
    }
}
