//! The admin endpoint's `GET /stats` answer, read with a minimal JSON parser of its own:
//! the host writes that JSON by hand, so the tests read it with code that shares nothing
//! with it (and the test crate needs no JSON dependency for one small object).

/// A parsed JSON value. Numbers keep their text; [`Json::as_u64`] reads counters.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Num(String),
    /// A string, unescaped.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, fields in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON value (surrounding whitespace allowed, nothing else after it).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser { s: text.as_bytes(), at: 0 };
        let value = p.value()?;
        p.ws();
        if p.at != p.s.len() {
            return Err(format!("trailing bytes at offset {}", p.at));
        }
        Ok(value)
    }

    /// Field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// A string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.at))
    }

    fn eat(&mut self, lit: &str) -> bool {
        let found = self.s[self.at..].starts_with(lit.as_bytes());
        if found {
            self.at += lit.len();
        }
        found
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.at) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'-' | b'0'..=b'9') => Ok(self.number()),
            _ if self.eat("null") => Ok(Json::Null),
            _ if self.eat("true") => Ok(Json::Bool(true)),
            _ if self.eat("false") => Ok(Json::Bool(false)),
            _ => self.err("expected a value"),
        }
    }

    fn number(&mut self) -> Json {
        let start = self.at;
        while self.s.get(self.at).is_some_and(|b| b"+-.eE0123456789".contains(b)) {
            self.at += 1;
        }
        Json::Num(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.at) else { return self.err("unterminated string") };
            self.at += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let Some(&esc) = self.s.get(self.at) else { return self.err("unterminated escape") };
                    self.at += 1;
                    let c = match esc {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => self.unicode_escape()?,
                        other => char::from(other),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                other => out.push(other),
            }
        }
    }

    /// The four hex digits after `\u` (surrogate pairs are not needed for /stats).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hex = self.s.get(self.at..self.at + 4).and_then(|h| std::str::from_utf8(h).ok());
        let code = hex.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
        self.at += 4;
        code.map_or_else(|| self.err("bad \\u escape"), Ok)
    }

    fn array(&mut self) -> Result<Json, String> {
        self.at += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat("]") {
                return Ok(Json::Arr(items));
            }
            if !self.eat(",") {
                return self.err("expected , or ]");
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.at += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(Json::Obj(fields));
        }
        loop {
            self.ws();
            if self.s.get(self.at) != Some(&b'"') {
                return self.err("expected a field name");
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return self.err("expected :");
            }
            fields.push((key, self.value()?));
            self.ws();
            if self.eat("}") {
                return Ok(Json::Obj(fields));
            }
            if !self.eat(",") {
                return self.err("expected , or }");
            }
        }
    }
}

/// One plugin's counters, as `/stats` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStats {
    /// The plugin's declared name, e.g. `plugin-faulty`.
    pub name: String,
    /// The `.so` it was loaded from.
    pub path: String,
    /// Transactions it took part in.
    pub transactions: u64,
    /// Body bytes into its transforms.
    pub bytes_in: u64,
    /// Body bytes out of its transforms.
    pub bytes_out: u64,
    /// Transforms of it aborted (their chain ended before its output was done).
    pub aborts: u64,
    /// Panics caught in it.
    pub panics: u64,
    /// Protocol errors charged to it.
    pub protocol_errors: u64,
}

impl PluginStats {
    /// `(aborts, panics, protocol_errors)`: the fault counters, for one comparison.
    pub fn faults(&self) -> (u64, u64, u64) {
        (self.aborts, self.panics, self.protocol_errors)
    }
}

/// The whole `/stats` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Open client connections.
    pub connections: u64,
    /// Transactions in flight.
    pub live_transactions: u64,
    /// Transform instances alive.
    pub live_transforms: u64,
    /// IO buffers alive.
    pub live_buffers: u64,
    /// Every plugin, in plugin.config order.
    pub plugins: Vec<PluginStats>,
}

impl Stats {
    /// Reads the `/stats` body; every field of the contract must be there.
    pub fn parse(text: &str) -> Result<Stats, String> {
        let json = Json::parse(text)?;
        let num = |v: &Json, key: &str| v.get(key).and_then(Json::as_u64).ok_or(format!("no counter {key:?}"));
        let string = |v: &Json, key: &str| {
            v.get(key).and_then(Json::as_str).map(str::to_string).ok_or(format!("no string {key:?}"))
        };
        let Some(Json::Arr(plugins)) = json.get("plugins") else { return Err("no \"plugins\" array".into()) };
        let plugins = plugins
            .iter()
            .map(|p| {
                Ok(PluginStats {
                    name: string(p, "name")?,
                    path: string(p, "path")?,
                    transactions: num(p, "transactions")?,
                    bytes_in: num(p, "bytes_in")?,
                    bytes_out: num(p, "bytes_out")?,
                    aborts: num(p, "aborts")?,
                    panics: num(p, "panics")?,
                    protocol_errors: num(p, "protocol_errors")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Stats {
            connections: num(&json, "connections")?,
            live_transactions: num(&json, "live_transactions")?,
            live_transforms: num(&json, "live_transforms")?,
            live_buffers: num(&json, "live_buffers")?,
            plugins,
        })
    }

    /// `(live_transactions, live_transforms, live_buffers)`.
    pub fn live(&self) -> (u64, u64, u64) {
        (self.live_transactions, self.live_transforms, self.live_buffers)
    }

    /// The plugin on config line `index` (0-based, comments and blanks not counted).
    #[track_caller]
    pub fn plugin(&self, index: usize) -> &PluginStats {
        self.plugins.get(index).unwrap_or_else(|| panic!("no plugin #{index} in /stats: {self:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_object_is_read_field_by_field() {
        let text = "{\"connections\":1,\"live_transactions\":0,\"live_transforms\":2,\"live_buffers\":3,\"plugins\":[\
                    {\"name\":\"plugin-faulty\",\"path\":\"/a \\\"b\\\"\\\\c\\u0041\",\"transactions\":4,\
                    \"bytes_in\":5,\"bytes_out\":6,\"aborts\":7,\"panics\":8,\"protocol_errors\":9}]}\n";
        let stats = Stats::parse(text).expect("parses");
        assert_eq!(stats.live(), (0, 2, 3));
        assert_eq!(stats.connections, 1);
        let p = stats.plugin(0);
        assert_eq!((p.name.as_str(), p.path.as_str()), ("plugin-faulty", "/a \"b\"\\cA"));
        assert_eq!((p.transactions, p.bytes_in, p.bytes_out), (4, 5, 6));
        assert_eq!(p.faults(), (7, 8, 9));
    }

    #[test]
    fn missing_fields_and_bad_json_are_errors() {
        assert!(Stats::parse("{\"connections\":1}").is_err());
        assert!(Json::parse("{\"a\":1,}").is_err());
        assert!(Json::parse("[1 2]").is_err());
        assert!(Json::parse("\"open").is_err());
        assert_eq!(
            Json::parse(" [true, null, -1.5e3] "),
            Ok(Json::Arr(vec![Json::Bool(true), Json::Null, Json::Num("-1.5e3".into())]))
        );
    }
}
