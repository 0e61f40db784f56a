//! Block mode's decision, apart from the IO: a body is held until it ends or
//! passes `--max-hold`; a match while held blocks the message, a match after
//! the hold was released aborts the transaction (the client must never take a
//! cut body for a whole one).
//!
//! States: `Holding` -> `Released` (no match by the end, or past the limit)
//! or `Decided` (blocked or aborted). [`Hold::step`] returns the transition;
//! [`crate::block`] acts on it.

use crate::matcher::Found;

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
}
