//! Block mode: the message is held while its body is scanned (the input's
//! blocks, shared into the held output, not copied), then released, replaced
//! by the block status, or aborted ([`Output::abort`]), as [`crate::hold`] decides.

use std::sync::Arc;

use plugin_sdk::{log_warn, Chunk, Message, Output, StreamTransform};

use crate::hold::{Hold, Step};
use crate::log::MatchLog;
use crate::matcher::Scan;
use crate::stats::Count;
use crate::Shared;

/// The short body of a blocked message.
pub fn blocked_body(status: u16) -> String {
    format!("{status}: blocked: the message matched a pattern the scanner is configured to block\n")
}

/// One body in block mode: a [`StreamTransform`] holding its output.
pub struct Block {
    shared: Arc<Shared>,
    scan: Scan,
    log: MatchLog,
    hold: Hold,
    /// The body was counted and logged (at the decision, or at its end).
    counted: bool,
}

impl Block {
    /// A block transform for one body; `log` names it.
    pub fn new(shared: Arc<Shared>, log: MatchLog) -> Block {
        let hold = Hold::new(shared.cfg.max_hold);
        let scan = Scan::new(&shared.matcher);
        Block { shared, scan, log, hold, counted: false }
    }

    fn act(&mut self, step: Step, chunk: Option<&Chunk<'_>>, out: &mut Output<'_>) {
        let pass = |out: &mut Output<'_>| {
            if let Some(chunk) = chunk {
                out.pass(chunk);
            }
        };
        match step {
            Step::Hold | Step::Pass => pass(out),
            Step::Release => {
                pass(out);
                // At the end of the body (no chunk) the adapter sends the held
                // output itself, with its exact length: a Content-Length even
                // for a chunked input.
                if chunk.is_some() {
                    out.release();
                }
            }
            Step::Block(_) => {
                let status = self.shared.cfg.block_status;
                let page = Message::new(status).header("content-type", "text/plain").body(blocked_body(status));
                match out.replace(&page) {
                    Ok(()) => self.shared.stats.inc(Count::Blocked),
                    Err(refused) => {
                        log_warn!("cannot block the {}: {refused}; aborting it instead", self.log.subject());
                        self.abort(out);
                    }
                }
                self.count();
            }
            Step::Abort(found) => {
                log_warn!("a match at offset {} past --max-hold: aborting the {}", found.start, self.log.subject());
                self.abort(out);
                self.count();
            }
            Step::Done => {}
        }
    }

    /// The head and part of the body may be gone: aborting is the only way
    /// left that never passes a cut body off as whole.
    fn abort(&mut self, out: &mut Output<'_>) {
        self.shared.stats.inc(Count::Aborted);
        out.abort();
    }

    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.shared.body_done(self.scan.scanned(), &self.log);
        }
    }
}

impl StreamTransform for Block {
    fn holds_output(&self) -> bool {
        true
    }

    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        if self.counted {
            return; // decided: the rest is not scanned
        }
        let mut hit = None;
        let Block { shared, scan, log, .. } = self;
        scan.feed(&shared.matcher, chunk, &mut |f| {
            log.record(f);
            hit.get_or_insert(f);
        });
        // Any occurrence blocks, final or not: no need to wait for the longest.
        let hit = hit.or(scan.pending());
        let step = self.hold.step(self.scan.scanned(), hit, false);
        self.act(step, Some(chunk), out);
    }

    fn on_end(&mut self, out: &mut Output<'_>) {
        if self.counted {
            return;
        }
        let mut hit = None;
        let Block { scan, log, .. } = self;
        scan.finish(&mut |f| {
            log.record(f);
            hit.get_or_insert(f);
        });
        let step = self.hold.step(self.scan.scanned(), hit, true);
        self.act(step, None, out);
        self.count();
    }

    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn blocked_body_names_the_status() {
        assert!(blocked_body(451).starts_with("451: blocked"));
    }

    use crate::tests::{every_split, shared};
    use crate::Mode;
    use plugin_sdk::testing::FakeHost;

    fn blocker(sh: &Arc<Shared>) -> Block {
        Block::new(Arc::clone(sh), MatchLog::new("response", "GET", "/"))
    }

    #[test]
    fn no_match_goes_out_whole_with_its_exact_length() {
        let sh = shared("abcd\nbc\ncde\n\\x00\\xff\n", Mode::Block, false);
        let body = b"abx bxd ab cd cdf \x00\x00 \xff".to_vec();
        for (what, out) in every_split(&body, || blocker(&sh)) {
            assert_eq!(out.replaced, None, "{what}");
            assert_eq!((out.bytes.as_slice(), out.nbytes), (body.as_slice(), Some(body.len() as u64)), "{what}");
            assert!(out.complete && out.errors.is_empty(), "{what}: {out:?}");
        }
        assert_eq!((sh.stats.get(Count::Blocked), sh.stats.get(Count::Matches)), (0, 0));
    }

    #[test]
    fn every_pattern_at_every_split_blocks_with_the_status() {
        let pats = "abcd\nbc\ncde\n\\x00\\xff\nSecret\n";
        for body in [&b"xx abcd yy"[..], b"-bc-", b"..cde..", b"a\x00\xffb", b"top SECRET"] {
            let sh = shared(pats, Mode::Block, true);
            let runs = every_split(body, || blocker(&sh));
            for (what, out) in &runs {
                let page = out.replaced.as_ref().unwrap_or_else(|| panic!("{what}: {body:?} not blocked: {out:?}"));
                assert_eq!(page.status, 403, "{what}");
                assert_eq!(page.body, blocked_body(403).into_bytes(), "{what}");
                assert!(out.bytes.is_empty(), "{what}: no byte of a blocked body goes out");
            }
            assert_eq!(sh.stats.get(Count::Blocked), runs.len() as u64, "{body:?}");
        }
    }

    #[test]
    fn a_match_within_max_hold_blocks_and_one_past_it_aborts() {
        let mut body = vec![b'.'; 64];
        body.extend_from_slice(b"bad");
        let chunks: Vec<&[u8]> = body.chunks(8).collect();
        let within = shared("bad\n", Mode::Block, false);
        let out = FakeHost::new().run_stream(blocker(&within), &chunks);
        assert_eq!(out.replaced.map(|m| m.status), Some(403));
        // --max-hold 16: released after 24 bytes; the match at 64 comes too late.
        let args: Vec<String> = ["--patterns", "p", "--mode", "block", "--max-hold", "16"].map(String::from).to_vec();
        let cfg = crate::Config::parse(&args).expect("config");
        let pats = crate::patterns::parse(b"bad\n", "p", false).expect("patterns");
        let past = Arc::new(Shared::new(cfg, pats).expect("shared"));
        let out = FakeHost::new().run_stream(blocker(&past), &chunks);
        assert_eq!(out.replaced, None);
        assert!(!out.complete && out.aborted, "an aborted body must not look complete: {out:?}");
        assert!(out.errors.is_empty(), "{out:?}");
        assert!(out.bytes.len() < body.len(), "{out:?}");
        assert_eq!((past.stats.get(Count::Aborted), past.stats.get(Count::Blocked)), (1, 0));
    }
}
