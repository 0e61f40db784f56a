//! Chain states kept per thread for the next transaction's chain, so a
//! chain's cell, vconnections, slot tables, event queue and buffer storage
//! are allocated once per worker instead of once per body.
//!
//! A state comes back only emptied ([`State::clear`]: every block, plugin
//! reference and fault dropped) and takes a fresh serial when it is reused,
//! so nothing of one transaction is visible to the next, and a handle kept
//! from it is refused as before. States that grew large are freed, not kept.

use std::cell::RefCell;

use super::host_fns::ChainCell;
use super::plugin::PluginRef;
use super::state::State;

/// Spare states one thread keeps at most: more than the chains a worker
/// typically finishes between two it starts.
const MAX_SPARE: usize = 64;

thread_local! {
    // Boxed on purpose: a chain's context pointer is its box's address, and
    // keeping the boxes saves their allocation too.
    #[allow(clippy::vec_box)]
    static SPARE: RefCell<Vec<Box<ChainCell>>> = const { RefCell::new(Vec::new()) };
}

/// A state for a chain of `plugins`: a spare one if this thread has it.
pub(super) fn take(plugins: impl Iterator<Item = PluginRef>, water_mark: usize) -> Box<ChainCell> {
    let spare = SPARE.try_with(|s| s.borrow_mut().pop()).ok().flatten();
    match spare {
        Some(cell) => {
            cell.state.borrow_mut().reuse(plugins, water_mark);
            cell
        }
        None => Box::new(ChainCell { state: RefCell::new(State::new(plugins.collect(), water_mark)) }),
    }
}

/// Empties a finished chain's state and keeps it for the next chain.
pub(super) fn give_back(cell: Box<ChainCell>) {
    if !cell.state.borrow_mut().clear() {
        return;
    }
    // `try_with`: a chain dropped while its thread is torn down is just freed.
    let _ = SPARE.try_with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < MAX_SPARE {
            spare.push(cell);
        }
    });
}
