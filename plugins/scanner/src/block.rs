//! Block mode's decision, apart from the IO: a body is held until it ends or
//! passes `--max-hold`; a match while held blocks the message, a match after
//! the hold was released aborts the transaction (the client must never take a
//! cut body for a whole one).
//!
//! States: `Holding` -> `Released` (no match by the end, or past the limit)
//! or `Decided` (blocked or aborted). [`Hold::step`] returns the transition;
//! [`BlockTransform`] acts on it. Held bytes are the input's blocks shared
//! into the held output, not copies.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use plugin_sdk::{log_warn, Chunk, Event, Message, Output, StreamAdapter, StreamTransform, Transform, TransformCx};

use crate::log::MatchLog;
use crate::matcher::{Found, Scan};
use crate::stats::Count;
use crate::Shared;

/// What to do after a block of the body was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep holding: nothing goes out yet.
    Hold,
    /// Release the message as it came (head and held bytes), then pass the rest.
    Release,
    /// Already released: pass this block on.
    Pass,
    /// A match while held: replace the message with the block status.
    Block(Found),
    /// A match after release: abort the transaction, close the connection.
    Abort(Found),
    /// Decided earlier (blocked or aborted): ignore the rest.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Holding,
    Released,
    Decided,
}

/// The hold of one body.
#[derive(Debug)]
pub struct Hold {
    max_hold: u64,
    state: State,
}

impl Hold {
    /// A body held up to `max_hold` bytes.
    pub fn new(max_hold: u64) -> Hold {
        Hold { max_hold, state: State::Holding }
    }

    /// After scanning up to `scanned` bytes: `hit` is a match seen (final or
    /// not: any occurrence blocks), `ended` whether the body is complete.
    pub fn step(&mut self, scanned: u64, hit: Option<Found>, ended: bool) -> Step {
        match (self.state, hit) {
            (State::Decided, _) => Step::Done,
            (State::Holding, Some(f)) => {
                self.state = State::Decided;
                Step::Block(f)
            }
            (State::Released, Some(f)) => {
                self.state = State::Decided;
                Step::Abort(f)
            }
            (State::Holding, None) if ended || scanned > self.max_hold => {
                self.state = State::Released;
                Step::Release
            }
            (State::Holding, None) => Step::Hold,
            (State::Released, None) => Step::Pass,
        }
    }
}

/// The short body of a blocked message.
pub fn blocked_body(status: u16) -> String {
    format!("{status}: blocked: the message matched a pattern the scanner is configured to block\n")
}

/// One body in block mode: a [`StreamTransform`] holding its output, plus
/// the one thing that layer cannot do, aborting the transaction (a match
/// after release), done from the raw layer around it.
pub struct BlockTransform {
    inner: StreamAdapter<BlockStream>,
    abort: Rc<Cell<bool>>,
}

impl BlockTransform {
    /// A block transform for one body; `log` names it.
    pub fn new(shared: Arc<Shared>, log: MatchLog) -> BlockTransform {
        let abort = Rc::new(Cell::new(false));
        let hold = Hold::new(shared.cfg.max_hold);
        let scan = Scan::new(&shared.matcher);
        let stream = BlockStream { shared, scan, log, hold, abort: Rc::clone(&abort), counted: false };
        BlockTransform { inner: StreamAdapter::new(stream), abort }
    }
}

impl Transform for BlockTransform {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        self.inner.on_event(cx, event);
        if self.abort.take() && !cx.is_closed() {
            // The head and part of the body are gone: closing the output
            // aborted is the only way left that never passes a cut body off
            // as whole (the host closes the client connection).
            cx.output_vconn().abort(0);
        }
    }
}

/// The streaming side of [`BlockTransform`].
pub struct BlockStream {
    shared: Arc<Shared>,
    scan: Scan,
    log: MatchLog,
    hold: Hold,
    abort: Rc<Cell<bool>>,
    /// The body was counted and logged (at the decision, or at its end).
    counted: bool,
}

impl BlockStream {
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
                        self.abort_txn();
                    }
                }
                self.count();
            }
            Step::Abort(found) => {
                log_warn!("a match at offset {} past --max-hold: aborting the {}", found.start, self.log.subject());
                self.abort_txn();
                self.count();
            }
            Step::Done => {}
        }
    }

    fn abort_txn(&mut self) {
        self.shared.stats.inc(Count::Aborted);
        self.abort.set(true);
    }

    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.shared.body_done(self.scan.scanned(), &self.log);
        }
    }
}

impl StreamTransform for BlockStream {
    fn holds_output(&self) -> bool {
        true
    }

    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        if self.counted {
            return; // decided: the rest is not scanned
        }
        let mut hit = None;
        let BlockStream { shared, scan, log, .. } = self;
        scan.feed(&shared.matcher, chunk, &mut |f| {
            shared.record(log, f);
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
        let BlockStream { shared, scan, log, .. } = self;
        scan.finish(&mut |f| {
            shared.record(log, f);
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

    const HIT: Found = Found { pattern: 0, start: 3, end: 5 };

    #[test]
    fn no_match_holds_then_releases_at_the_end() {
        let mut h = Hold::new(100);
        assert_eq!(h.step(40, None, false), Step::Hold);
        assert_eq!(h.step(100, None, false), Step::Hold, "exactly max-hold is still held");
        assert_eq!(h.step(100, None, true), Step::Release);
        assert_eq!(h.step(100, None, true), Step::Pass);
    }

    #[test]
    fn a_match_while_held_blocks_once() {
        let mut h = Hold::new(100);
        assert_eq!(h.step(10, None, false), Step::Hold);
        assert_eq!(h.step(20, Some(HIT), false), Step::Block(HIT));
        assert_eq!(h.step(30, Some(HIT), true), Step::Done);
    }

    #[test]
    fn past_max_hold_releases_and_a_later_match_aborts() {
        let mut h = Hold::new(100);
        assert_eq!(h.step(101, None, false), Step::Release);
        assert_eq!(h.step(200, None, false), Step::Pass);
        assert_eq!(h.step(300, Some(HIT), false), Step::Abort(HIT));
        assert_eq!(h.step(400, None, true), Step::Done);
    }

    #[test]
    fn a_match_in_the_block_that_passes_the_limit_still_blocks() {
        let mut h = Hold::new(100);
        assert_eq!(h.step(5000, Some(HIT), false), Step::Block(HIT));
    }

    #[test]
    fn blocked_body_names_the_status() {
        assert!(blocked_body(451).starts_with("451: blocked"));
    }

    use crate::tests::{every_split_raw as every_split, shared};
    use crate::Mode;
    use plugin_sdk::testing::FakeHost;

    fn blocker(sh: &Arc<Shared>) -> BlockTransform {
        BlockTransform::new(Arc::clone(sh), MatchLog::new("response", "GET", "/"))
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
        let out = FakeHost::new().run(blocker(&within), &chunks);
        assert_eq!(out.replaced.map(|m| m.status), Some(403));
        // --max-hold 16: released after 24 bytes; the match at 64 comes too late.
        let args: Vec<String> = ["--patterns", "p", "--mode", "block", "--max-hold", "16"].map(String::from).to_vec();
        let cfg = crate::Config::parse(&args).expect("config");
        let pats = crate::patterns::parse(b"bad\n", "p", false).expect("patterns");
        let past = Arc::new(Shared::new(cfg, pats).expect("shared"));
        let out = FakeHost::new().run(blocker(&past), &chunks);
        assert_eq!(out.replaced, None);
        assert!(!out.complete, "an aborted body must not look complete: {out:?}");
        assert!(out.bytes.len() < body.len(), "{out:?}");
        assert_eq!((past.stats.get(Count::Aborted), past.stats.get(Count::Blocked)), (1, 0));
    }
}
