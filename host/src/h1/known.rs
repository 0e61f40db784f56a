//! Tags for the field names the proxy looks up itself in every message
//! (framing, connection, Host, ...): see [`super::head::Headers`], whose
//! fields each carry the tag of their name. Any other name is [`OTHER`].

/// Any name without a tag of its own.
pub const OTHER: u8 = 0;
pub const CONNECTION: u8 = 1;
pub const KEEP_ALIVE: u8 = 2;
pub const TE: u8 = 3;
pub const TRAILER: u8 = 4;
pub const TRANSFER_ENCODING: u8 = 5;
pub const UPGRADE: u8 = 6;
pub const PROXY_CONNECTION: u8 = 7;
pub const CONTENT_LENGTH: u8 = 8;
pub const HOST: u8 = 9;
pub const EXPECT: u8 = 10;
pub const DATE: u8 = 11;
pub const X_FORWARDED_FOR: u8 = 12;

/// The tag of `name` (any case).
///
/// Always inlined: for the literal names of the proxy's own lookups the
/// whole classification folds away at compile time.
#[inline(always)]
pub fn of(name: &[u8]) -> u8 {
    let Some((candidate, tag)) = candidate(name) else { return OTHER };
    // A plain loop rather than `eq_ignore_ascii_case`, which the
    // compiler leaves as a call even for two literals.
    let same = name.iter().zip(candidate).all(|(a, b)| a.to_ascii_lowercase() == *b);
    if same {
        tag
    } else {
        OTHER
    }
}

/// [`of`] for a name the parser found to be a token (RFC 9110 section
/// 5.6.2), compared a word at a time: it runs on every received field.
///
/// Setting bit 5 of a token character gives a lower-case letter or `-`
/// only for that letter in either case or for `-` itself (CR would give
/// `-`, but is no token character), so one OR lowers the name.
pub fn of_token(name: &[u8]) -> u8 {
    let Some((candidate, tag)) = candidate(name) else { return OTHER };
    let n = name.len();
    let same = if n >= 8 {
        let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
        const LOWER: u64 = 0x2020_2020_2020_2020;
        // Two words cover up to 16 bytes; Transfer-Encoding has 17.
        let middle = if n > 16 { 8 } else { 0 };
        word(name, 0) | LOWER == word(candidate, 0)
            && word(name, middle) | LOWER == word(candidate, middle)
            && word(name, n - 8) | LOWER == word(candidate, n - 8)
    } else if n >= 4 {
        let word = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
        const LOWER: u32 = 0x2020_2020;
        word(name, 0) | LOWER == word(candidate, 0) && word(name, n - 4) | LOWER == word(candidate, n - 4)
    } else {
        name.iter().zip(candidate).all(|(a, b)| a | 0x20 == *b)
    };
    if same {
        tag
    } else {
        OTHER
    }
}

/// The one tagged name `name` may be, by its length and first letter.
#[inline(always)]
fn candidate(name: &[u8]) -> Option<(&'static [u8], u8)> {
    let first = name.first().map_or(0, |b| b | 0x20);
    Some(match (name.len(), first) {
        (2, b't') => (b"te", TE),
        (4, b'h') => (b"host", HOST),
        (4, b'd') => (b"date", DATE),
        (6, b'e') => (b"expect", EXPECT),
        (7, b't') => (b"trailer", TRAILER),
        (7, b'u') => (b"upgrade", UPGRADE),
        (10, b'c') => (b"connection", CONNECTION),
        (10, b'k') => (b"keep-alive", KEEP_ALIVE),
        (14, b'c') => (b"content-length", CONTENT_LENGTH),
        (15, b'x') => (b"x-forwarded-for", X_FORWARDED_FOR),
        (16, b'p') => (b"proxy-connection", PROXY_CONNECTION),
        (17, b't') => (b"transfer-encoding", TRANSFER_ENCODING),
        _ => return None,
    })
}

/// The bit of `tag` in a [`super::head::Headers`]' set of tags.
#[inline]
pub const fn bit(tag: u8) -> u32 {
    1 << tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_names_are_found_in_any_case_and_near_misses_are_not() {
        assert_eq!(of(b"Content-Length"), CONTENT_LENGTH);
        assert_eq!(of(b"TRANSFER-ENCODING"), TRANSFER_ENCODING);
        for near in [&b"content-lengtx"[..], b"hosts", b"", b"t", b"ta", b"x-forwarded-fox", b"Content_Length"] {
            assert_eq!(of(near), OTHER, "{near:?}");
            assert_eq!(of_token(near), OTHER, "{near:?}");
        }
        // Every tagged name, in mixed case, and one byte off at each place.
        for name in [&b"te"[..], b"host", b"date", b"expect", b"trailer", b"upgrade", b"connection", b"keep-alive"]
            .into_iter()
            .chain([&b"content-length"[..], b"x-forwarded-for", b"proxy-connection", b"transfer-encoding"])
        {
            let tag = of(name);
            assert_ne!(tag, OTHER);
            let upper: Vec<u8> =
                name.iter().enumerate().map(|(i, b)| if i % 2 == 0 { b.to_ascii_uppercase() } else { *b }).collect();
            assert_eq!((of(&upper), of_token(&upper)), (tag, tag));
            for i in 0..name.len() {
                let mut off = upper.clone();
                off[i] = if off[i] == b'-' { b'_' } else { b'-' };
                assert_eq!(of_token(&off), of(&off), "{:?}", String::from_utf8_lossy(&off));
                assert_eq!(of(&off), OTHER);
            }
        }
    }
}
