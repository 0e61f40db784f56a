/*
 * plugin_host.h: the plugin-host plugin ABI (1.2), for plugins written in C.
 *
 * The same ABI as plugin-sdk's Rust `ffi` module, generated from it
 * (plugin-sdk/src/ffi.rs) by tools/c-header; a test fails while this file
 * is stale. examples/c-null/null.c is a whole plugin against it.
 *
 * A PLUGIN is a shared object defining one function, declared at the end of
 * this file:
 *
 *     const PH_PluginModule *plugin_host_module(void);
 *
 * It returns a static descriptor:
 *
 *     size          sizeof(PH_PluginModule)
 *     abi_major     PH_ABI_MAJOR
 *     abi_minor     PH_ABI_MINOR
 *     panic_unwind  1 (see below)
 *     name          the plugin's name, for the log and /stats (UTF-8, length given)
 *     sdk_version   free text, for example "c"
 *     layout        NULL: this is what says "a C plugin"
 *     table         a static PH_PluginTable whose size is sizeof(PH_PluginTable)
 *
 * The descriptor, the table and the strings must live as long as the library.
 *
 * WHAT THE HOST CHECKS at load (and `plugin-host check`), refusing a plugin
 * with one line that names it and says what to do:
 *
 *   - the symbol exists and returns non-NULL;
 *   - abi_major equals the host's; abi_minor is no newer than the host's (a
 *     plugin of an older minor keeps loading in newer hosts);
 *   - size is at least the descriptor size of this major;
 *   - panic_unwind is 1. The flag is for Rust plugins built with
 *     panic = "abort", whose panics would kill the proxy; C has no panics, so
 *     a C plugin says 1. Nothing catches a C crash, though: a bad pointer,
 *     abort() or an endless loop in a C plugin is the whole process's, every
 *     transaction with it. What the host does check at run time (handles,
 *     the VIO protocol; a breach aborts only its transaction) holds for C too.
 *   - layout: a Rust plugin carries abi_stable's layout of every boundary
 *     type, which the host compares field by field. C cannot produce one; a
 *     NULL layout says "C plugin", and the versions and sizes here are all
 *     that is checked. This header, generated from the host's own types, is
 *     what keeps a C plugin's structs equal to the host's: build against the
 *     header of the host you load into.
 *   - table->size equals the entry table size of the plugin's minor.
 *
 * OWNERSHIP AND LIFETIMES (the rules of ffi.rs):
 *
 *   - Handles (PH_Handle) are opaque non-zero numbers naming host objects
 *     (vconnections, VIOs, IO buffers, readers); 0 means "none". The host
 *     validates every handle it receives: a stale or foreign one is a
 *     protocol error charged to the plugin (its transaction is aborted),
 *     never undefined behaviour. Handles are valid in one chain instance.
 *   - Context pointers (PH_IoCtx *, PH_TxnCtx *) are owned by the host and
 *     valid only during the call that passed them: never keep them.
 *   - The PH_HostTable passed to init, hooks and events is static in the
 *     host and may be kept until fini. Call no field past host->size.
 *   - Borrowed bytes (PH_ByteSlice) handed to the host are read during the
 *     call only. Slices handed to the plugin (arguments, header values,
 *     buffer blocks) stay valid until the plugin's callback returns, and no
 *     longer: copy what you keep. They are not NUL-terminated.
 *   - Owned bytes (PH_OwnedBytes) move from plugin to host, which calls
 *     release(owner) exactly once, possibly on another thread, possibly after
 *     the callback returned, but before the library is unloaded.
 *   - Memory is freed by the side that allocated it: the state `init` stores
 *     comes back to `fini`; an instance the host accepted in
 *     txn_add_transform comes back to transform_destroy exactly once (if it
 *     refused, the instance stays the plugin's); a state stored with
 *     txn_state_set comes back to txn_state_drop.
 *   - Tables are size-prefixed: a newer minor only appends fields.
 *   - One transaction's hooks and transform events run on one thread, never
 *     concurrently; different transactions run on different threads, and
 *     init, fini and counter_at may run on yet others (counter_at at any
 *     time): plugin-global state must be thread-safe.
 *   - vio_reenable and vio_cont_call queue their event: no entry of the
 *     plugin is called from inside a host function.
 *   - PH_STATUS_PANIC is how the Rust SDK reports a caught panic; a C plugin
 *     returns PH_STATUS_OK (or an error), and its panic_message returns 0.
 *
 * NAMES: C has no modules, so the constants of ffi's inner modules carry the
 * module's name: Rust ffi::event_code::IMMEDIATE is PH_EVENT_CODE_IMMEDIATE
 * here, and so for body, hook_id, message, direction and closed. Every type
 * is prefixed PH_. The comments below are the Rust docs: `[x]` names the
 * Rust item, and "the module docs" are the rules above.
 */
