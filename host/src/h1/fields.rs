//! Header fields: [`Headers`], the ordered, case-insensitive field list of
//! one head.
//!
//! A parsed head keeps its bytes as one shared [`Bytes`] block, and each
//! field it arrived with is a pair of ranges into that block, so parsing a
//! head allocates at most one `Vec` of fields (none when it reuses the list
//! of a finished head) and no `String` or `Vec` per field.
//! Fields a plugin or the proxy sets or appends own their bytes (a
//! `Bytes`, often `'static`). The parser has already checked a received
//! field (the name is a token, the value holds no CR, LF or NUL), so the
//! writer copies it as it is and only checks the ones that were set, apart
//! from the proxy's own values ([`Headers::set_trusted`]).
//!
//! The names the proxy itself looks up in every message (framing,
//! connection, Host, ...) are [`known`] ones: each field carries the tag of
//! its name, found once when the field arrives or is set, and the list
//! keeps a bit per tag it holds. Looking one up compares a byte per field,
//! and looking up one the head lacks makes no pass at all; a response head
//! is searched some fifteen times on its way through.

use bytes::Bytes;

use super::known;

/// Header fields in arrival order; names compare case-insensitively.
///
/// Names keep the case they arrived (or were set) with, since some origins
/// and clients still care; values are raw bytes because RFC 9110 allows
/// obs-text (0x80..=0xFF) in them.
#[derive(Clone, Default)]
pub struct Headers {
    /// The head the received fields point into; empty for a built head.
    raw: Bytes,
    fields: Vec<Field>,
    /// The [`known::bit`]s of the fields' tags (`OTHER`'s too, unread).
    present: u32,
}

#[derive(Clone)]
struct Field {
    name: Part,
    value: Part,
    /// [`known::of`] the name.
    known: u8,
    /// The bytes need no check on the way out: the parser checked them, or
    /// the proxy set them ([`Headers::set_trusted`]).
    checked: bool,
}

impl Field {
    /// True if the field is called `name`, whose tag is `tag`.
    #[inline]
    fn is(&self, raw: &[u8], name: &[u8], tag: u8) -> bool {
        // A tag is a function of the name: only untagged names need comparing.
        self.known == tag && (tag != known::OTHER || self.name.bytes(raw).eq_ignore_ascii_case(name))
    }
}

/// One name or value: a range of the head as received (checked by the
/// parser), or bytes of its own (unchecked until written).
#[derive(Clone)]
enum Part {
    Raw { start: u32, end: u32 },
    Own(Bytes),
}

impl Part {
    fn bytes<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        match self {
            Part::Raw { start, end } => &raw[*start as usize..*end as usize],
            Part::Own(b) => b,
        }
    }
}

/// A field as the head writer sees it: its bytes, and whether the parser
/// already checked them (a token name, a value without line breaks).
#[derive(Clone, Copy)]
pub struct WireField<'a> {
    /// The name's bytes.
    pub name: &'a [u8],
    /// The value's bytes.
    pub value: &'a [u8],
    /// True when the parser checked both (and the writer need not).
    pub checked: bool,
    /// [`known::of`] the name.
    pub known: u8,
}

impl Headers {
    /// An empty set of fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields that are ranges of a head as the parser found them: each
    /// `(name, value)` pair of offsets, the name a token and the value free
    /// of CR, LF and NUL. They point into the bytes given to
    /// [`Headers::attach`] next.
    ///
    /// The list goes into `spare`'s storage (see [`Headers::into_spare`]),
    /// so a head parsed where an earlier one was given back allocates none.
    /// Each comes with the name's [`known::of`].
    pub(super) fn received(spare: Headers, ranges: impl Iterator<Item = ((u32, u32), (u32, u32), u8)>) -> Self {
        let mut fields = spare.fields;
        // A spare holds no field; clearing anyway keeps a misused one from
        // passing its fields on to the next head.
        fields.clear();
        let mut present = 0;
        fields.extend(ranges.map(|((ns, ne), (vs, ve), known)| {
            present |= known::bit(known);
            Field {
                name: Part::Raw { start: ns, end: ne },
                value: Part::Raw { start: vs, end: ve },
                known,
                checked: true,
            }
        }));
        Headers { raw: Bytes::new(), fields, present }
    }

    /// The list's storage without its fields or the head they pointed into,
    /// for [`Headers::received`] to fill again; `None` when the list is
    /// too long to be worth keeping (a head with an unusual field count).
    pub(super) fn into_spare(self, max_fields: usize) -> Option<Headers> {
        let mut fields = self.fields;
        if fields.capacity() == 0 || fields.capacity() > max_fields {
            return None;
        }
        fields.clear();
        Some(Headers { raw: Bytes::new(), fields, present: 0 })
    }

    /// Gives received fields the head they are ranges of.
    pub(super) fn attach(&mut self, raw: Bytes) {
        debug_assert!(
            self.fields.iter().all(|f| [&f.name, &f.value].iter().all(|p| match p {
                Part::Raw { start, end } => start <= end && *end as usize <= raw.len(),
                Part::Own(_) => true,
            })),
            "a field range outside its head"
        );
        self.raw = raw;
    }

    // The lookups by name are inlined wrappers, so that `known::of` of a
    // literal name folds at the call site; the work is in `*_tagged`.

    /// First value of `name`, sharing the head's bytes rather than copying them.
    // `always`: with a caller more, LLVM kept it out of line and looked the
    // response's Content-Length up by name at run time (400 instructions a
    // request more in `bench/instructions.sh`).
    #[inline(always)]
    pub fn get_shared(&self, name: &str) -> Option<Bytes> {
        self.position(name).map(|i| match &self.fields[i].value {
            Part::Raw { start, end } => self.raw.slice(*start as usize..*end as usize),
            Part::Own(b) => b.clone(),
        })
    }
    /// First value of `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(name).map(|i| self.fields[i].value.bytes(&self.raw))
    }
    /// Every value of `name`, in order.
    #[inline]
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all_tagged(name, known::of(name.as_bytes()))
    }
    fn get_all_tagged<'a>(&'a self, name: &'a str, tag: u8) -> impl Iterator<Item = &'a [u8]> + 'a {
        let fields = if self.lacks(tag) { &self.fields[..0] } else { &self.fields[..] };
        fields.iter().filter(move |f| f.is(&self.raw, name.as_bytes(), tag)).map(|f| f.value.bytes(&self.raw))
    }
    /// True if at least one field is called `name`.
    #[inline]
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }
    /// Replaces every value of `name` with one.
    ///
    /// The new field takes the position of the first existing one, so that
    /// rewriting a header does not reorder the head; otherwise it is appended.
    #[inline]
    pub fn set(&mut self, name: &str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.set_field(Bytes::copy_from_slice(name.as_bytes()), name, tag, value.into(), false);
    }
    /// [`Headers::set`] for a name known at compile time, which is not copied.
    #[inline]
    pub fn set_static(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.set_field(Bytes::from_static(name.as_bytes()), name, tag, value.into(), false);
    }
    /// [`Headers::set_static`] for a value the proxy made itself (digits,
    /// a literal, its Date), which the writer then copies without checking:
    /// the caller vouches it holds no CR, LF or NUL. Never for a value a
    /// plugin or a peer could have chosen.
    #[inline]
    pub(crate) fn set_trusted(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.set_field(Bytes::from_static(name.as_bytes()), name, tag, trusted(value.into()), true);
    }
    /// [`Headers::append_static`] with [`Headers::set_trusted`]'s promise.
    #[inline]
    pub(crate) fn append_trusted(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.push(Bytes::from_static(name.as_bytes()), tag, trusted(value.into()), true);
    }
    /// Adds a value, keeping existing ones.
    #[inline]
    pub fn append(&mut self, name: &str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.push(Bytes::copy_from_slice(name.as_bytes()), tag, value.into(), false);
    }
    /// [`Headers::append`] for a name known at compile time, which is not copied.
    #[inline]
    pub fn append_static(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let tag = known::of(name.as_bytes());
        self.push(Bytes::from_static(name.as_bytes()), tag, value.into(), false);
    }
    /// Removes every value of `name`; true if any was there.
    #[inline]
    pub fn remove(&mut self, name: &str) -> bool {
        self.remove_tagged(name, known::of(name.as_bytes()))
    }
    fn remove_tagged(&mut self, name: &str, tag: u8) -> bool {
        if self.lacks(tag) {
            return false;
        }
        let before = self.fields.len();
        self.retain_fields(|f, raw| !f.is(raw, name.as_bytes(), tag));
        self.fields.len() != before
    }
    /// Keeps only the fields `keep` accepts by their [`known::of`] tag and
    /// name, in one pass.
    pub(super) fn retain_tagged(&mut self, mut keep: impl FnMut(u8, &[u8]) -> bool) {
        self.retain_fields(|f, raw| keep(f.known, f.name.bytes(raw)));
    }
    /// The [`known::bit`]s of the tags the fields have.
    pub(super) fn tags(&self) -> u32 {
        self.present
    }
    /// True if any value of `name`, read as a comma-separated list, holds `token` (case-insensitive).
    #[inline]
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.has_token_tagged(name, known::of(name.as_bytes()), token)
    }
    fn has_token_tagged(&self, name: &str, tag: u8, token: &str) -> bool {
        self.get_all_tagged(name, tag)
            .flat_map(list_elements)
            .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
    }
    /// All fields in order.
    ///
    /// A name is always UTF-8: received names are tokens (ASCII), set ones
    /// came in as `&str`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|f| (std::str::from_utf8(f.name.bytes(&self.raw)).unwrap_or_default(), f.value.bytes(&self.raw)))
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields for writing, in order.
    pub fn wire(&self) -> impl Iterator<Item = WireField<'_>> {
        self.fields.iter().map(|f| WireField {
            name: f.name.bytes(&self.raw),
            value: f.value.bytes(&self.raw),
            checked: f.checked,
            known: f.known,
        })
    }

    /// Bytes the fields take on the wire as `name: value CRLF` lines.
    pub fn wire_len(&self) -> usize {
        self.fields.iter().map(|f| f.name.bytes(&self.raw).len() + f.value.bytes(&self.raw).len() + 4).sum()
    }

    fn set_field(&mut self, name: Bytes, lookup: &str, tag: u8, value: Bytes, checked: bool) {
        match self.position_tagged(lookup, tag) {
            Some(first) => {
                self.fields[first] = Field { name: Part::Own(name), value: Part::Own(value), known: tag, checked };
                let raw = &self.raw;
                let mut index = 0;
                self.fields.retain(|f| {
                    let keep = index <= first || !f.is(raw, lookup.as_bytes(), tag);
                    index += 1;
                    keep
                });
            }
            None => self.push(name, tag, value, checked),
        }
    }

    fn push(&mut self, name: Bytes, known: u8, value: Bytes, checked: bool) {
        self.present |= known::bit(known);
        self.fields.push(Field { name: Part::Own(name), value: Part::Own(value), known, checked });
    }

    #[inline]
    fn position(&self, name: &str) -> Option<usize> {
        self.position_tagged(name, known::of(name.as_bytes()))
    }

    fn position_tagged(&self, name: &str, tag: u8) -> Option<usize> {
        if self.lacks(tag) {
            return None;
        }
        self.fields.iter().position(|f| f.is(&self.raw, name.as_bytes(), tag))
    }

    /// True when no field has `tag` (never for untagged names: those are not tracked).
    fn lacks(&self, tag: u8) -> bool {
        tag != known::OTHER && self.present & known::bit(tag) == 0
    }

    /// `Vec::retain` over the fields, keeping the set of tags true.
    fn retain_fields(&mut self, mut keep: impl FnMut(&Field, &[u8]) -> bool) {
        let raw = &self.raw;
        let mut present = 0;
        self.fields.retain(|f| {
            let kept = keep(f, raw);
            if kept {
                present |= known::bit(f.known);
            }
            kept
        });
        self.present = present;
    }
}

/// Equal when the same fields are in the same order, wherever their bytes live.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v)))).finish()
    }
}

/// `value`, checked in debug builds to keep the promise of [`Headers::set_trusted`].
fn trusted(value: Bytes) -> Bytes {
    debug_assert!(!value.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')), "an untrustworthy value");
    value
}

/// The elements of one comma-separated field value (RFC 9110 section 5.6.1),
/// each trimmed of optional whitespace; empty elements are kept so that
/// callers which must refuse them (Content-Length) can.
pub(super) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// `value` without leading and trailing SP / HTAB.
pub(super) fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.append("Host", "a");
        h.append("X-One", "1");
        h.append("Accept", "*/*");
        h.append("x-one", "2");
        h
    }

    #[test]
    fn get_is_case_insensitive_and_ordered() {
        let h = sample();
        assert_eq!(h.get("HOST"), Some(&b"a"[..]));
        assert_eq!(h.get_all("X-ONE").collect::<Vec<_>>(), vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn set_replaces_all_keeping_first_position() {
        let mut h = sample();
        h.set("X-ONE", "3");
        let fields: Vec<_> = h.iter().collect();
        assert_eq!(fields, vec![("Host", &b"a"[..]), ("X-ONE", &b"3"[..]), ("Accept", &b"*/*"[..])]);
        h.set_static("New", "v");
        assert_eq!(h.iter().last(), Some(("New", &b"v"[..])));
    }

    #[test]
    fn remove_reports_presence() {
        let mut h = sample();
        assert!(h.remove("x-one"));
        assert!(!h.remove("x-one"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn has_token_splits_lists_and_trims() {
        let mut h = Headers::new();
        h.append("Connection", "Upgrade ,\tKeep-Alive");
        h.append("Connection", "x-foo");
        assert!(h.has_token("connection", "keep-alive"));
        assert!(h.has_token("connection", "upgrade"));
        assert!(h.has_token("connection", "X-FOO"));
        assert!(!h.has_token("connection", "close"));
        assert!(!h.has_token("connection", "keep"));
    }

    #[test]
    fn received_fields_are_ranges_and_mix_with_set_ones() {
        let raw = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n");
        let mut h = Headers::received(
            Headers::new(),
            [((16, 20), (22, 23), known::HOST), ((25, 28), (30, 31), known::OTHER)].into_iter(),
        );
        h.attach(raw);
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("Host", &b"h"[..]), ("X-A", &b"1"[..])]);
        assert!(h.wire().all(|f| f.checked));
        h.append_static("Via", "1.1 x");
        h.set("host", b"other".to_vec());
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![("host", &b"other"[..]), ("X-A", &b"1"[..]), ("Via", &b"1.1 x"[..])]
        );
        assert_eq!(h.wire().map(|f| f.checked).collect::<Vec<_>>(), vec![false, true, false]);
        assert_eq!(h.wire_len(), "host: other\r\nX-A: 1\r\nVia: 1.1 x\r\n".len());
        let mut built = Headers::new();
        built.append("host", "other");
        built.append("X-A", "1");
        built.append("Via", "1.1 x");
        assert_eq!(h, built, "equality looks at fields, not where their bytes live");
    }

    #[test]
    fn a_spare_list_keeps_its_storage_and_none_of_its_fields() {
        let raw = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n");
        let mut first = Headers::received(
            Headers::new(),
            [((16, 20), (22, 23), known::HOST), ((25, 28), (30, 31), known::OTHER)].into_iter(),
        );
        first.attach(raw.clone());
        first.append_static("Via", "1.1 x");
        let storage = first.fields.as_ptr();
        let spare = first.into_spare(8).expect("a short list is kept");
        assert!(spare.is_empty() && spare.raw.is_empty(), "no field and no head survive");
        assert!(spare.fields.capacity() >= 3);

        let mut second = Headers::received(spare, [((16, 20), (22, 23), known::HOST)].into_iter());
        second.attach(raw);
        assert_eq!(second.fields.as_ptr(), storage, "the next head fills the same storage");
        assert_eq!(second.iter().collect::<Vec<_>>(), vec![("Host", &b"h"[..])]);

        assert!(second.clone().into_spare(0).is_none(), "a list longer than the bound is freed");
        assert!(Headers::new().into_spare(8).is_none(), "no storage, nothing to keep");
    }

    #[test]
    fn tagged_names_are_looked_up_by_tag_and_untagged_ones_by_their_bytes() {
        let mut h = sample();
        h.append("CONTENT-LENGTH", "5");
        h.append("x-forwarded-for", "a");
        assert_eq!(h.get("content-length"), Some(&b"5"[..]));
        assert!(!h.contains("transfer-encoding") && !h.contains("connection"));
        assert!(!h.remove("connection"), "an absent tagged name removes nothing");
        h.set("Connection", "close");
        assert!(h.has_token("connection", "CLOSE"));
        assert!(h.remove("Connection") && !h.contains("connection"));
        h.retain_tagged(|tag, _| tag != known::CONTENT_LENGTH);
        assert!(!h.contains("content-length"), "a field retain dropped is gone from the tags too");
        h.append_static("Content-Length", "7");
        assert_eq!(h.get_all("content-length").collect::<Vec<_>>(), vec![&b"7"[..]]);
        assert_eq!(h.get_all("x-one").count(), 2, "untagged names still match by bytes");
        assert_eq!(h.get("X-Forwarded-For"), Some(&b"a"[..]));
    }

    #[test]
    fn only_the_proxy_s_own_values_skip_the_writer_s_check() {
        let mut h = Headers::new();
        h.set_trusted("Content-Length", "5");
        h.append_trusted("Via", "1.1 x");
        h.append_static("X-Static", "v");
        assert_eq!(h.wire().map(|f| f.checked).collect::<Vec<_>>(), [true, true, false]);
        // A plugin's later value for the same name is checked again.
        h.set("content-length", "6\r\nX: y");
        assert_eq!(h.wire().map(|f| (f.value, f.checked)).next(), Some((&b"6\r\nX: y"[..], false)));
    }

    #[test]
    fn trim_ows_edges() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
