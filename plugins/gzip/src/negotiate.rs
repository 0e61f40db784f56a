//! Content codings and the Accept-Encoding negotiation (RFC 9110 section
//! 12.5.3).
//!
//! The client lists codings with optional weights (`gzip;q=0.8, br`); a
//! weight of 0 refuses a coding, `*` stands for every coding not listed,
//! names compare case-insensitively and `x-gzip` is gzip (section 8.4.1.3).
//! Among the codings this host supports and the client accepts, the highest
//! weight wins; ties go to the one listed first in `supported-algorithms`.
//! Anything malformed is skipped element by element: a bad header can make
//! the response go out uncompressed, never fail.

/// A content coding this plugin can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: the zlib format (RFC 1950), as HTTP defines it.
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Coding {
    /// Every coding, in the order counters are listed.
    pub const ALL: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd];

    /// The coding's name in Content-Encoding and in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// The coding a config or header token names (case-insensitive;
    /// `x-gzip` is gzip).
    pub fn from_name(name: &str) -> Option<Coding> {
        let name = name.trim();
        Coding::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name)).or_else(|| {
            // RFC 9110 section 8.4.1.3: a recipient SHOULD treat x-gzip as gzip.
            name.eq_ignore_ascii_case("x-gzip").then_some(Coding::Gzip)
        })
    }
}

/// A weight in thousandths, as RFC 9110 section 12.4.2 defines it (0 to 1
/// with at most three decimals); `None` for anything else.
fn parse_qvalue(text: &str) -> Option<u16> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    (thousandths <= 1000).then_some(thousandths)
}

/// One element of the list: a coding name (or `*`) and its weight.
fn parse_element(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (key, value) = param.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            q = parse_qvalue(value)?;
        }
    }
    Some((name, q))
}

/// The weight the client gives each coding it names, `*` included. The
/// first mention of a coding counts (as in nginx); later ones are ignored.
fn weights<'v>(values: impl IntoIterator<Item = &'v [u8]>) -> (Vec<(Coding, u16)>, Option<u16>) {
    let mut listed: Vec<(Coding, u16)> = Vec::new();
    let mut star = None;
    for value in values {
        // Non-UTF-8 bytes cannot spell a coding: skip the whole field value.
        let Ok(value) = std::str::from_utf8(value) else { continue };
        for (name, q) in value.split(',').filter_map(parse_element) {
            if name == "*" {
                star.get_or_insert(q);
            } else if let Some(coding) = Coding::from_name(name) {
                if !listed.iter().any(|(c, _)| *c == coding) {
                    listed.push((coding, q));
                }
            }
        }
    }
    (listed, star)
}

/// The coding to use for a client that sent these Accept-Encoding field
/// values, among `supported` (in preference order); `None`: send identity.
///
/// ```
/// use plugin_gzip::negotiate::{choose, Coding};
/// let supported = [Coding::Brotli, Coding::Gzip];
/// assert_eq!(choose([&b"gzip, br;q=0.5"[..]], &supported), Some(Coding::Gzip));
/// assert_eq!(choose([&b"gzip, br"[..]], &supported), Some(Coding::Brotli));
/// assert_eq!(choose([&b"*;q=0"[..]], &supported), None);
/// ```
pub fn choose<'v>(values: impl IntoIterator<Item = &'v [u8]>, supported: &[Coding]) -> Option<Coding> {
    let (listed, star) = weights(values);
    let weight = |coding: Coding| listed.iter().find(|(c, _)| *c == coding).map(|(_, q)| *q).or(star).unwrap_or(0);
    let mut best: Option<(Coding, u16)> = None;
    for &coding in supported {
        let q = weight(coding);
        // Strictly greater: an equal weight keeps the earlier supported coding.
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Coding; 4] = [Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Deflate];

    fn pick(header: &str, supported: &[Coding]) -> Option<Coding> {
        choose([header.as_bytes()], supported)
    }

    #[test]
    fn weights_decide_and_ties_follow_the_supported_order() {
        assert_eq!(pick("gzip", &ALL), Some(Coding::Gzip));
        assert_eq!(pick("gzip, deflate, br, zstd", &ALL), Some(Coding::Zstd));
        assert_eq!(pick("gzip;q=1.0, br;q=0.9", &ALL), Some(Coding::Gzip));
        assert_eq!(pick("deflate;q=0.5, gzip;q=0.501", &ALL), Some(Coding::Gzip));
        assert_eq!(pick("br, gzip", &[Coding::Gzip, Coding::Brotli]), Some(Coding::Gzip));
    }

    #[test]
    fn zero_refuses_and_star_fills_in() {
        assert_eq!(pick("gzip;q=0", &ALL), None);
        assert_eq!(pick("gzip;q=0.000", &ALL), None);
        assert_eq!(pick("*", &[Coding::Gzip]), Some(Coding::Gzip));
        assert_eq!(pick("*;q=0.5, gzip;q=0", &[Coding::Gzip, Coding::Brotli]), Some(Coding::Brotli));
        assert_eq!(pick("*;q=0", &ALL), None);
        assert_eq!(pick("identity", &ALL), None);
        assert_eq!(pick("", &ALL), None);
        assert_eq!(pick("br", &[Coding::Gzip]), None);
    }

    #[test]
    fn names_are_case_insensitive_and_x_gzip_is_gzip() {
        assert_eq!(pick("GZIP", &ALL), Some(Coding::Gzip));
        assert_eq!(pick("X-Gzip", &ALL), Some(Coding::Gzip));
        assert_eq!(pick(" Br ; Q=0.3 ", &ALL), Some(Coding::Brotli));
    }

    #[test]
    fn several_fields_are_one_list_and_the_first_mention_counts() {
        let fields: [&[u8]; 2] = [b"gzip;q=0.2", b"br;q=0.9, gzip"];
        assert_eq!(choose(fields, &ALL), Some(Coding::Brotli));
    }

    #[test]
    fn garbage_is_skipped_not_fatal() {
        for header in ["gzip;q=2", "gzip;q=-1", "gzip;q=0.1234", "gzip;q=", "gzip;q", ";;,,", "\u{1F600}", "q=1"] {
            assert_eq!(pick(header, &ALL), None, "{header:?}");
        }
        assert_eq!(pick("gzip;q=abc, br", &ALL), Some(Coding::Brotli));
        assert_eq!(choose([&[0xff, b'g'][..], b"gzip"], &ALL), Some(Coding::Gzip));
        assert_eq!(pick("gzip;level=9", &ALL), Some(Coding::Gzip));
    }

    #[test]
    fn random_bytes_never_panic_and_only_pick_supported_codings() {
        let alphabet = b"gzipbrzstdx-*;q=0.15, \t\xff\x00";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut header = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                header.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            if let Some(c) = choose([&header[..]], &[Coding::Gzip, Coding::Zstd]) {
                assert!(matches!(c, Coding::Gzip | Coding::Zstd), "{header:?}");
            }
        }
    }

    #[test]
    fn qvalues_parse_exactly() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue(".5"), None);
    }
}
