//! The plugin's counters, reported by the host under the plugin's entry in
//! `/stats`: responses compressed per coding, skipped per reason, bytes in
//! and out.

use plugin_sdk::Counter;

use crate::negotiate::Coding;

/// Why a response went out uncompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The media type is not listed, or there is no Content-Type.
    Type,
    /// The declared length is under `minimum-content-length`, or 0.
    Size,
    /// The status is not listed, or the response has no body (204, 304, 1xx).
    Status,
    /// The origin already sent a Content-Encoding.
    Encoded,
    /// `Cache-Control: no-transform` on the request or the response.
    NoTransform,
    /// The range rules: a 206, a Content-Range, or a Range request.
    Range,
    /// The client accepts none of the supported codings.
    NotAccepted,
    /// `enabled false`, or the URL is not allowed.
    Disabled,
}

impl Skip {
    /// Every reason, in counter order.
    pub const ALL: [Skip; 8] = [
        Skip::Type,
        Skip::Size,
        Skip::Status,
        Skip::Encoded,
        Skip::NoTransform,
        Skip::Range,
        Skip::NotAccepted,
        Skip::Disabled,
    ];

    fn counter_name(self) -> &'static str {
        match self {
            Skip::Type => "skipped_type",
            Skip::Size => "skipped_size",
            Skip::Status => "skipped_status",
            Skip::Encoded => "skipped_encoded",
            Skip::NoTransform => "skipped_no_transform",
            Skip::Range => "skipped_range",
            Skip::NotAccepted => "skipped_not_accepted",
            Skip::Disabled => "skipped_disabled",
        }
    }
}

/// Every counter of the plugin.
#[derive(Debug, Clone)]
pub struct Stats {
    compressed: [Counter; 4],
    skipped: [Counter; 8],
    /// Body bytes that went into a compressor.
    pub bytes_in: Counter,
    /// Compressed bytes that came out.
    pub bytes_out: Counter,
}

impl Stats {
    /// Registers every counter; call it from `Plugin::init`, where the host
    /// collects them.
    pub fn register() -> Stats {
        Stats {
            compressed: Coding::ALL.map(|c| {
                Counter::register(match c {
                    Coding::Gzip => "compressed_gzip",
                    Coding::Deflate => "compressed_deflate",
                    Coding::Brotli => "compressed_br",
                    Coding::Zstd => "compressed_zstd",
                })
            }),
            skipped: Skip::ALL.map(|s| Counter::register(s.counter_name())),
            bytes_in: Counter::register("bytes_in"),
            bytes_out: Counter::register("bytes_out"),
        }
    }

    /// The counter of responses compressed with `coding`.
    pub fn compressed(&self, coding: Coding) -> &Counter {
        let i = Coding::ALL.iter().position(|c| *c == coding).unwrap_or(0);
        &self.compressed[i]
    }

    /// The counter of responses skipped for `why`.
    pub fn skipped(&self, why: Skip) -> &Counter {
        let i = Skip::ALL.iter().position(|s| *s == why).unwrap_or(0);
        &self.skipped[i]
    }
}
