//! Many clients at once, across the host's worker threads: every body still arrives intact
//! and lands on the client that asked for it.

use std::thread;

use e2e::{agent, assert_same_bytes, pattern, read_body, HostBuilder, Origin};

const CLIENTS: u64 = 8;
const REQUESTS_EACH: u64 = 10;

#[test]
fn concurrent_clients_each_get_their_own_bodies() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).threads(2).start();
    let base = host.url("");
    let workers: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let base = base.clone();
            thread::spawn(move || {
                let agent = agent();
                for i in 0..REQUESTS_EACH {
                    let seed = client * 1000 + i;
                    let n = usize::try_from(1 + (seed * 7919) % 200_000).expect("small");
                    let framing = ["length", "chunked", "close"][usize::try_from(i % 3).expect("small")];
                    let what = format!("client {client} request {i} ({framing}, {n} B)");
                    let body = pattern(n, seed);
                    let mut resp = if i % 2 == 0 {
                        agent.get(format!("{base}/bytes?n={n}&seed={seed}&framing={framing}")).call()
                    } else {
                        agent.post(format!("{base}/echo?framing={framing}")).send(&body[..])
                    }
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(resp.status(), 200, "{what}");
                    let got = read_body(&mut resp).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_same_bytes(&got, &body, &what);
                }
            })
        })
        .collect();
    for worker in workers {
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
    }
    assert_eq!(origin.requests().len(), usize::try_from(CLIENTS * REQUESTS_EACH).expect("small"));
}
