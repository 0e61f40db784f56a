//! Prometheus metrics: what `GET /metrics` on the admin endpoint shows, in
//! the text exposition format (version 0.0.4).
//!
//! Two kinds of numbers:
//!
//! - Per-transaction numbers (status class, bytes, origin connections
//!   opened or reused, the latency histogram) are recorded by the worker
//!   that ran the transaction into its own [`WorkerMetrics`]: one relaxed
//!   atomic add per number, no lock, no cache line shared with another
//!   worker. Each worker registers its block once in the process-wide
//!   [`Metrics`] list; a scrape sums the blocks. Blocks are never removed,
//!   so a counter never goes backwards.
//! - Everything else is read at scrape time from where it already lives:
//!   open connections and live transactions, the current generation and
//!   its plugins' counters, what reloads did.
//!
//! Per-plugin series are those of the current generation's modules,
//! labelled by plugin name and `plugin.config` line; a reload starts them
//! from zero (a counter reset, which `rate()` handles).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::origin::ORIGIN_CONNECTIONS;
use crate::shared::Shared;
use crate::transform::live_counts;
use crate::txn::LIVE_TRANSACTIONS;

/// Upper bounds of the latency histogram's buckets, in seconds (fixed: a
/// histogram's buckets must not change between scrapes).
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// Status classes, indexed by `status / 100 - 1`; the last is "no response".
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// One worker's per-transaction numbers. Only its worker writes them; the
/// alignment keeps two workers' blocks off each other's cache lines (128:
/// the pair of lines adjacent-line prefetch pulls in).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerMetrics {
    by_class: [AtomicU64; CLASSES.len()],
    received_bytes: AtomicU64,
    sent_bytes: AtomicU64,
    origin_opened: AtomicU64,
    origin_reused: AtomicU64,
    spliced_bytes: AtomicU64,
    /// Non-cumulative counts, one per bucket plus the +Inf overflow: one add
    /// per observation; the scrape accumulates them.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl WorkerMetrics {
    /// A transaction ended with `status` (0: nothing was sent), having read
    /// `received` bytes from the client and written `sent`; `took` is its
    /// duration, `None` for a request refused before a transaction started.
    pub fn transaction(&self, status: u16, received: u64, sent: u64, took: Option<Duration>) {
        let class = match status {
            100..=599 => usize::from(status / 100 - 1),
            _ => CLASSES.len() - 1,
        };
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        self.received_bytes.fetch_add(received, Ordering::Relaxed);
        self.sent_bytes.fetch_add(sent, Ordering::Relaxed);
        if let Some(took) = took {
            let seconds = took.as_secs_f64();
            let bucket = LATENCY_BUCKETS.iter().position(|&le| seconds <= le).unwrap_or(LATENCY_BUCKETS.len());
            self.latency[bucket].fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// A new origin connection was opened.
    pub fn origin_opened(&self) {
        self.origin_opened.fetch_add(1, Ordering::Relaxed);
    }

    /// A pooled origin connection was taken for a request.
    pub fn origin_reused(&self) {
        self.origin_reused.fetch_add(1, Ordering::Relaxed);
    }

    /// A transaction ended having spliced `n` body bytes to its client (part of its `sent`).
    pub fn spliced(&self, n: u64) {
        self.spliced_bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// Every worker's [`WorkerMetrics`], summed at scrape time.
#[derive(Debug, Default)]
pub struct Metrics {
    workers: Mutex<Vec<Arc<WorkerMetrics>>>,
}

/// The workers' numbers added up at one scrape.
#[derive(Debug, Default, Clone, PartialEq)]
struct Totals {
    by_class: [u64; CLASSES.len()],
    received_bytes: u64,
    sent_bytes: u64,
    origin_opened: u64,
    origin_reused: u64,
    spliced_bytes: u64,
    latency: [u64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: u64,
}

impl Metrics {
    /// A block for a new worker, registered for scrapes (once per worker, at start).
    pub fn register_worker(&self) -> Arc<WorkerMetrics> {
        let block = Arc::new(WorkerMetrics::default());
        self.workers.lock().push(block.clone());
        block
    }

    fn totals(&self) -> Totals {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut t = Totals::default();
        for w in self.workers.lock().iter() {
            for (sum, a) in t.by_class.iter_mut().zip(&w.by_class) {
                *sum += get(a);
            }
            for (sum, a) in t.latency.iter_mut().zip(&w.latency) {
                *sum += get(a);
            }
            t.received_bytes += get(&w.received_bytes);
            t.sent_bytes += get(&w.sent_bytes);
            t.origin_opened += get(&w.origin_opened);
            t.origin_reused += get(&w.origin_reused);
            t.spliced_bytes += get(&w.spliced_bytes);
            t.latency_sum_micros += get(&w.latency_sum_micros);
        }
        t
    }
}

/// Writes families in the text format: `# HELP`, `# TYPE`, then samples.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                let _ = write!(self.0, "{}{k}=\"{}\"", if i == 0 { "" } else { "," }, escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Label values escape backslash, double quote and line feed (the format's rule).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The `/metrics` document.
pub fn render(shared: &Shared) -> String {
    let t = shared.metrics.totals();
    let mut e = Exposition(String::with_capacity(8 * 1024));
    let name = "plugin_host_transactions_total";
    e.family(name, "counter", "Transactions answered, by status class (none: the client got no response).");
    for (class, n) in CLASSES.iter().zip(t.by_class) {
        e.sample(name, &[("class", class)], n);
    }
    let help = "Bytes read from clients (heads and bodies), counted when each transaction ends.";
    e.single("plugin_host_client_received_bytes_total", "counter", help, t.received_bytes);
    let help = "Bytes written to clients (heads and bodies), counted when each transaction ends.";
    e.single("plugin_host_client_sent_bytes_total", "counter", help, t.sent_bytes);
    let help =
        "Of the bytes written to clients, those moved with splice(2) (--splice), counted when each transaction ends.";
    e.single("plugin_host_client_spliced_bytes_total", "counter", help, t.spliced_bytes);
    let open = shared.connections.load(Ordering::Relaxed);
    e.single("plugin_host_client_connections", "gauge", "Client connections open now.", open);
    let open = ORIGIN_CONNECTIONS.load(Ordering::Relaxed);
    e.single("plugin_host_origin_connections", "gauge", "Origin connections open now, in use or pooled.", open);
    let help = "Origin connections opened.";
    e.single("plugin_host_origin_connections_opened_total", "counter", help, t.origin_opened);
    let help = "Requests sent on a pooled (kept-alive) origin connection instead of a new one.";
    e.single("plugin_host_origin_connections_reused_total", "counter", help, t.origin_reused);
    let live = LIVE_TRANSACTIONS.load(Ordering::Relaxed);
    e.single("plugin_host_transactions_in_flight", "gauge", "Transactions running now.", live);
    let (transforms, buffers) = live_counts();
    e.single("plugin_host_transforms_live", "gauge", "Transform instances alive now.", transforms);
    e.single("plugin_host_buffers_live", "gauge", "IO buffers of transform chains alive now.", buffers);
    latency(&mut e, &t);
    reloads(&mut e, shared);
    plugins(&mut e, shared);
    e.0
}

fn latency(e: &mut Exposition, t: &Totals) {
    let name = "plugin_host_transaction_duration_seconds";
    e.family(name, "histogram", "Time from a request head to the end of its transaction.");
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    for (le, n) in LATENCY_BUCKETS.iter().zip(t.latency) {
        cumulative += n;
        e.sample(&bucket, &[("le", &le.to_string())], cumulative);
    }
    // The overflow bucket; the count is the same sum, so the two always agree.
    cumulative += t.latency[LATENCY_BUCKETS.len()];
    e.sample(&bucket, &[("le", "+Inf")], cumulative);
    e.sample(&format!("{name}_sum"), &[], t.latency_sum_micros as f64 / 1e6);
    e.sample(&format!("{name}_count"), &[], cumulative);
}

fn reloads(e: &mut Exposition, shared: &Shared) {
    let name = "plugin_host_reloads_total";
    e.family(name, "counter", "Reloads of plugin.config, by outcome (failed: nothing changed).");
    e.sample(name, &[("outcome", "succeeded")], shared.reloads.succeeded.load(Ordering::Relaxed));
    e.sample(name, &[("outcome", "failed")], shared.reloads.failed.load(Ordering::Relaxed));
    let help = "The number of the generation new transactions start on (1 at start, one more per reload).";
    e.single("plugin_host_generation", "gauge", help, shared.generation().number());
    let help = "Generations alive: the current one and old ones still finishing transactions.";
    e.single("plugin_host_generations_live", "gauge", help, shared.live_generations().len());
    e.single("plugin_host_plugin_images", "gauge", "Plugin library images mapped.", shared.plugin_images());
}

fn plugins(e: &mut Exposition, shared: &Shared) {
    let generation = shared.generation();
    let modules = generation.modules();
    let lines: Vec<String> =
        modules.iter().map(|m| m.config_line().map_or_else(String::new, |l| l.to_string())).collect();
    let snapshots: Vec<_> = modules.iter().map(|m| m.snapshot()).collect();
    type Field = fn(&crate::plugins::StatsSnapshot) -> u64;
    let families: [(&str, &str, Field); 6] = [
        ("plugin_host_plugin_transactions_total", "Transactions whose hooks ran this plugin.", |s| s.transactions),
        ("plugin_host_plugin_received_bytes_total", "Body bytes into this plugin's transforms.", |s| s.bytes_in),
        ("plugin_host_plugin_sent_bytes_total", "Body bytes out of this plugin's transforms.", |s| s.bytes_out),
        ("plugin_host_plugin_aborts_total", "Chains with this plugin torn down before the body ended.", |s| s.aborts),
        ("plugin_host_plugin_panics_total", "Panics caught in this plugin.", |s| s.panics),
        ("plugin_host_plugin_protocol_errors_total", "VIO protocol errors and stalls charged to this plugin.", |s| {
            s.protocol_errors
        }),
    ];
    for (name, help, field) in families {
        e.family(name, "counter", help);
        for (s, line) in snapshots.iter().zip(&lines) {
            e.sample(name, &[("plugin", &s.name), ("line", line)], field(s));
        }
    }
    let name = "plugin_host_plugin_counter_total";
    e.family(name, "counter", "The plugin's own named counters (plugin-sdk Counter).");
    for (m, line) in modules.iter().zip(&lines) {
        for (counter, value) in m.plugin_counters() {
            e.sample(name, &[("plugin", m.name()), ("line", line), ("counter", &counter)], value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn workers_are_summed_and_buckets_accumulate() {
        let m = Metrics::default();
        let (a, b) = (m.register_worker(), m.register_worker());
        a.transaction(200, 10, 100, Some(Duration::from_micros(300)));
        b.transaction(404, 1, 2, Some(Duration::from_millis(30)));
        b.transaction(0, 5, 0, Some(Duration::from_secs(100)));
        a.transaction(400, 7, 8, None);
        b.origin_opened();
        a.origin_reused();
        let t = m.totals();
        assert_eq!(t.by_class, [0, 1, 0, 2, 0, 1]);
        assert_eq!((t.received_bytes, t.sent_bytes), (23, 110));
        assert_eq!((t.origin_opened, t.origin_reused), (1, 1));
        // 300 us in the first bucket, 30 ms in (0.025, 0.05], 100 s past the last bound.
        let mut want = [0u64; LATENCY_BUCKETS.len() + 1];
        want[0] = 1;
        want[6] = 1;
        want[LATENCY_BUCKETS.len()] = 1;
        assert_eq!(t.latency, want);
        assert_eq!(t.latency_sum_micros, 300 + 30_000 + 100_000_000);
    }
}
