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

#ifndef PLUGIN_HOST_H
#define PLUGIN_HOST_H

/* Generated from plugin-sdk/src/ffi.rs by `cargo run -p c-header`; do not edit. */

#include <stddef.h>
#include <stdint.h>

/* abi_stable's type layout: opaque to C. A C plugin's descriptor has none (NULL). */
typedef struct PH_TypeLayout PH_TypeLayout;

// ABI major version: the host refuses a plugin whose major differs.
#define PH_ABI_MAJOR 1

// ABI minor version: a plugin's minor must be <= the host's.
#define PH_ABI_MINOR 3

// Success.
#define PH_STATUS_OK 0

// The operation failed; for `init`, the error buffer holds why.
#define PH_STATUS_ERROR 1

// The callee panicked; the panic was caught at the boundary.
#define PH_STATUS_PANIC 2

// The callee received an argument it does not understand (unknown event
// code, unknown hook id).
#define PH_STATUS_BAD_ARG 3

// ABI 1.2. `txn_add_transform`: the message has no body, so a transform
// would never run; the plugin keeps the instance.
#define PH_STATUS_NO_BODY 4

// ABI 1.2. `txn_add_transform`: too late in the transaction for a
// transform in that direction; `transform_replace`: the head has left.
#define PH_STATUS_TOO_LATE 5

// No body (a request without framing, a response to HEAD, 1xx, 204, 304).
#define PH_BODY_NONE 0

// A body of the length stored in `len_out`.
#define PH_BODY_LENGTH 1

// A body of unknown length (chunked, or delimited by the connection's close).
#define PH_BODY_UNKNOWN 2

// No such message yet (the response, before it was read).
#define PH_BODY_ABSENT -1

// `TS_EVENT_IMMEDIATE`.
#define PH_EVENT_CODE_IMMEDIATE 1

// `TS_EVENT_ERROR`.
#define PH_EVENT_CODE_ERROR 3

// `TS_EVENT_VCONN_READ_READY`.
#define PH_EVENT_CODE_VCONN_READ_READY 100

// `TS_EVENT_VCONN_WRITE_READY`.
#define PH_EVENT_CODE_VCONN_WRITE_READY 101

// `TS_EVENT_VCONN_READ_COMPLETE`.
#define PH_EVENT_CODE_VCONN_READ_COMPLETE 102

// `TS_EVENT_VCONN_WRITE_COMPLETE`.
#define PH_EVENT_CODE_VCONN_WRITE_COMPLETE 103

// `TS_EVENT_VCONN_EOS`.
#define PH_EVENT_CODE_VCONN_EOS 104

// The client request head has been read.
#define PH_HOOK_ID_READ_REQUEST_HEADERS 1

// The origin response head has been read.
#define PH_HOOK_ID_READ_RESPONSE_HEADERS 2

// The response head is about to be sent to the client.
#define PH_HOOK_ID_SEND_RESPONSE_HEADERS 3

// The transaction is over.
#define PH_HOOK_ID_TXN_CLOSE 4

// The client request.
#define PH_MESSAGE_REQUEST 0

// The origin response.
#define PH_MESSAGE_RESPONSE 1

// Request body (client to origin).
#define PH_DIRECTION_REQUEST 0

// Response body (origin to client).
#define PH_DIRECTION_RESPONSE 1

// Open.
#define PH_CLOSED_OPEN 0

// Closed normally.
#define PH_CLOSED_CLOSED 1

// Aborted.
#define PH_CLOSED_ABORTED 2

// Opaque: the IO side of one transaction's transform chain (host-owned).
typedef struct PH_IoCtx PH_IoCtx;

// Opaque: one transaction during one hook call (host-owned).
typedef struct PH_TxnCtx PH_TxnCtx;

// A `'static` string in the plugin's image (name, version).
typedef struct PH_StaticStr {
  // UTF-8 bytes.
  const uint8_t *ptr;
  // Length in bytes.
  size_t len;
} PH_StaticStr;

// Borrowed bytes; see the module docs for how long each direction is valid.
typedef struct PH_ByteSlice {
  // First byte; may be dangling when `len == 0`.
  const uint8_t *ptr;
  // Number of bytes.
  size_t len;
} PH_ByteSlice;

// An opaque host object id; `0` is "none".
typedef uint64_t PH_Handle;

// Plugin-owned bytes handed to the host without copying. The host calls
// `release(owner)` exactly once when it no longer needs `ptr..ptr+len`.
typedef struct PH_OwnedBytes {
  // First byte.
  const uint8_t *ptr;
  // Number of bytes.
  size_t len;
  // Opaque plugin value identifying the allocation.
  void *owner;
  // Frees the allocation; must be callable from any thread.
  void (*release)(void *owner);
} PH_OwnedBytes;

// Functions the host offers plugins; passed to every plugin entry point.
// The host keeps it in static memory. `size` is `size_of::<HostTable>()` of
// the host's build: a plugin must not call a field past it.
typedef struct PH_HostTable {
  // `size_of::<HostTable>()` as built by the host.
  size_t size;
  // The host's ABI minor version.
  uint32_t abi_minor;
  // Log `msg` at `level` (0 error, 1 warn, 2 info, 3 debug).
  void (*log)(uint32_t level, struct PH_ByteSlice msg);
  // The transform currently handling an event.
  PH_Handle (*transform_self)(struct PH_IoCtx *io);
  // The output vconnection of the current transform.
  PH_Handle (*transform_output_vconn)(struct PH_IoCtx *io);
  // Starts a write of `nbytes` (`i64::MAX`: unknown) from `reader` into `vconn`.
  PH_Handle (*vconn_write)(struct PH_IoCtx *io, PH_Handle vconn, PH_Handle reader, int64_t nbytes);
  // Starts a read into `buffer`; transforms do not support it (returns 0).
  PH_Handle (*vconn_read)(struct PH_IoCtx *io, PH_Handle vconn, PH_Handle buffer, int64_t nbytes);
  // Closes `vconn` normally (propagates down the chain).
  int32_t (*vconn_close)(struct PH_IoCtx *io, PH_Handle vconn);
  // Aborts `vconn` with `error` (propagates down the chain).
  int32_t (*vconn_abort)(struct PH_IoCtx *io, PH_Handle vconn, int32_t error);
  // Shuts down the read and/or write side of `vconn` (non-zero = yes).
  int32_t (*vconn_shutdown)(struct PH_IoCtx *io, PH_Handle vconn, uint8_t read, uint8_t write);
  // One of [`closed`]'s values.
  int32_t (*vconn_closed)(struct PH_IoCtx *io, PH_Handle vconn);
  // The read VIO of `vconn` (0 if none).
  PH_Handle (*vconn_read_vio)(struct PH_IoCtx *io, PH_Handle vconn);
  // The write VIO of `vconn` (0 if none).
  PH_Handle (*vconn_write_vio)(struct PH_IoCtx *io, PH_Handle vconn);
  // The VIO's buffer (0 once the operation is shut down).
  PH_Handle (*vio_buffer)(struct PH_IoCtx *io, PH_Handle vio);
  // The VIO's reader (write VIOs; 0 once shut down).
  PH_Handle (*vio_reader)(struct PH_IoCtx *io, PH_Handle vio);
  // The vconnection the VIO operates on.
  PH_Handle (*vio_vconn)(struct PH_IoCtx *io, PH_Handle vio);
  // The VIO's continuation (the vconnection that started it; 0 = the host).
  PH_Handle (*vio_cont)(struct PH_IoCtx *io, PH_Handle vio);
  // Total bytes of the operation (`i64::MAX`: unknown).
  int64_t (*vio_nbytes_get)(struct PH_IoCtx *io, PH_Handle vio);
  // Sets the total bytes.
  int32_t (*vio_nbytes_set)(struct PH_IoCtx *io, PH_Handle vio, int64_t nbytes);
  // Bytes done so far.
  int64_t (*vio_ndone_get)(struct PH_IoCtx *io, PH_Handle vio);
  // Sets bytes done.
  int32_t (*vio_ndone_set)(struct PH_IoCtx *io, PH_Handle vio, int64_t ndone);
  // `nbytes - ndone`.
  int64_t (*vio_ntodo)(struct PH_IoCtx *io, PH_Handle vio);
  // Wakes the VIO's vconnection; the event is queued, never delivered inside this call.
  int32_t (*vio_reenable)(struct PH_IoCtx *io, PH_Handle vio);
  // Sends `event` to the VIO's continuation (queued, as `TSContCall` on the VIO's continuation).
  int32_t (*vio_cont_call)(struct PH_IoCtx *io, PH_Handle vio, uint32_t event);
  // Creates an IO buffer owned by the current transform.
  PH_Handle (*buffer_create)(struct PH_IoCtx *io);
  // Destroys an IO buffer (and its readers).
  int32_t (*buffer_destroy)(struct PH_IoCtx *io, PH_Handle buffer);
  // The buffer's water mark in bytes.
  int64_t (*buffer_water_mark_get)(struct PH_IoCtx *io, PH_Handle buffer);
  // Sets the water mark.
  int32_t (*buffer_water_mark_set)(struct PH_IoCtx *io, PH_Handle buffer, int64_t mark);
  // Appends a copy of `bytes`.
  int32_t (*buffer_append_copy)(struct PH_IoCtx *io, PH_Handle buffer, struct PH_ByteSlice bytes);
  // Appends plugin-owned bytes without copying; ownership moves to the host
  // even when the call fails (the host then releases them at once).
  int32_t (*buffer_append_owned)(struct PH_IoCtx *io, PH_Handle buffer, struct PH_OwnedBytes bytes);
  // Appends `n` bytes of `reader` starting `offset` bytes in, sharing blocks. Returns bytes copied.
  int64_t (*buffer_copy)(struct PH_IoCtx *io,
                         PH_Handle dst,
                         PH_Handle reader,
                         int64_t n,
                         int64_t offset);
  // Allocates a reader at the buffer's current start.
  PH_Handle (*reader_alloc)(struct PH_IoCtx *io, PH_Handle buffer);
  // Frees a reader.
  int32_t (*reader_free)(struct PH_IoCtx *io, PH_Handle reader);
  // Bytes readable.
  int64_t (*reader_avail)(struct PH_IoCtx *io, PH_Handle reader);
  // Block `index` of the readable bytes into `out`; returns 1, or 0 past the last block.
  int32_t (*reader_block)(struct PH_IoCtx *io,
                          PH_Handle reader,
                          size_t index,
                          struct PH_ByteSlice *out);
  // Consumes `n` bytes (at most `avail`).
  int32_t (*reader_consume)(struct PH_IoCtx *io, PH_Handle reader, int64_t n);
  // Value `index` of header `name` of [`message`] `msg` into `out`; 1 found, 0 not.
  int32_t (*txn_header_get)(struct PH_TxnCtx *txn,
                            uint32_t msg,
                            struct PH_ByteSlice name,
                            size_t index,
                            struct PH_ByteSlice *out);
  // Field `index` (name, value); 1 found, 0 past the end.
  int32_t (*txn_header_at)(struct PH_TxnCtx *txn,
                           uint32_t msg,
                           size_t index,
                           struct PH_ByteSlice *name,
                           struct PH_ByteSlice *value);
  // Replaces every value of `name` with `value`.
  int32_t (*txn_header_set)(struct PH_TxnCtx *txn,
                            uint32_t msg,
                            struct PH_ByteSlice name,
                            struct PH_ByteSlice value);
  // Adds a value of `name`.
  int32_t (*txn_header_append)(struct PH_TxnCtx *txn,
                               uint32_t msg,
                               struct PH_ByteSlice name,
                               struct PH_ByteSlice value);
  // Removes every value of `name`; 1 if any was there.
  int32_t (*txn_header_remove)(struct PH_TxnCtx *txn, uint32_t msg, struct PH_ByteSlice name);
  // The request method into `out`.
  int32_t (*txn_method)(struct PH_TxnCtx *txn, struct PH_ByteSlice *out);
  // The request target (URL) into `out`.
  int32_t (*txn_url)(struct PH_TxnCtx *txn, struct PH_ByteSlice *out);
  // The response status, 0 before a response exists.
  int32_t (*txn_status_get)(struct PH_TxnCtx *txn);
  // Sets the response status.
  int32_t (*txn_status_set)(struct PH_TxnCtx *txn, uint16_t status);
  // Fails the transaction with `status` and a message for the log.
  int32_t (*txn_fail)(struct PH_TxnCtx *txn, uint16_t status, struct PH_ByteSlice msg);
  // Adds a transform instance in [`direction`] `dir`. On [`STATUS_OK`] the
  // host owns `instance` and will call `transform_destroy` on it exactly
  // once; otherwise ownership stays with the plugin.
  int32_t (*txn_add_transform)(struct PH_TxnCtx *txn, uint32_t dir, void *instance);
  // ABI 1.2. This plugin's state for this transaction, as stored by
  // `txn_state_set`; null if none was stored.
  void *(*txn_state_get)(struct PH_TxnCtx *txn);
  // ABI 1.2. Stores this plugin's state for this transaction. From then
  // the host owns `state` and passes it to the plugin's `txn_state_drop`
  // exactly once, on the transaction's thread, after `txn_close`. Fails
  // (the plugin keeps `state`) if a state is already stored.
  int32_t (*txn_state_set)(struct PH_TxnCtx *txn, void *state);
  // ABI 1.2. Whether [`message`] `msg` has a body, by RFC 9112 framing as
  // received (before hooks edited it): one of [`body`]'s values; for
  // [`body::LENGTH`] the length goes to `len_out`.
  int32_t (*txn_body)(struct PH_TxnCtx *txn, uint32_t msg, int64_t *len_out);
  // ABI 1.2. From a transform: replaces the message its chain carries,
  // before its head has left, with `status`, `nfields / 2` header fields
  // (`fields` alternates names and values, read during the call) and
  // `body` (copied). A request transform's replacement is the response
  // the client gets instead; the origin never sees the request. The
  // chain ends: every transform gets its closed event, then no more.
  // [`STATUS_TOO_LATE`] once the head has left; [`STATUS_BAD_ARG`] for a
  // status outside 200..=599, an odd `nfields` or a bad field.
  int32_t (*transform_replace)(struct PH_IoCtx *io,
                               uint16_t status,
                               const struct PH_ByteSlice *fields,
                               size_t nfields,
                               struct PH_ByteSlice body);
} PH_HostTable;

// A host-provided buffer for a message from the plugin: why `init` failed
// or panicked, or the message of a panic (`panic_message`).
typedef struct PH_ErrorBuf {
  // Host memory of `cap` bytes the plugin may write UTF-8 into.
  uint8_t *ptr;
  // Capacity in bytes.
  size_t cap;
  // Where the plugin stores how many bytes it wrote.
  size_t *len;
} PH_ErrorBuf;

// The plugin's entry points. Lives in the plugin's static memory.
typedef struct PH_PluginTable {
  // `size_of::<PluginTable>()` as built by the plugin.
  size_t size;
  // Creates the plugin-global state from `args`; stores it in `state_out`
  // (plugin-owned until `fini`). On error writes a message into `err`.
  int32_t (*init)(const struct PH_HostTable *host,
                  const struct PH_ByteSlice *args,
                  size_t nargs,
                  void **state_out,
                  struct PH_ErrorBuf err);
  // Drops the plugin-global state. Called once, after every instance is destroyed.
  int32_t (*fini)(void *state);
  // Runs hook [`hook_id`] `hook` for one transaction.
  int32_t (*hook)(const struct PH_HostTable *host, void *state, uint32_t hook, struct PH_TxnCtx *txn);
  // Delivers `event` about `vio` (0 if none) to a transform instance.
  int32_t (*transform_event)(const struct PH_HostTable *host,
                             void *instance,
                             struct PH_IoCtx *io,
                             uint32_t event,
                             PH_Handle vio);
  // Drops a transform instance. Called once per instance the host accepted.
  int32_t (*transform_destroy)(void *instance);
  // ABI 1.1. Right after another entry of this table returned
  // [`STATUS_PANIC`], on the same thread: writes the panic's message
  // into `out` and returns 1, or returns 0 if there is none. Absent
  // from 1.0 plugins, whose panics the host reports without a message.
  int32_t (*panic_message)(struct PH_ErrorBuf out);
  // ABI 1.2. Drops a per-transaction state stored with `txn_state_set`.
  // Called once per stored state, on the transaction's thread.
  int32_t (*txn_state_drop)(void *state);
  // ABI 1.2. Counter `index` of the plugin whose global state is
  // `state`: its name into `name` (valid until `fini`) and its value
  // into `value`; returns 1, or 0 past the last counter. May be called
  // from any thread, concurrently with hooks and transforms. The host
  // reads indices 0, 1, ... in order until 0 is returned; which counters
  // sit at which index may change from one such read to the next (the
  // SDK ranks a `CounterGroup` anew when a read reaches its first index).
  int32_t (*counter_at)(void *state, size_t index, struct PH_ByteSlice *name, uint64_t *value);
  // ABI 1.3. The hooks the plugin whose global state is `state` wants
  // called, as a mask of `1 << id` over [`hook_id`] (bits the host does
  // not know are ignored). Asked once, right after a successful `init`;
  // the host calls [`PluginTable::hook`] only for those hooks, as Traffic
  // Server calls only the hooks a plugin added. Plugins older than 1.3
  // get every hook.
  uint32_t (*hooks_wanted)(void *state);
} PH_PluginTable;

// The static descriptor the entry symbol returns. Its first four fields never
// change, so any host can read the versions before trusting the rest.
typedef struct PH_PluginModule {
  // `size_of::<PluginModule>()` as built by the plugin.
  size_t size;
  // [`ABI_MAJOR`] of the SDK the plugin was built with.
  uint32_t abi_major;
  // [`ABI_MINOR`] of the SDK the plugin was built with.
  uint32_t abi_minor;
  // 1 if the plugin was built with `panic = "unwind"` (required).
  uint8_t panic_unwind;
  // The plugin's name (its crate name).
  struct PH_StaticStr name;
  // The SDK version the plugin was built with.
  struct PH_StaticStr sdk_version;
  // `<AbiRoot as StableAbi>::LAYOUT` as compiled into the plugin, which
  // the host checks field by field against the layout of the plugin's
  // minor. `None` (a null pointer: `Option<&T>` has the same ABI) says
  // "a C plugin": C cannot produce an abi_stable layout, so the host
  // checks such a plugin by its ABI version and table size only (see
  // `include/plugin_host.h`). A Rust plugin always has a layout.
  const PH_TypeLayout *layout;
  // The plugin's entry points: `table.size` bytes of a [`PluginTable`],
  // which is shorter than this SDK's when the plugin's minor is older.
  // A raw pointer because the host must not assume the whole struct.
  const struct PH_PluginTable *table;
} PH_PluginModule;

// Signature of the exported entry symbol. Returns a pointer to a static
// descriptor that lives as long as the library is loaded.
typedef const struct PH_PluginModule *(*PH_EntryFn)(void);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The entry symbol (`plugin_host_module`) every plugin defines: returns its
// static descriptor. The host calls it at load, before any other entry.
const struct PH_PluginModule *plugin_host_module(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PLUGIN_HOST_H */
