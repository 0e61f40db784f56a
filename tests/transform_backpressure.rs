//! Backpressure through a chain: a slow client reading a large response through 5 null
//! transforms slows the origin read instead of growing the host's memory.
//!
//! Size and pace come from the environment so the long run can be done by hand:
//! `BACKPRESSURE_BYTES` (default 64M) and `BACKPRESSURE_RATE` in bytes per second (default
//! 8M), both with an optional K, M or G suffix (powers of 1024). The full check is
//! `BACKPRESSURE_BYTES=1G BACKPRESSURE_RATE=1M cargo test -p e2e --test transform_backpressure -- --nocapture`
//! (about 17 minutes).

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use e2e::cycle::CycleChecker;
use e2e::memory::RssSampler;
use e2e::{get_request, null_chain, HostBuilder, Origin, PluginHost, RawConn};

/// The host's resident memory must stay below this for the whole transfer, whatever its size.
const MAX_RSS: u64 = 64 * 1024 * 1024;
/// How far the origin may run ahead of the client: kernel socket buffers on both legs plus
/// the host's bounded buffers. A host that buffered the body would exceed it.
const MAX_AHEAD: u64 = 32 * 1024 * 1024;
/// Client reads are at most this large, so the pace is smooth.
const READ_PIECE: usize = 64 * 1024;
/// Interval between RSS samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Reads a size such as `1G`, `64M`, `512K` or `1000` from `var`, else `default`.
fn env_size(var: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(var) else { return default };
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_uppercase()),
        _ => (text, ' '),
    };
    let scale: u64 = match unit {
        ' ' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        _ => panic!("{var}={text:?}: expected a number with an optional K, M or G suffix"),
    };
    let n: u64 = digits.trim().parse().unwrap_or_else(|e| panic!("{var}={text:?}: {e}"));
    assert!(n > 0, "{var} must be positive");
    n.checked_mul(scale).unwrap_or_else(|| panic!("{var}={text:?} overflows"))
}

#[test]
fn slow_client_through_5_null_transforms_keeps_host_memory_bounded() {
    let total = env_size("BACKPRESSURE_BYTES", 64 << 20);
    let rate = env_size("BACKPRESSURE_RATE", 8 << 20);
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &null_chain(5, Some("response")));
    let baseline = e2e::memory::rss_bytes(host.pid()).unwrap_or(0);
    let sampler = RssSampler::start(host.pid(), SAMPLE_EVERY);

    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/cycle?n={total}&seed=77&framing=length"))).expect("send");
    let head = conn.read_response_head().expect("response head");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(total.to_string().as_str()), "{:?}", head.headers);

    let mut checker = CycleChecker::new(77);
    let mut buf = vec![0u8; READ_PIECE];
    let (mut max_ahead, mut written_at_quarter) = (0u64, None);
    let start = Instant::now();
    // Bounded by `total`: each pass reads at least one byte, or fails (read timeout, EOF).
    while checker.offset() < total {
        let want = usize::try_from(total - checker.offset()).map_or(READ_PIECE, |left| left.min(READ_PIECE));
        let n = conn.reader().read(&mut buf[..want]).unwrap_or_else(|e| {
            panic!("read after {} of {total} bytes: {e}; host logs:\n{}", checker.offset(), host.logs())
        });
        assert!(n > 0, "EOF after {} of {total} bytes", checker.offset());
        checker.feed(&buf[..n]).unwrap_or_else(|e| panic!("{e}"));
        let got = checker.offset();
        max_ahead = max_ahead.max(origin.bytes_written().saturating_sub(got));
        if got >= total / 4 && written_at_quarter.is_none() {
            written_at_quarter = Some(origin.bytes_written());
        }
        // Keep to the pace: sleep until the time at which `got` bytes are due.
        let due = Duration::from_secs_f64(got as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
    }
    let (max_rss, samples) = sampler.finish();
    let written_at_quarter = written_at_quarter.unwrap_or(0);
    eprintln!(
        "backpressure: {total} bytes at {rate} B/s in {:.1} s through 5 null transforms; host RSS max {:.1} MiB \
         ({samples} samples, {:.1} MiB at start); origin at most {:.1} MiB ahead of the client, {:.1} MiB written \
         when the client had read a quarter",
        start.elapsed().as_secs_f64(),
        mib(max_rss),
        mib(baseline),
        mib(max_ahead),
        mib(written_at_quarter),
    );
    assert!(samples > 0, "no RSS sample of pid {} was taken", host.pid());
    assert!(max_rss < MAX_RSS, "host RSS reached {:.1} MiB (limit {:.0} MiB)", mib(max_rss), mib(MAX_RSS));
    assert!(
        max_ahead < MAX_AHEAD,
        "the origin ran {:.1} MiB ahead of a slow client (limit {:.0} MiB): the host is not applying backpressure",
        mib(max_ahead),
        mib(MAX_AHEAD)
    );
    assert!(
        written_at_quarter < total / 4 + MAX_AHEAD,
        "the origin had written {written_at_quarter} of {total} bytes when the client had read a quarter"
    );
    let stats = host.wait_idle();
    let bytes: Vec<u64> = stats.plugins.iter().map(|p| p.bytes_out).collect();
    assert_eq!(bytes, vec![total; 5], "bytes out of each transform");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
