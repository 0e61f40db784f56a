//! The configuration file: Traffic Server's `compress.config` syntax and
//! keys, plus `zstd` and the `*-level` keys (see the README for the table).
//!
//! ```text
//! # global settings first
//! compressible-content-type text/*
//! minimum-content-length 860
//! [www.example.com]          # overrides for requests with this Host
//! flush true
//! ```
//!
//! One key and its value a line; `#` starts a comment. Keys before the first
//! `[host]` line are the global settings; a section starts from them and
//! overrides what it names (Traffic Server starts a section from the
//! defaults instead: the same file reads the same unless a section relies on
//! that). The first line of a list key (`allow`,
//! `compressible-content-type`) replaces the default list, or in a section
//! the inherited one, and further lines add to it. Every mistake is an error naming `file:line` and the fix.

use std::collections::HashSet;

use crate::negotiate::Coding;

/// What to do when a request carries both Range and Accept-Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Leave both; a 206 from the origin is still never compressed.
    None,
    /// Do not compress the response (the default).
    NoCompression,
    /// Remove Range: the origin sends the whole body, which is compressed.
    RemoveRange,
    /// Remove Accept-Encoding: the origin and the plugin send identity.
    RemoveAcceptEncoding,
}

/// The settings that apply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `enabled`.
    pub enabled: bool,
    /// `remove-accept-encoding`: the origin never sees Accept-Encoding.
    pub remove_accept_encoding: bool,
    /// `compressible-content-type` patterns; a leading `!` excludes.
    pub content_types: Vec<String>,
    /// `content_type_ignore_parameters`: match the media type without
    /// `;parameters` (unless the pattern has a `;`).
    pub ignore_type_parameters: bool,
    /// `compressible-status-code`.
    pub status_codes: Vec<u16>,
    /// `minimum-content-length`, in bytes of a declared Content-Length.
    pub minimum_content_length: u64,
    /// `range-request`.
    pub range_request: RangeRequest,
    /// `supported-algorithms`, in preference order.
    pub algorithms: Vec<Coding>,
    /// `flush`: sync-flush after every input block.
    pub flush: bool,
    /// `allow` URL patterns; a leading `!` excludes.
    pub allow: Vec<String>,
    /// `gzip-level` (also for deflate), 1 to 9.
    pub gzip_level: u32,
    /// `brotli-level`, 0 to 11.
    pub brotli_level: u32,
    /// `brotli-lgwin`, 10 to 24: the window is 2^lgwin bytes.
    pub brotli_lgwin: u32,
    /// `zstd-level`, 1 to 22.
    pub zstd_level: i32,
}

impl Default for Settings {
    /// The settings with no file: nginx's and Traffic Server's choices where
    /// they agree (gzip only, level 6, 1 KiB minimum), and the text types
    /// both document compressing.
    fn default() -> Self {
        let types = [
            "text/*",
            "application/json",
            "application/*+json",
            "application/javascript",
            "application/x-javascript",
            "application/ecmascript",
            "application/xml",
            "application/*+xml",
            "image/svg+xml",
        ];
        Settings {
            enabled: true,
            remove_accept_encoding: false,
            content_types: types.iter().map(|t| t.to_string()).collect(),
            ignore_type_parameters: true,
            status_codes: vec![200, 304, 403, 404],
            minimum_content_length: 1024,
            range_request: RangeRequest::NoCompression,
            algorithms: vec![Coding::Gzip],
            flush: false,
            allow: Vec::new(),
            gzip_level: 6,
            // Web servers' usual on-the-fly levels: about gzip 6's CPU for a
            // better ratio.
            brotli_level: 5,
            // 512 KiB, ngx_brotli's default window: bounds memory per response.
            brotli_lgwin: 19,
            zstd_level: 3,
        }
    }
}

/// A parsed configuration: global settings and per-host overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Settings for hosts without a section.
    pub global: Settings,
    /// `[host]` sections: lowercase host name, its settings.
    pub hosts: Vec<(String, Settings)>,
    /// Things worth a line in the log (ignored keys), `file:line: ...`.
    pub notices: Vec<String>,
}

impl Config {
    /// Reads and parses `path`.
    pub fn load(path: &str) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{path}: cannot read the gzip config file: {e}; check the path (relative paths are from the host's working directory)"))?;
        Config::parse(path, &text)
    }

    /// The settings for a request with this Host field value: the section
    /// whose name equals the host (without a port, unless the section names
    /// one), case-insensitively; else the global settings.
    pub fn for_host(&self, host: Option<&[u8]>) -> &Settings {
        let Some(host) = host.and_then(|h| std::str::from_utf8(h).ok()).map(str::trim) else {
            return &self.global;
        };
        let bare = match host.rsplit_once(':') {
            // `[::1]:8080` splits at the last colon too; `[::1]` has no port.
            Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        self.hosts
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host) || name.eq_ignore_ascii_case(bare))
            .map_or(&self.global, |(_, s)| s)
    }

    /// Parses the text of a config file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, String> {
        let mut config = Config::default();
        let mut section: Option<(String, Settings, HashSet<&'static str>)> = None;
        let mut section_lines: Vec<(String, usize)> = Vec::new();
        // List keys already seen in the global part: the first replaces the default list.
        let mut global_lists = HashSet::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let at = |what: String| format!("{file}:{line}: {what}");
            let words: Vec<&str> = raw.split_whitespace().take_while(|w| !w.starts_with('#')).collect();
            let Some((&key, values)) = words.split_first() else { continue };
            if let Some(name) = key.strip_prefix('[') {
                let name = name.strip_suffix(']').filter(|n| !n.is_empty() && values.is_empty()).ok_or_else(|| {
                    at(format!("bad section line {:?}; write `[host.name]` alone on its line", raw.trim()))
                })?;
                let name = name.to_ascii_lowercase();
                if let Some((_, first)) = section_lines.iter().find(|(n, _)| *n == name) {
                    return Err(at(format!("section [{name}] repeats the one at line {first}; merge them")));
                }
                section_lines.push((name.clone(), line));
                if let Some((n, s, _)) = section.take() {
                    config.hosts.push((n, s));
                }
                section = Some((name, config.global.clone(), HashSet::new()));
                continue;
            }
            let (settings, touched) = match section.as_mut() {
                Some((_, s, t)) => (s, t),
                None => (&mut config.global, &mut global_lists),
            };
            if let Some(notice) = apply(settings, touched, key, values).map_err(at)? {
                config.notices.push(at(notice));
            }
        }
        if let Some((n, s, _)) = section.take() {
            config.hosts.push((n, s));
        }
        Ok(config)
    }
}

/// The keys, for error messages.
const KEYS: &str = "enabled, remove-accept-encoding, compressible-content-type, content_type_ignore_parameters, \
compressible-status-code, minimum-content-length, range-request, supported-algorithms, flush, allow, cache, \
gzip-level, brotli-level, brotli-lgwin, zstd-level";

/// Applies one `key values...` line; `Ok(Some(notice))` for a key that is
/// accepted but has no effect here.
fn apply(
    s: &mut Settings,
    touched: &mut HashSet<&'static str>,
    key: &str,
    values: &[&str],
) -> Result<Option<String>, String> {
    // The first line of a list key replaces the default or inherited list.
    let mut fresh_list = |name: &'static str, list: &mut Vec<String>| {
        if touched.insert(name) {
            list.clear();
        }
    };
    match key {
        "enabled" => s.enabled = boolean(key, values)?,
        "remove-accept-encoding" => s.remove_accept_encoding = boolean(key, values)?,
        "flush" => s.flush = boolean(key, values)?,
        "content_type_ignore_parameters" => s.ignore_type_parameters = boolean(key, values)?,
        "cache" => {
            boolean(key, values)?;
            return Ok(Some("`cache` is ignored: plugin-host has no cache".to_string()));
        }
        "compressible-content-type" => {
            let pattern = single(key, values, "a media type pattern such as text/* or application/json")?;
            fresh_list("compressible-content-type", &mut s.content_types);
            s.content_types.push(pattern.to_string());
        }
        "allow" => {
            let pattern = single(key, values, "a URL pattern such as /static/* or !*.png")?;
            fresh_list("allow", &mut s.allow);
            s.allow.push(pattern.to_string());
        }
        "compressible-status-code" | "compressible-status-codes" => {
            s.status_codes = list(key, values)?
                .into_iter()
                .map(|code| code.parse::<u16>().ok().filter(|c| (100..=599).contains(c)).ok_or(code))
                .collect::<Result<_, _>>()
                .map_err(|bad| format!("{key}: {bad:?} is not a status code; write codes from 100 to 599, such as `200, 404`"))?;
        }
        "supported-algorithms" => {
            let mut algorithms = Vec::new();
            for name in list(key, values)? {
                let coding = Coding::from_name(name).filter(|_| name != "x-gzip").ok_or_else(|| {
                    format!("{key}: unknown algorithm {name:?}; write a comma list of gzip, deflate, br, zstd")
                })?;
                if !algorithms.contains(&coding) {
                    algorithms.push(coding);
                }
            }
            s.algorithms = algorithms;
        }
        "minimum-content-length" => s.minimum_content_length = number(key, values, 0, u64::MAX)?,
        "range-request" => {
            s.range_request = match single(key, values, "none, no-compression, remove-range or remove-accept-encoding")? {
                "none" | "true" => RangeRequest::None,
                "no-compression" | "false" => RangeRequest::NoCompression,
                "remove-range" => RangeRequest::RemoveRange,
                "remove-accept-encoding" => RangeRequest::RemoveAcceptEncoding,
                other => {
                    return Err(format!(
                        "range-request: unknown value {other:?}; write none, no-compression, remove-range or remove-accept-encoding"
                    ))
                }
            }
        }
        "gzip-level" | "gzip-compression-level" => s.gzip_level = number(key, values, 1, 9)? as u32,
        "brotli-level" | "brotli-compression-level" => s.brotli_level = number(key, values, 0, 11)? as u32,
        "brotli-lgwin" => s.brotli_lgwin = number(key, values, 10, 24)? as u32,
        "zstd-level" | "zstd-compression-level" => s.zstd_level = number(key, values, 1, 22)? as i32,
        other => return Err(format!("unknown key {other:?}; the keys are: {KEYS}")),
    }
    Ok(None)
}

/// The one value of `key`.
fn single<'v>(key: &str, values: &[&'v str], what: &str) -> Result<&'v str, String> {
    match values {
        [v] => Ok(v),
        [] => Err(format!("{key} needs a value: {what}")),
        _ => Err(format!("{key} takes one value ({what}), got {}; put each on its own `{key}` line", values.len())),
    }
}

fn boolean(key: &str, values: &[&str]) -> Result<bool, String> {
    match single(key, values, "true or false")? {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{key}: {other:?} is not a boolean; write true or false")),
    }
}

fn number(key: &str, values: &[&str], min: u64, max: u64) -> Result<u64, String> {
    let text = single(key, values, "a number")?;
    text.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{key}: {text:?} is not a whole number from {min} to {max}"))
}

/// The comma- or space-separated items of a list key (at least one).
fn list<'v>(key: &str, values: &[&'v str]) -> Result<Vec<&'v str>, String> {
    let items: Vec<&'v str> = values.iter().flat_map(|v| v.split(',')).filter(|i| !i.is_empty()).collect();
    if items.is_empty() {
        return Err(format!("{key} needs a comma list of values"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests;
