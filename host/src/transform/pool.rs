//! Chain states kept per thread for the next transaction's chain, so a
//! chain's cell, vconnections, slot tables, event queue and buffer storage
//! are allocated once per worker instead of once per body.
//!
//! A state comes back only emptied ([`State::clear`]: every block, plugin
//! reference and fault dropped) and takes a fresh serial when it is reused,
//! so nothing of one transaction is visible to the next, and a handle kept
//! from it is refused as before. States that grew large are freed, not kept.
//!
//! The lists of instances a transaction collects for its chains are kept
//! the same way, empty ([`instance_list`]).

use std::cell::RefCell;

use super::host_fns::ChainCell;
use super::instance::Instance;
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
    static SPARE_LISTS: RefCell<Vec<Vec<Instance>>> = const { RefCell::new(Vec::new()) };
}

/// Instances a list may hold and still be kept: more than a plugin.config has lines.
const MAX_LIST: usize = 64;

/// An empty list with room for `n` instances: a spare one if this thread has it.
pub(crate) fn instance_list(n: usize) -> Vec<Instance> {
    let mut list = SPARE_LISTS.try_with(|s| s.borrow_mut().pop()).ok().flatten().unwrap_or_default();
    list.reserve(n);
    list
}

/// Drops the instances in `list` (destroying those still alive) and keeps its storage.
pub(crate) fn give_back_list(mut list: Vec<Instance>) {
    list.clear();
    if list.capacity() == 0 || list.capacity() > MAX_LIST {
        return;
    }
    let _ = SPARE_LISTS.try_with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < MAX_SPARE {
            spare.push(list);
        }
    });
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
