//! The gzip plugin's counters in the host's `/stats`: one per coding compressed, one per
//! reason skipped, and the bytes into and out of the compressors.

use e2e::gzip::{decode, GzipHost};
use e2e::text::text;

#[test]
fn counters_count_each_outcome_and_the_bytes() {
    let gz = GzipHost::start(Some("supported-algorithms gzip,deflate,br,zstd\n"));
    let mut wire = 0u64;
    for coding in ["gzip", "deflate", "br", "zstd", "zstd"] {
        let resp = gz.get("/text?n=20000&framing=chunked", coding);
        assert_eq!(decode(coding, &resp.body), text(20000, 1));
        wire += resp.body.len() as u64;
    }
    gz.get("/text?n=5000&ct=image%2Fpng", "gzip"); // type
    gz.get("/text?n=100", "gzip"); // size
    gz.get("/text?n=5000&status=500", "gzip"); // status
    gz.get("/text?n=5000&h=Content-Encoding:br", "gzip"); // encoded
    gz.get("/text?n=5000&h=Cache-Control:no-transform", "gzip"); // no-transform
    gz.request("GET", "/text?n=5000", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-1")]); // range
    gz.get("/text?n=5000", "identity"); // not accepted
    gz.get("/text?n=5000", "identity"); // not accepted
    let stats = gz.host.wait_idle();
    let gzip = stats.plugins.iter().find(|p| p.name == "plugin-gzip").expect("the gzip plugin's entry");
    let c = &gzip.counters;
    let get = |name: &str| c.get(name).copied().unwrap_or_else(|| panic!("no counter {name} in {c:?}"));
    assert_eq!(
        ["compressed_gzip", "compressed_deflate", "compressed_br", "compressed_zstd"].map(get),
        [1, 1, 1, 2],
        "{c:?}"
    );
    assert_eq!(
        ["skipped_type", "skipped_size", "skipped_status", "skipped_encoded", "skipped_no_transform", "skipped_range"]
            .map(get),
        [1, 1, 1, 1, 1, 1],
        "{c:?}"
    );
    assert_eq!(get("skipped_not_accepted"), 2, "{c:?}");
    assert_eq!(get("skipped_disabled"), 0, "{c:?}");
    assert_eq!(get("bytes_in"), 5 * 20000, "{c:?}");
    assert_eq!(get("bytes_out"), wire, "{c:?}");
}
