//! The plugin side of the host's IO functions: a copyable pair of host table
//! and context pointer, valid for one callback (`'a`). Every safe wrapper
//! holds one; this is the only place that calls through IO fn pointers.

use std::marker::PhantomData;

use crate::ffi::{HostTable, IoCtx};

/// Host functions plus the IO context of the current callback.
#[derive(Clone, Copy)]
pub(crate) struct Io<'a> {
    host: &'a HostTable,
    ctx: *mut IoCtx,
    _callback: PhantomData<&'a mut IoCtx>,
}

impl<'a> Io<'a> {
    /// # Safety
    /// `ctx` must be the IO context the host passed to the current callback,
    /// valid for `'a`.
    pub(crate) unsafe fn new(host: &'a HostTable, ctx: *mut IoCtx) -> Self {
        Io { host, ctx, _callback: PhantomData }
    }

    pub(crate) fn host(&self) -> &'a HostTable {
        self.host
    }

    pub(crate) fn ctx(&self) -> *mut IoCtx {
        self.ctx
    }
}

/// Calls host function `$f` of an [`Io`] with its context and `$args`.
/// The host validates every argument (handles are checked ids), so the call is
/// safe for any values; the `unsafe` is only the FFI call itself.
macro_rules! host_call {
    ($io:expr, $f:ident $(, $arg:expr)* $(,)?) => {{
        let io = $io;
        // SAFETY: the context is valid for the callback ('a) and the host
        // validates every handle and length it receives.
        unsafe { (io.host().$f)(io.ctx() $(, $arg)*) }
    }};
}
pub(crate) use host_call;

/// Makes a handle id `!Send + !Sync`: ids belong to one transaction on one
/// thread, and this keeps them out of `static`s and shared plugin state.
pub(crate) type NotSend = std::marker::PhantomData<*const ()>;
