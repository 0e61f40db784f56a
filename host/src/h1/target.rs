//! The absolute-form request target (RFC 9112 section 3.2.2), split by the
//! generic URI syntax of RFC 3986 section 3 in one place: [`split_absolute`].
//! The parser uses it to judge a target, the proxy to rewrite one to the
//! origin-form and Host the origin sees, so the two can never disagree.
//!
//! ```text
//! absolute-URI = scheme ":" "//" authority path-abempty [ "?" query ] [ "#" fragment ]
//! authority    = [ userinfo "@" ] host [ ":" port ]
//! ```
//!
//! The authority ends at the first `/`, `?` or `#` (RFC 3986 section 3.2),
//! so `http://good?/admin` is host `good` and path `/?/admin`, never host
//! `good?`. Userinfo is refused: RFC 9110 section 4.2.4 forbids it in http
//! and https URIs, and `http://evil@good/` is a classic confusion trick.
//! A fragment is never part of a request (RFC 9110 section 7.1): it is
//! dropped, not forwarded as part of the path, from every target form
//! ([`without_fragment`]).

/// An absolute-form target split into what the origin is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absolute<'t> {
    /// `host` or `host:port`, exactly as written; becomes the Host field.
    pub authority: &'t str,
    /// The origin-form target: the path (`/` if empty) and the query if any.
    pub origin_form: String,
}

/// Why an absolute-form target was refused; each is a 400.
pub type TargetError = &'static str;

/// Splits `target` if it is in absolute form (`http://` or `https://`,
/// scheme case-insensitive). `Ok(None)`: some other form (origin, authority,
/// asterisk), judged elsewhere.
pub fn split_absolute(target: &str) -> Result<Option<Absolute<'_>>, TargetError> {
    // The origin form (nearly every request) has no scheme: spare it the substring search.
    if target.starts_with('/') {
        return Ok(None);
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return Ok(None);
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Ok(None);
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    check_authority(authority)?;
    // The fragment goes first: a `?` after `#` belongs to the fragment.
    let tail = without_fragment(tail);
    let origin_form = if tail.starts_with('/') { tail.to_owned() } else { format!("/{tail}") };
    Ok(Some(Absolute { authority, origin_form }))
}

/// `target` up to its first `#`: the part a server may see, in any form.
/// httparse accepts `#` in a target; RFC 9112 section 3.2 has no fragment
/// there, and an origin reading `/a#/../b` one way while a plugin reads it
/// another is a path confusion, so the fragment never goes upstream.
pub fn without_fragment(target: &str) -> &str {
    target.split_once('#').map_or(target, |(before, _)| before)
}

/// `host [ ":" port ]` with a non-empty host of RFC 3986 characters, no userinfo.
fn check_authority(authority: &str) -> Result<(), TargetError> {
    if authority.contains('@') {
        return Err("userinfo in the request target (RFC 9110 section 4.2.4)");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(literal) => {
            let Some((inside, after)) = literal.split_once(']') else {
                return Err("unterminated IP literal in the request target");
            };
            if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return Err("invalid IP literal in the request target");
            }
            match after {
                "" => (inside, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (inside, Some(port)),
                    None => return Err("invalid authority in the request target"),
                },
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("empty host in the request target (RFC 9110 section 4.2.1)");
    }
    if !authority.starts_with('[') && !is_reg_name(host) {
        return Err("invalid host in the request target");
    }
    if port.is_some_and(|p| p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err("invalid port in the request target");
    }
    Ok(())
}

/// RFC 3986 `reg-name` (which includes IPv4 addresses): unreserved,
/// sub-delims and pct-encoded, a `%` followed by two hex digits.
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                i += 3
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) => i += 1,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(target: &str) -> (&str, String) {
        match split_absolute(target) {
            Ok(Some(a)) => (a.authority, a.origin_form),
            other => panic!("{target}: {other:?}"),
        }
    }

    #[test]
    fn the_authority_ends_at_slash_query_or_fragment() {
        assert_eq!(split("http://good/x?y"), ("good", "/x?y".to_string()));
        assert_eq!(split("http://good?/admin"), ("good", "/?/admin".to_string()));
        assert_eq!(split("http://good#/admin"), ("good", "/".to_string()));
        assert_eq!(split("http://good/a#b?c"), ("good", "/a".to_string()));
        assert_eq!(split("HTTPS://good:8443"), ("good:8443", "/".to_string()));
        assert_eq!(split("http://[::1]:80/p"), ("[::1]:80", "/p".to_string()));
        assert_eq!(split("http://[::1]"), ("[::1]", "/".to_string()));
        assert_eq!(split("http://g%6Fod/"), ("g%6Fod", "/".to_string()));
    }

    #[test]
    fn fragments_are_dropped() {
        assert_eq!(without_fragment("/a#/../b"), "/a");
        assert_eq!(without_fragment("/a?q#f"), "/a?q");
        assert_eq!(without_fragment("/a"), "/a");
    }

    #[test]
    fn other_forms_are_not_absolute() {
        for target in ["/x", "*", "h:80", "ftp://h/", "/http://h/"] {
            assert_eq!(split_absolute(target), Ok(None), "{target}");
        }
    }

    #[test]
    fn userinfo_empty_hosts_and_bad_ports_are_refused() {
        for target in [
            "http://evil@good/x",
            "http://user:pw@good",
            "http:///x",
            "http://:80/",
            "http://good:8x/",
            "http://good:123456/",
            "http://go od/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[]/",
            "http://good\\evil/",
            "http://go%2/",
            "http://go%zz/",
        ] {
            assert!(split_absolute(target).is_err(), "{target} accepted");
        }
    }
}
