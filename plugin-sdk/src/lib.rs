//! The SDK for plugin-host transform plugins.
//!
//! A plugin is a `cdylib` crate that depends on this crate only. It offers
//! Apache Traffic Server's plugin IO model (vconnections, VIOs, IO buffers,
//! continuations and events) as safe Rust over a stable C ABI.
//!
//! # Writing a transform
//!
//! 1. Make the crate a `cdylib` (and an `rlib`, to unit-test it):
//!    ```toml
//!    [lib]
//!    crate-type = ["cdylib", "rlib"]
//!    [dependencies]
//!    plugin-sdk = { path = "../../plugin-sdk" }
//!    ```
//! 2. Write the transform. Most transforms are "data in, data out, end of
//!    stream": implement [`StreamTransform`]. Here is the null transform,
//!    which passes every byte on unchanged without copying it:
//!    ```
//!    use plugin_sdk::{Chunk, Output, StreamTransform};
//!
//!    pub struct Null;
//!
//!    impl StreamTransform for Null {
//!        fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!            out.pass(chunk); // shares the input's blocks: no copy
//!        }
//!        fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
//!            input_len // same length out as in: the client gets Content-Length
//!        }
//!    }
//!    ```
//! 3. Write the plugin: its arguments, and the hooks that decide per
//!    transaction whether to add the transform; [`Plugin::hooks`] names
//!    them, so the host calls no other. Declare it with
//!    [`declare_plugin!`], which exports the one entry symbol the host looks up.
//!    ```
//!    # use plugin_sdk::{Chunk, Output, StreamTransform};
//!    # pub struct Null;
//!    # impl StreamTransform for Null {
//!    #     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) { out.pass(chunk) }
//!    # }
//!    use plugin_sdk::{declare_plugin, Hooks, Plugin, Txn};
//!
//!    pub struct NullPlugin;
//!
//!    impl Plugin for NullPlugin {
//!        fn init(args: &[String]) -> Result<Self, String> {
//!            if args.is_empty() {
//!                Ok(NullPlugin)
//!            } else {
//!                Err(format!("takes no arguments, got {args:?}: remove them from plugin.config"))
//!            }
//!        }
//!        fn hooks(&self) -> Hooks {
//!            Hooks::READ_RESPONSE_HEADERS
//!        }
//!        fn read_response_headers(&self, txn: &mut Txn<'_>) {
//!            txn.add_response_stream(Null);
//!        }
//!    }
//!
//!    declare_plugin!(NullPlugin);
//!    ```
//! 4. Unit-test it with the fake host in [`testing`], no proxy needed:
//!    ```
//!    # use plugin_sdk::{Chunk, Output, StreamTransform};
//!    # pub struct Null;
//!    # impl StreamTransform for Null {
//!    #     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) { out.pass(chunk) }
//!    #     fn output_len(&self, n: Option<u64>) -> Option<u64> { n }
//!    # }
//!    use plugin_sdk::testing::FakeHost;
//!    let out = FakeHost::new().water_mark(4).run_stream(Null, &[b"hello ", b"world"]);
//!    assert_eq!(out.bytes, b"hello world");
//!    assert_eq!(out.nbytes, Some(11));
//!    ```
//! 5. List it in `plugin.config` (`libmy_plugin.so arg1 arg2`), check it
//!    with `plugin-host check --config plugin.config`, then start the host or
//!    reload a running one (`plugin-host reload`, or SIGHUP).
//!
//! `plugins/null-stream` in the plugin-host repository is exactly this
//! plugin as a crate: the template to copy. `docs/first-plugin.md` there,
//! "Your first plugin", takes a new crate of your own (`cargo new --lib`,
//! one dependency line, this transform) to curl through the running host.
//!
//! This crate inherits nothing from the plugin-host workspace: depend on
//! it with one line, a path or a git dependency, from anywhere.
//!
//! # What else a plugin can do
//!
//! - **Per-transaction state**: [`Txn::state`] gives every hook of one
//!   transaction the same value of a type you choose: decide in the request
//!   hook, act in the response hook.
//! - **Whether there is a body**: [`Txn::request_body`] and
//!   [`Txn::response_body`] say so by the message's framing; adding a
//!   transform to a message without one is refused with [`Refused::NoBody`]
//!   (header edits made in the hook still apply).
//! - **Logging**: [`log_info!`] and friends write to the host's log, with
//!   the plugin's name added by the host ([`log`]).
//! - **Counters**: [`Counter::register`] in `init`, `inc`/`add` anywhere;
//!   they appear under the plugin in the host's `/stats` ([`counter`]).
//!   [`CounterGroup::register_top`] keeps many (one per rule, say) and
//!   shows only the busiest.
//! - **Holding and replacing a message**: a transform can hold the message
//!   head while it reads the body ([`StreamTransform::holds_output`]) and
//!   then let the original go or replace the whole message with a status,
//!   headers and a short body ([`Output::replace`], [`TransformCx::replace`]);
//!   on a request the origin then never sees it ([`message`]). Too late for
//!   that, [`Output::abort`] gives up on the message instead.
//! - **Unit tests of hooks and transforms together**: [`testing::FakeTxn`]
//!   runs hooks on fake heads, then the transforms they added over a body.
//!
//! All of these at once, tested without a proxy:
//!
//! ```
//! use plugin_sdk::testing::{init_plugin, FakeHost, FakeTxn};
//! use plugin_sdk::{log_info, Chunk, Counter, Message, Output, Plugin, StreamTransform, Txn};
//!
//! /// Refuses uploads that mention a word, for clients that said who they are.
//! struct NoSecrets { refused: Counter }
//! #[derive(Default)]
//! struct Client { name: Option<String> }
//! struct Scan { seen: Vec<u8> }
//!
//! impl StreamTransform for Scan {
//!     fn holds_output(&self) -> bool { true } // the origin waits for our verdict
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!         self.seen.extend_from_slice(chunk);
//!         if self.seen.windows(6).any(|w| w == b"secret") {
//!             let _ = out.replace(&Message::new(403).body("no secrets\n"));
//!         } else {
//!             out.pass(chunk);
//!         }
//!     }
//! }
//!
//! impl Plugin for NoSecrets {
//!     fn init(_: &[String]) -> Result<Self, String> {
//!         Ok(NoSecrets { refused: Counter::register("refused") })
//!     }
//!     fn read_request_headers(&self, txn: &mut Txn<'_>) {
//!         let name = txn.request().get("x-client").map(|v| String::from_utf8_lossy(v).into_owned());
//!         if name.is_some() && txn.request_body().exists() {
//!             let _ = txn.add_request_stream(Scan { seen: Vec::new() });
//!             self.refused.inc(); // counted when scanned, in this small example
//!         }
//!         txn.state::<Client>().name = name;
//!     }
//!     fn read_response_headers(&self, txn: &mut Txn<'_>) {
//!         let name = txn.state::<Client>().name.clone().unwrap_or_default();
//!         log_info!("answered {name}");
//!     }
//! }
//!
//! let (plugin, counters) = init_plugin::<NoSecrets>(&[]).expect("init");
//! let mut txn = FakeTxn::new("POST", "/upload")
//!     .request_header("x-client", "ci")
//!     .request_body(plugin_sdk::Body::Length(13));
//! txn.run_request_hooks(&plugin);
//! let out = txn.run_request_body(&FakeHost::new(), &[b"top sec", b"ret!!!"]);
//! assert_eq!(out.replaced.map(|m| m.status), Some(403));
//! assert_eq!(counters.values(), vec![("refused".to_string(), 1)]);
//! txn.respond(403, &[]);
//! txn.run_response_hooks(&plugin);
//! assert!(plugin_sdk::testing::take_logs().iter().any(|(_, line)| line == "answered ci"));
//! ```
//!
//! # The raw layer
//!
//! For full control, implement [`Transform`] and handle [`Event`]s with
//! [`Vio`], [`VConn`], [`Buffer`] and [`Reader`], exactly as a Traffic Server
//! transform does. `plugins/null` is the null transform written that way;
//! [`Vio::pass_through`] is its whole data step as one call.
//!
//! # Plugins in C
//!
//! `include/plugin_host.h` in this crate is the same ABI as a C header,
//! generated from [`ffi`]; a C plugin's descriptor has a null `layout`
//! ([`ffi::PluginModule::layout`]) and is checked by ABI version and table
//! sizes only. `examples/c-null/` in the plugin-host repository is the null
//! transform in C.
//!
//! # Rules the host enforces
//!
//! - A panic in any plugin code is caught at the boundary: the transaction is
//!   aborted (500 before the response head is sent, connection closed after),
//!   the instance is counted and never called again, and the panic's message
//!   goes to the host's log. Plugins must be built with `panic = "unwind"`
//!   (the default); `panic = "abort"` builds are refused at load.
//! - A plugin built against an older minor version of this SDK's ABI keeps
//!   loading in newer hosts; another major, or a newer minor than the
//!   host's, is refused at load with a message saying what to rebuild (see
//!   [`ffi`] for the versioning rules).
//! - A protocol error (a stale handle, `ndone` past `nbytes`, consuming more
//!   than available) aborts the transaction the same way.
//! - Handles belong to one transaction. The wrappers ([`Vio`], [`Buffer`],
//!   ...) borrow the callback and cannot outlive it; the storable ids
//!   ([`VioId`], [`BufferId`], [`ReaderId`], [`VConnId`]) are `!Send`, so
//!   they stay in the transform that owns them and cannot be put in a
//!   `static` or in plugin-global state. What the types cannot stop (a
//!   `thread_local!`, an `unsafe impl Send` wrapper) the host still does:
//!   an id used in any transaction but its own, or after its transform was
//!   closed, is refused as a protocol error naming the plugin; so are reads
//!   and appends after the closed event.
//! - A callback that never returns holds its worker thread: the host's
//!   watchdog names the plugin, sends new connections to other workers, and
//!   past a second limit restarts the process. Keep callbacks short, and
//!   never block in one.
//! - `reenable` and `call_cont` never call back synchronously: events are
//!   queued and delivered by the host's event loop.
#![deny(missing_docs)]

pub mod buffer;
pub mod counter;
pub mod event;
#[doc(hidden)]
pub mod export;
pub mod ffi;
mod instance;
mod io;
pub mod log;
pub mod message;
pub mod plugin;
pub mod stream;
pub mod testing;
pub mod txn;
pub mod vconn;
pub mod vio;

pub use buffer::{Blocks, Buffer, BufferId, Reader, ReaderId};
pub use counter::{Counter, CounterGroup};
pub use event::Event;
pub use message::{Message, Refused};
pub use plugin::{Hooks, Plugin};
pub use stream::{Chunk, Output, StreamAdapter, StreamTransform};
pub use txn::{Body, Direction, Headers, Txn};
pub use vconn::{Closed, Transform, TransformCx, VConn, VConnId};
pub use vio::{Step, Vio, VioId, UNKNOWN_LEN};

/// The SDK version, recorded in each plugin's descriptor.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Exports `plugin_host_module`, the one symbol the host looks up, for the
/// [`Plugin`] type given. Use it once per plugin crate.
///
/// ```
/// use plugin_sdk::{declare_plugin, Plugin};
/// struct Quiet;
/// impl Plugin for Quiet {
///     fn init(_args: &[String]) -> Result<Self, String> { Ok(Quiet) }
/// }
/// declare_plugin!(Quiet);
/// ```
#[macro_export]
macro_rules! declare_plugin {
    ($plugin:ty) => {
        /// The plugin's descriptor, looked up by the host.
        #[no_mangle]
        pub extern "C" fn plugin_host_module() -> *const $crate::ffi::PluginModule {
            static TABLE: $crate::ffi::PluginTable = $crate::export::Tables::<$plugin>::TABLE;
            static MODULE: $crate::ffi::PluginModule = $crate::ffi::PluginModule {
                size: ::std::mem::size_of::<$crate::ffi::PluginModule>(),
                abi_major: $crate::ffi::ABI_MAJOR,
                abi_minor: $crate::ffi::ABI_MINOR,
                // Evaluated in the plugin crate: the panic strategy it was built with.
                panic_unwind: cfg!(panic = "unwind") as u8,
                name: $crate::ffi::StaticStr::new(env!("CARGO_PKG_NAME")),
                sdk_version: $crate::ffi::StaticStr::new($crate::SDK_VERSION),
                layout: Some(<$crate::ffi::AbiRoot as $crate::export::StableAbi>::LAYOUT),
                table: &TABLE as *const $crate::ffi::PluginTable,
            };
            &MODULE
        }
    };
}
