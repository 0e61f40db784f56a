//! plugin-host: an HTTP/1.1 reverse proxy whose bodies flow through
//! transform plugins loaded from shared objects.
//!
//! `main` parses the command line, sets up logging, starts the sample
//! origin when no `--origin` is given, refuses an address another process
//! holds, binds one `SO_REUSEPORT` listener per worker thread and runs the
//! workers until a signal drains them.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use host::logging::{self, LogFormat};
use host::plugins::config::ConfigError;
use host::plugins::images::Images;
use host::plugins::runtime_dir::RuntimeDir;
use host::plugins::{load_generation, Generation, LoadOptions};
use host::reload::{self, Source};
use host::{access_log, admin, admin_client, cli, event_loop, h1, settings, shared, signals, static_origin, watchdog};
use settings::Settings;
use shared::Shared;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Run flags work with and without the `run` subcommand: `plugin-host --origin X`
/// is `plugin-host run --origin X`.
#[derive(Parser)]
#[command(
    name = "plugin-host",
    version,
    about = "An HTTP/1.1 reverse proxy with streaming transform plugins",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy (the default: the same flags work without `run`).
    Run(Box<RunArgs>),
    /// Validate a plugin.config and exit: 0 if every line loads, else every error.
    Check(PluginArgs),
    /// Stream standard input through the plugin chain, without a proxy: the body to standard
    /// output, the resulting head to standard error; exit 1 if a plugin failed.
    RunTransform(RunTransformArgs),
    /// Ask a running host to reload its plugin.config (through its admin endpoint) and wait for
    /// the outcome: exit 0 once the new plugins serve, 1 with every refusal if nothing changed.
    Reload(ReloadArgs),
}

#[derive(Args)]
struct ReloadArgs {
    /// The running host's --admin-listen address.
    #[arg(long, default_value = "127.0.0.1:8081", value_parser = cli::parse_listen)]
    admin: SocketAddr,
    /// How long to wait for the outcome, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct RunTransformArgs {
    #[command(flatten)]
    plugins: PluginArgs,
    #[command(flatten)]
    transform: host::offline::Options,
}

/// The configuration read when `--config` is not given.
const DEFAULT_CONFIG: &str = "plugin.config";

/// Where the plugins come from; shared by `run` and `check`.
#[derive(Args, Clone)]
struct PluginArgs {
    /// The plugin configuration (Traffic Server's plugin.config syntax) [default: plugin.config in
    /// the current folder]. A missing file is an error, named or not; see --no-plugins.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder that relative plugin paths are resolved against (default: the config file's folder).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Where private copies of plugins are loaded from (default: $XDG_RUNTIME_DIR or the temp dir); must not be noexec.
    #[arg(long)]
    runtime_dir: Option<PathBuf>,
}

impl PluginArgs {
    fn config(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Address to accept clients on: HOST:PORT, NAME:PORT, or :PORT for every interface.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = cli::parse_listen)]
    listen: SocketAddr,
    /// The upstream HOST:PORT (or NAME:PORT, or :PORT on this machine), without a scheme;
    /// without it, a built-in sample site is served from loopback.
    #[arg(long, value_parser = cli::parse_origin)]
    origin: Option<SocketAddr>,
    #[command(flatten)]
    plugins: PluginArgs,
    /// Run without any plugin and without reading a plugin.config.
    #[arg(long, conflicts_with = "config")]
    no_plugins: bool,
    /// Serve GET /stats (JSON counters) on this address (same forms as --listen); keep it on loopback.
    #[arg(long, value_parser = cli::parse_listen)]
    admin_listen: Option<SocketAddr>,
    /// Worker threads, each with its own event loop and listener (default: number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Time allowed to receive a request head, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    head_timeout_ms: u64,
    /// Time an idle keep-alive client connection is kept, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Time allowed to connect to the origin, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    origin_connect_timeout_ms: u64,
    /// Time a transaction (or an upgraded tunnel, such as a WebSocket) may make no progress, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    inactivity_timeout_ms: u64,
    /// Time in-flight transactions get after SIGTERM, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    drain_timeout_ms: u64,
    /// A plugin callback running this long is logged and its worker stops taking new connections, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    watchdog_warn_ms: u64,
    /// A plugin callback running this long ends the process (non-zero) for its supervisor to restart, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    watchdog_exit_ms: u64,
    /// Largest request or response head, in bytes.
    #[arg(long, default_value_t = 32 * 1024)]
    max_head_bytes: usize,
    /// Most header fields in a head.
    #[arg(long, default_value_t = 100)]
    max_headers: usize,
    /// Most open client connections.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Bytes buffered per transaction and direction before reading stops
    /// (backpressure); also the water mark of every buffer in a transform chain.
    #[arg(long, default_value_t = 256 * 1024)]
    buffer_bytes: usize,
    /// Relay response bodies that no plugin transforms and that have a Content-Length of at least
    /// --splice-min-bytes (or end at the origin's close, to an HTTP/1.0 client) with splice(2):
    /// origin socket -> kernel pipe -> client socket, never copied through the proxy's memory.
    #[arg(long, value_name = "on|off", default_value = "on", action = clap::ArgAction::Set, value_parser = cli::parse_on_off)]
    splice: bool,
    /// Smallest Content-Length relayed with splice(2); smaller bodies are read and written.
    #[arg(long, default_value_t = 64 * 1024)]
    splice_min_bytes: u64,
    /// Log filter (overridden by RUST_LOG), e.g. info, warn, plugin_host=debug.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log lines as text (coloured on a terminal only) or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where the access log (one line per request) goes: a file (appended to; SIGUSR1 reopens it
    /// for logrotate), `stderr` or `-` (the default: beside the other logs, so a foreground run and
    /// systemd's journal show it), or `off`. Lines are buffered per worker and written at least
    /// once a second, every 64 KiB, and at shutdown.
    #[arg(long, value_name = "PATH|stderr|off", default_value = "stderr", value_parser = access_log::Destination::parse)]
    access_log: access_log::Destination,
    /// The access log's line format, its own whatever --log-format says; the default, combined, is
    /// what nginx and Apache write and what log tools parse. Times are UTC.
    #[arg(long, value_enum, default_value_t = access_log::Format::Combined)]
    access_log_format: access_log::Format,
    /// Write the process id here once serving (for `kill -HUP $(cat PATH)`); removed at exit.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Plugin images kept mapped (each rebuilt plugin a reload loads adds one) before the log
    /// warns to restart the host to release them.
    #[arg(long, default_value_t = 64)]
    max_plugin_images: usize,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(args)) => run(*args),
        Some(Command::Check(p)) => check(&p),
        Some(Command::Reload(r)) => reload_running(&r),
        Some(Command::RunTransform(t)) => run_transform(&t),
        None => run(cli.run),
    };
    if let Err(e) = result {
        eprintln!("plugin-host: {e:#}");
        std::process::exit(1);
    }
}

fn check(p: &PluginArgs) -> anyhow::Result<()> {
    let config = p.config();
    let rt = RuntimeDir::create(p.runtime_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plugin_dir = plugin_dir_for(&config, p.plugin_dir.clone());
    let images = Images::new(usize::MAX);
    let opts = LoadOptions {
        plugin_dir: &plugin_dir,
        runtime: &rt,
        images: &images,
        host: &host::bridge::HOST_TABLE,
        water_mark: host::transform::DEFAULT_WATER_MARK,
    };
    match load_generation(&config, &opts) {
        Ok(generation) => {
            println!("{}: ok, {} plugin(s)", config.display(), generation.modules().len());
            Ok(())
        }
        Err(errors) => {
            for e in errors.iter().chain(&build_hints(&config, &plugin_dir)) {
                eprintln!("{e}");
            }
            bail!("{}: {} error(s)", config.display(), errors.len())
        }
    }
}

/// `plugin-host run-transform`: the chain loaded as `run` loads it, then [`host::offline::run`].
fn run_transform(t: &RunTransformArgs) -> anyhow::Result<()> {
    logging::init("warn", LogFormat::Text);
    let config = t.plugins.config();
    let plugin_dir = plugin_dir_for(&config, t.plugins.plugin_dir.clone());
    let runtime = RuntimeDir::create(t.plugins.runtime_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let images = Arc::new(Images::new(usize::MAX));
    let water_mark = host::transform::DEFAULT_WATER_MARK;
    let source = Source { config, plugin_dir, runtime, images, water_mark };
    let generation = source.load(1).map_err(|errors| {
        let lines: Vec<String> = errors.into_iter().chain(build_hints(&source.config, &source.plugin_dir)).collect();
        anyhow::anyhow!("the plugins did not load\n  {}", lines.join("\n  "))
    })?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let mut body_out = std::io::BufWriter::new(stdout.lock());
    let result = host::offline::run(generation, &t.transform, &mut stdin.lock(), &mut body_out, &mut stderr.lock());
    result.map_err(|e| anyhow::anyhow!("{e}"))
}

/// `hint:` lines for load errors an operator can fix with a build: a plugin
/// named under `target/release/` that is not there (the default
/// plugin.config after a debug-only `cargo build` or `cargo run`).
fn build_hints(config: &Path, plugin_dir: &Path) -> Vec<String> {
    let Err(errors) = host::plugins::config::parse_file(config, plugin_dir) else { return Vec::new() };
    errors
        .iter()
        .filter_map(|e| match e {
            ConfigError::PluginNotFound { resolved, .. } => cli::release_build_hint(resolved),
            _ => None,
        })
        .map(|hint| format!("hint: {hint}"))
        .collect()
}

/// Relative plugin paths resolve against `--plugin-dir`, else the config file's folder.
fn plugin_dir_for(config: &Path, plugin_dir: Option<PathBuf>) -> PathBuf {
    plugin_dir.unwrap_or_else(|| match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    })
}

/// `plugin-host reload`: prints the outcome; an error (exit 1) unless the new generation serves.
fn reload_running(r: &ReloadArgs) -> anyhow::Result<()> {
    let answer = admin_client::reload(r.admin, Duration::from_millis(r.timeout_ms)).map_err(anyhow::Error::msg)?;
    if answer.ok {
        println!("{}", answer.text);
        Ok(())
    } else {
        eprintln!("{}", answer.text);
        bail!("the reload did not take effect")
    }
}

/// Where the plugins come from (when not `--no-plugins`): `--config` (default
/// `plugin.config`), which must exist whether it was named or defaulted, so
/// a host started from the wrong folder never runs silently without its plugins.
fn plugin_source(args: &RunArgs, runtime: RuntimeDir, water_mark: usize) -> anyhow::Result<Source> {
    let config = args.plugins.config();
    if !config.exists() {
        let place = match &args.plugins.config {
            Some(_) => String::new(),
            None => std::env::current_dir().map(|d| format!(" in {}", d.display())).unwrap_or_default(),
        };
        bail!(
            "cannot start: no plugin configuration {}{place}; pass --config PATH, or --no-plugins to run without plugins",
            config.display()
        );
    }
    let plugin_dir = plugin_dir_for(&config, args.plugins.plugin_dir.clone());
    let images = Arc::new(Images::new(args.max_plugin_images));
    Ok(Source { config, plugin_dir, runtime, images, water_mark })
}

/// The first generation: the source's plugins, or none.
fn load_plugins(source: Option<&Source>) -> anyhow::Result<Arc<Generation>> {
    let Some(source) = source else {
        return Ok(Arc::new(Generation::from_modules(Vec::new())));
    };
    let generation = source.load(1).map_err(|errors| {
        let hints = build_hints(&source.config, &source.plugin_dir);
        let lines: Vec<String> = errors.into_iter().chain(hints).collect();
        anyhow::anyhow!("cannot start: the plugins did not load\n  {}", lines.join("\n  "))
    })?;
    for m in generation.modules() {
        tracing::info!(plugin = m.name(), path = %m.path().display(), "plugin loaded");
    }
    Ok(generation)
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    logging::init(&args.log_level, args.log_format);
    if !host::malloc_tune::apply() {
        tracing::debug!("glibc malloc settings left as they are (GLIBC_TUNABLES or not glibc)");
    }
    let sink = args.access_log.open()?;
    let access = access_log::AccessLog { sink: sink.clone(), format: args.access_log_format };
    let origin = match args.origin {
        Some(o) => o,
        None => {
            let addr = static_origin::start().context("starting the built-in sample origin")?;
            tracing::info!(%addr, "no --origin given: proxying to the built-in sample site");
            addr
        }
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let settings = Arc::new(Settings {
        origin,
        head_timeout: Duration::from_millis(args.head_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        connect_timeout: Duration::from_millis(args.origin_connect_timeout_ms),
        inactivity_timeout: Duration::from_millis(args.inactivity_timeout_ms),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        limits: h1::head::Limits { max_head_bytes: args.max_head_bytes, max_headers: args.max_headers },
        max_connections: args.max_connections,
        buffer_bytes: args.buffer_bytes.max(16 * 1024),
        max_idle_origin: 256,
        splice: args.splice,
        splice_min_bytes: args.splice_min_bytes,
    });
    // A chain's buffers stop at the same bound as the connection's (backpressure).
    // Created even without plugins: creating it clears the folders that crashed hosts left.
    let runtime = RuntimeDir::create(args.plugins.runtime_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (source, _unused_runtime) = if args.no_plugins {
        tracing::info!("--no-plugins: running without plugins");
        (None, Some(runtime))
    } else {
        (Some(plugin_source(&args, runtime, settings.buffer_bytes)?), None)
    };
    let generation = load_plugins(source.as_ref())?;
    let shared = Arc::new(Shared::new(generation));
    if let Some(source) = source {
        shared.set_reloader(reload::spawn(source, shared.clone())?);
    }
    signals::spawn(shared.clone(), sink)?;
    let limits = watchdog::Limits {
        warn: Duration::from_millis(args.watchdog_warn_ms.max(1)),
        exit: Duration::from_millis(args.watchdog_exit_ms.max(args.watchdog_warn_ms).max(1)),
    };
    watchdog::spawn(shared.clone(), limits, settings.drain_timeout)?;

    refuse_if_held(args.listen)?;
    let probe = bind_reuseport(args.listen)?;
    let local = probe.local_addr()?;
    // Every listener names the port itself: one bound to port 0 would give the port up
    // when the watchdog stops it, and take another when it listens again.
    let listeners = (0..threads).map(|_| bind_reuseport(local)).collect::<anyhow::Result<Vec<_>>>()?;
    drop(probe);
    let mut handles = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (settings, shared, access) = (settings.clone(), shared.clone(), access.clone());
        // A worker is built on its own thread: its sessions hold plugin state that never crosses threads.
        let run = move || event_loop::Worker::new(listener, settings, shared, &access)?.run();
        handles.push(std::thread::Builder::new().name(format!("worker-{i}")).spawn(run)?);
    }
    // Before the host says it is listening: whoever waits for that line may read the file next.
    let _pid_file = args.pid_file.as_deref().map(PidFile::write).transpose()?;
    tracing::info!(%local, threads, origin = %settings.origin, "plugin-host started");
    println!("listening on {local}");
    if let Some(addr) = args.admin_listen {
        let admin = admin::start(addr, shared.clone())
            .with_context(|| format!("binding the admin endpoint {addr} (--admin-listen)"))?;
        tracing::info!(%admin, "admin endpoint: GET /stats, GET /metrics, POST /reload");
        println!("admin on {admin}");
    }
    std::io::stdout().flush()?;
    let mut failed = false;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "worker failed");
                failed = true;
            }
            Err(_) => {
                tracing::error!("worker panicked");
                failed = true;
            }
        }
    }
    if failed {
        bail!("a worker thread failed; see the log above");
    }
    tracing::info!("drained; exiting");
    Ok(())
}

/// Refuses an address another process already listens on.
///
/// Every worker binds its own `SO_REUSEPORT` listener, and the kernel would
/// let a second `plugin-host` (same user) join that group and take a share
/// of the traffic with its old configuration. A probe bound without
/// `SO_REUSEPORT` conflicts with any listener there, reuse-port or not, so
/// it fails exactly when the address is held; it is closed again before
/// the workers bind. Two hosts started in the same instant could both pass;
/// an instance left running, the case that matters, cannot.
fn refuse_if_held(addr: SocketAddr) -> anyhow::Result<()> {
    if addr.port() == 0 {
        // An ephemeral port is fresh by definition.
        return Ok(());
    }
    use socket2::{Domain, Protocol, Socket, Type};
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // SO_REUSEADDR as the real listeners have, so the TIME_WAIT connections of a host that
    // just stopped do not count as "held"; and bind only, never listen: a listening probe
    // could take (and reset) a connection meant for nobody yet.
    probe.set_reuse_address(true)?;
    match probe.bind(&addr.into()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "binding {addr}: {e}: another process (an older plugin-host?) listens there; \
             stop it or choose another --listen"
        ),
        Err(e) => Err(e).with_context(|| format!("binding {addr}")),
    }
}

/// A listener with SO_REUSEPORT so every worker can accept on the same port.
fn bind_reuseport(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into()).with_context(|| format!("binding {addr}"))?;
    socket.listen(watchdog::LISTEN_BACKLOG as i32)?;
    Ok(socket.into())
}

/// `--pid-file`: the process id, written once serving, removed at exit.
struct PidFile(PathBuf);

impl PidFile {
    /// Written beside `path` and renamed over it, so a reader never sees
    /// the file empty or half written.
    fn write(path: &Path) -> anyhow::Result<PidFile> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        std::fs::write(&partial, format!("{}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&partial, path))
            .with_context(|| format!("writing --pid-file {}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
