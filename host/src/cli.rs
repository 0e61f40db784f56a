//! Command-line values the `plugin-host` binary parses: the addresses of
//! `--listen`, `--admin-listen` and `--origin`, which accept the same forms,
//! and the one-line hints added to start-up errors an operator can fix.
//!
//! Accepted address forms, on every flag:
//!
//! | form | listen / admin-listen | origin |
//! | --- | --- | --- |
//! | `127.0.0.1:8080`, `[::1]:8080` | that address | that address |
//! | `localhost:8080`, `example.com:80` | its first address (IPv4 first) | the same |
//! | `:8080` | every interface (`0.0.0.0:8080`) | this machine (`127.0.0.1:8080`) |
//!
//! A scheme (`http://...`) or a path is refused with a message saying to
//! drop it: the proxy speaks plain HTTP/1.1 to one `HOST:PORT`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

/// Where an address is used; `:PORT` means a different host for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrUse {
    /// A local address to bind (`:PORT` is every interface).
    Bind,
    /// A remote address to connect to (`:PORT` is this machine).
    Connect,
}

/// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT`, resolving host names.
pub fn parse_addr(value: &str, usage: AddrUse) -> Result<SocketAddr, String> {
    let value = value.trim();
    if let Some((scheme, rest)) = value.split_once("://") {
        let rest = rest.trim_end_matches('/');
        return Err(format!("{value:?}: drop the scheme ({scheme}://) and give HOST:PORT, e.g. {rest}"));
    }
    if value.contains('/') {
        return Err(format!("{value:?}: expected HOST:PORT without a path"));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!("{value:?}: expected HOST:PORT (e.g. 127.0.0.1:8080, localhost:8080 or :8080)"));
    };
    let port: u16 =
        port.parse().map_err(|_| format!("{value:?}: the port {port:?} is not a number from 0 to 65535"))?;
    if host.is_empty() {
        let ip = match usage {
            AddrUse::Bind => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            AddrUse::Connect => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        return Ok(SocketAddr::new(ip, port));
    }
    let resolved: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|e| format!("{value:?}: cannot resolve {host:?}: {e}"))?.collect();
    // IPv4 first: `localhost` lists ::1 first on some systems, and clients typed
    // `localhost:8080` far more often reach 127.0.0.1.
    resolved
        .iter()
        .find(|a| a.is_ipv4())
        .or(resolved.first())
        .copied()
        .ok_or_else(|| format!("{value:?}: {host:?} resolved to no address"))
}

/// The parser of a switch given as `on` or `off` (`--splice`).
pub fn parse_on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("'{other}' is neither on nor off")),
    }
}

/// The `--listen` / `--admin-listen` parser for clap.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    parse_addr(value, AddrUse::Bind)
}

/// The `--origin` parser for clap.
pub fn parse_origin(value: &str) -> Result<SocketAddr, String> {
    parse_addr(value, AddrUse::Connect)
}

/// A hint for a plugin path that names `target/release/` while only a debug
/// build exists (the default `plugin.config` after a plain `cargo build` or
/// `cargo run`): say which build to make. `None` for any other path.
pub fn release_build_hint(missing: &std::path::Path) -> Option<String> {
    let text = missing.to_string_lossy();
    let (before, after) = text.split_once("target/release/")?;
    let debug = std::path::PathBuf::from(format!("{before}target/debug/{after}"));
    let found =
        if debug.is_file() { format!(" (only a debug build exists: {})", debug.display()) } else { String::new() };
    Some(format!(
        "{} names the release build of a plugin, which is not there{found}; build it with `cargo build --release --workspace` \
         and run ./target/release/plugin-host, or point --config at a plugin.config naming target/debug",
        missing.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_takes_the_same_forms() {
        for usage in [AddrUse::Bind, AddrUse::Connect] {
            assert_eq!(parse_addr("127.0.0.1:8080", usage), Ok("127.0.0.1:8080".parse().expect("addr")));
            assert_eq!(parse_addr("[::1]:0", usage), Ok("[::1]:0".parse().expect("addr")));
            assert_eq!(parse_addr("localhost:8080", usage), Ok("127.0.0.1:8080".parse().expect("addr")));
        }
        assert_eq!(parse_addr(":8080", AddrUse::Bind), Ok("0.0.0.0:8080".parse().expect("addr")));
        assert_eq!(parse_addr(":8080", AddrUse::Connect), Ok("127.0.0.1:8080".parse().expect("addr")));
    }

    #[test]
    fn schemes_paths_and_bad_ports_say_what_to_do() {
        let scheme = parse_addr("http://127.0.0.1:9000/", AddrUse::Connect).expect_err("scheme");
        assert!(scheme.contains("drop the scheme (http://)") && scheme.ends_with("e.g. 127.0.0.1:9000"), "{scheme}");
        assert!(parse_addr("127.0.0.1:9000/x", AddrUse::Connect).expect_err("path").contains("without a path"));
        assert!(parse_addr("8080", AddrUse::Bind).expect_err("no colon").contains("expected HOST:PORT"));
        assert!(parse_addr("h:99999", AddrUse::Bind).expect_err("port").contains("not a number"));
    }

    #[test]
    fn release_paths_get_a_hint() {
        let hint = release_build_hint(std::path::Path::new("/nowhere/target/release/libplugin_null.so"));
        assert!(hint.is_some_and(|h| h.contains("cargo build --release")));
        assert_eq!(release_build_hint(std::path::Path::new("/opt/p/libnull.so")), None);
    }
}
