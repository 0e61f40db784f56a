//! Reloading with an edited compress.config: the new settings take effect for new
//! requests, and a broken file is refused with its line while the running settings stay.

use e2e::gzip::{head_text, GzipHost};
use e2e::RawConn;

/// `POST /reload` on the admin server: (status, body).
fn reload(gz: &GzipHost) -> (u16, String) {
    let mut conn = RawConn::connect(gz.host.admin());
    conn.send(b"POST /reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("reload answer");
    (resp.status, String::from_utf8_lossy(&resp.body).into_owned())
}

#[test]
fn an_edited_config_applies_after_reload_and_a_broken_one_is_refused() {
    let gz = GzipHost::start(Some("enabled false\n"));
    let config = gz.config.clone().expect("a config file");
    let resp = gz.get("/text?n=5000", "br, gzip");
    assert!(!resp.has_header("content-encoding"), "{}", head_text(&resp));

    std::fs::write(&config, "supported-algorithms br,gzip\n").expect("edit the config");
    let (status, body) = reload(&gz);
    assert_eq!(status, 200, "{body}");
    let resp = gz.get("/text?n=5000", "br, gzip");
    assert_eq!(resp.header("content-encoding"), Some("br"), "{}", head_text(&resp));

    std::fs::write(&config, "supported-algorithms br,gzip\ngzip-level 99\n").expect("break the config");
    let (status, body) = reload(&gz);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("compress.config:2: gzip-level"), "the refusal names the line: {body}");
    let resp = gz.get("/text?n=5000", "br, gzip");
    assert_eq!(resp.header("content-encoding"), Some("br"), "the running settings stay: {}", head_text(&resp));
}
