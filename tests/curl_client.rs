//! curl as a second, independent client: large chunked downloads, chunked uploads,
//! HTTP/1.0 and Expect: 100-continue as curl does them.

use std::fs;

use e2e::client::{scratch_file, ScratchGuard};
use e2e::{assert_same_bytes, curl, pattern, Host, Origin};

/// Runs curl writing the body to a scratch file; returns (status code, body).
fn curl_to_file(extra: &[&str], url: &str) -> (String, Vec<u8>) {
    let out = ScratchGuard(scratch_file("curl-out"));
    let out_path = out.path().to_string_lossy().into_owned();
    let mut args: Vec<&str> = extra.to_vec();
    args.extend_from_slice(&["-o", &out_path, "-w", "%{http_code}", url]);
    let result = curl(&args);
    assert!(result.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&result.stderr));
    let body = fs::read(out.path()).unwrap_or_default();
    (String::from_utf8_lossy(&result.stdout).into_owned(), body)
}

#[test]
fn curl_downloads_16_mib_chunked() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let n = 16 * 1024 * 1024;
    let (code, body) = curl_to_file(&[], &host.url(&format!("/bytes?n={n}&seed=21&framing=chunked")));
    assert_eq!(code, "200");
    assert_same_bytes(&body, &pattern(n, 21), "curl 16 MiB chunked");
}

#[test]
fn curl_uploads_chunked_and_with_expect_continue() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let body = pattern(3 * 1024 * 1024, 22);
    let input = ScratchGuard(scratch_file("curl-in"));
    fs::write(input.path(), &body).expect("write upload file");
    let data = format!("@{}", input.path().to_string_lossy());
    let url = host.url("/echo");
    let cases: [&[&str]; 2] = [&["-H", "Transfer-Encoding: chunked", "-H", "Expect:"], &["-H", "Expect: 100-continue"]];
    for headers in cases {
        let mut args = headers.to_vec();
        args.extend_from_slice(&["--data-binary", &data]);
        let (code, echoed) = curl_to_file(&args, &url);
        assert_eq!(code, "200", "curl upload {headers:?}");
        assert_same_bytes(&echoed, &body, &format!("curl upload {headers:?}"));
    }
}

#[test]
fn curl_http10_gets_whole_body() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let (code, body) = curl_to_file(&["--http1.0"], &host.url("/bytes?n=100000&seed=23&framing=chunked"));
    assert_eq!(code, "200");
    assert_same_bytes(&body, &pattern(100_000, 23), "curl HTTP/1.0");
}
