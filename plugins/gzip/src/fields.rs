//! Header fields as the rules see them, and the header edits a compressor
//! makes (Vary, ETag), independent of the SDK so the rules can be unit-tested
//! on a plain list of fields.

/// A message's header fields; names compare case-insensitively.
pub trait Fields {
    /// Every value of `name`, in order.
    fn values(&self, name: &str) -> Vec<Vec<u8>>;
    /// Replaces every value of `name` with `value`.
    fn set(&mut self, name: &str, value: &[u8]);
    /// Removes every value of `name`; true if there was one.
    fn remove(&mut self, name: &str) -> bool;

    /// The first value of `name` as text (lossy), trimmed.
    fn text(&self, name: &str) -> Option<String> {
        self.values(name).first().map(|v| String::from_utf8_lossy(v).trim().to_string())
    }

    /// Whether `name` is present with a non-empty value.
    fn has(&self, name: &str) -> bool {
        self.values(name).iter().any(|v| !v.iter().all(u8::is_ascii_whitespace))
    }

    /// The list elements of every `name` field (RFC 9110 section 5.6.1),
    /// trimmed, empty ones dropped.
    fn elements(&self, name: &str) -> Vec<String> {
        self.values(name)
            .iter()
            .flat_map(|v| String::from_utf8_lossy(v).split(',').map(|e| e.trim().to_string()).collect::<Vec<_>>())
            .filter(|e| !e.is_empty())
            .collect()
    }
}

impl Fields for plugin_sdk::Headers<'_, '_> {
    fn values(&self, name: &str) -> Vec<Vec<u8>> {
        self.get_all(name).into_iter().map(<[u8]>::to_vec).collect()
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        plugin_sdk::Headers::set(self, name, value);
    }
    fn remove(&mut self, name: &str) -> bool {
        plugin_sdk::Headers::remove(self, name)
    }
}

/// A plain list of fields: the unit tests' message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldList(pub Vec<(String, Vec<u8>)>);

impl FieldList {
    /// Fields from `(name, value)` pairs.
    pub fn of(pairs: &[(&str, &str)]) -> FieldList {
        FieldList(pairs.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect())
    }
}

impl Fields for FieldList {
    fn values(&self, name: &str) -> Vec<Vec<u8>> {
        self.0.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name);
        self.0.push((name.to_string(), value.to_vec()));
    }
    fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.len() != before
    }
}

/// Whether any Cache-Control field carries `no-transform` (RFC 9111
/// section 5.2: on a request or a response, a proxy must not change the
/// content; directive names are case-insensitive).
pub fn no_transform(fields: &impl Fields) -> bool {
    fields
        .elements("cache-control")
        .iter()
        .any(|d| d.split('=').next().is_some_and(|n| n.trim().eq_ignore_ascii_case("no-transform")))
}

/// Adds `Accept-Encoding` to Vary, merged into one field: never twice, and
/// `Vary: *` (which already covers everything) left alone.
pub fn vary_accept_encoding(fields: &mut impl Fields) {
    let elements = fields.elements("vary");
    if elements.iter().any(|e| e == "*" || e.eq_ignore_ascii_case("accept-encoding")) {
        return;
    }
    let mut merged = elements.join(", ");
    if !merged.is_empty() {
        merged.push_str(", ");
    }
    merged.push_str("Accept-Encoding");
    fields.set("Vary", merged.as_bytes());
}

/// Makes a strong ETag weak: the compressed bytes differ from the
/// identity ones, so byte-for-byte equality no longer holds (RFC 9110
/// section 8.8.3). A value that is not an entity-tag at all is removed, as
/// nginx does, rather than passed on describing other bytes.
pub fn weaken_etag(fields: &mut impl Fields) {
    let Some(tag) = fields.text("etag") else { return };
    if tag.starts_with("W/") {
        return;
    }
    if tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"') {
        fields.set("ETag", format!("W/{tag}").as_bytes());
    } else {
        fields.remove("etag");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_is_added_merged_never_doubled() {
        let mut f = FieldList::default();
        vary_accept_encoding(&mut f);
        assert_eq!(f.values("vary"), [b"Accept-Encoding".to_vec()]);
        vary_accept_encoding(&mut f);
        assert_eq!(f.values("vary").len(), 1);

        let mut f = FieldList::of(&[("Vary", "Origin"), ("vary", "Cookie")]);
        vary_accept_encoding(&mut f);
        assert_eq!(f.values("vary"), [b"Origin, Cookie, Accept-Encoding".to_vec()]);

        for kept in ["*", "origin, accept-encoding", "ACCEPT-ENCODING"] {
            let mut f = FieldList::of(&[("Vary", kept)]);
            vary_accept_encoding(&mut f);
            assert_eq!(f.values("vary"), [kept.as_bytes().to_vec()], "{kept}");
        }
    }

    #[test]
    fn strong_etags_become_weak() {
        let mut f = FieldList::of(&[("ETag", "\"abc\"")]);
        weaken_etag(&mut f);
        assert_eq!(f.text("etag").as_deref(), Some("W/\"abc\""));
        weaken_etag(&mut f);
        assert_eq!(f.text("etag").as_deref(), Some("W/\"abc\""));
        let mut f = FieldList::of(&[("ETag", "abc")]);
        weaken_etag(&mut f);
        assert_eq!(f.text("etag"), None);
        let mut f = FieldList::default();
        weaken_etag(&mut f);
        assert_eq!(f, FieldList::default());
    }

    #[test]
    fn no_transform_is_found_among_directives() {
        assert!(no_transform(&FieldList::of(&[("Cache-Control", "max-age=60, No-Transform")])));
        assert!(no_transform(&FieldList::of(&[("Cache-Control", "public"), ("cache-control", "no-transform")])));
        assert!(!no_transform(&FieldList::of(&[("Cache-Control", "no-store, no-cache")])));
        assert!(!no_transform(&FieldList::default()));
    }
}
