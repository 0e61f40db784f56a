//! plugin-host: an HTTP/1.1 reverse proxy whose bodies flow through
//! transform plugins loaded from shared objects.
//!
//! `main` parses the command line, sets up logging, starts the sample
//! origin when no `--origin` is given, binds one `SO_REUSEPORT` listener
//! per worker thread and runs the workers until a signal drains them.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use host::plugins::runtime_dir::RuntimeDir;
use host::plugins::{load_generation, Generation, LoadOptions};
use host::{admin, event_loop, h1, settings, shared, signals, static_origin};
use settings::Settings;
use shared::Shared;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "plugin-host", version, about = "An HTTP/1.1 reverse proxy with streaming transform plugins")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy (the default).
    Run(RunArgs),
    /// Validate a plugin.config and exit: 0 if every line loads, else every error.
    Check(PluginArgs),
}

/// Where the plugins come from; shared by `run` and `check`.
#[derive(Args, Clone)]
struct PluginArgs {
    /// The plugin configuration (Traffic Server's plugin.config syntax).
    #[arg(long, default_value = "plugin.config")]
    config: PathBuf,
    /// Folder that relative plugin paths are resolved against (default: the config file's folder).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Where private copies of plugins are loaded from (default: $XDG_RUNTIME_DIR or the temp dir); must not be noexec.
    #[arg(long)]
    runtime_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Address to accept clients on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The upstream HOST:PORT; without it, a built-in sample site is served from loopback.
    #[arg(long)]
    origin: Option<String>,
    #[command(flatten)]
    plugins: PluginArgs,
    /// Serve GET /stats (JSON counters) on this address; keep it on loopback.
    #[arg(long)]
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
    /// Time a transaction may make no progress, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    inactivity_timeout_ms: u64,
    /// Time in-flight transactions get after SIGTERM, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    drain_timeout_ms: u64,
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
    /// Log filter (overridden by RUST_LOG), e.g. info, warn, plugin_host=debug.
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(args)) => run(args),
        Some(Command::Check(p)) => check(&p.config, p.plugin_dir, p.runtime_dir),
        None => run(RunArgs::parse_default()),
    };
    if let Err(e) = result {
        eprintln!("plugin-host: {e:#}");
        std::process::exit(1);
    }
}

impl RunArgs {
    fn parse_default() -> RunArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            run: RunArgs,
        }
        Only::parse_from(["plugin-host"]).run
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn check(config: &Path, plugin_dir: Option<PathBuf>, runtime_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let rt = RuntimeDir::create(runtime_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plugin_dir = plugin_dir_for(config, plugin_dir);
    let opts = LoadOptions {
        plugin_dir: &plugin_dir,
        runtime: &rt,
        host: &host::bridge::HOST_TABLE,
        water_mark: host::transform::DEFAULT_WATER_MARK,
    };
    match load_generation(config, &opts) {
        Ok(generation) => {
            println!("{}: ok, {} plugin(s)", config.display(), generation.modules().len());
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!("{}: {} error(s)", config.display(), errors.len())
        }
    }
}

/// Relative plugin paths resolve against `--plugin-dir`, else the config file's folder.
fn plugin_dir_for(config: &Path, plugin_dir: Option<PathBuf>) -> PathBuf {
    plugin_dir.unwrap_or_else(|| match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    })
}

/// Loads the plugins of `config`; a missing default config means no plugins.
fn load_plugins(args: &RunArgs, rt: &RuntimeDir, water_mark: usize) -> anyhow::Result<Arc<Generation>> {
    let explicit = std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
    if !args.plugins.config.exists() && !explicit {
        tracing::warn!(config = %args.plugins.config.display(), "no plugin.config here; running without plugins");
        return Ok(Arc::new(Generation::from_modules(Vec::new())));
    }
    let plugin_dir = plugin_dir_for(&args.plugins.config, args.plugins.plugin_dir.clone());
    let opts = LoadOptions { plugin_dir: &plugin_dir, runtime: rt, host: &host::bridge::HOST_TABLE, water_mark };
    let generation = load_generation(&args.plugins.config, &opts)
        .map_err(|errors| anyhow::anyhow!("cannot start: the plugins did not load\n  {}", errors.join("\n  ")))?;
    for m in generation.modules() {
        tracing::info!(plugin = m.name(), path = %m.path().display(), "plugin loaded");
    }
    Ok(generation)
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    let origin = match &args.origin {
        Some(o) => resolve(o)?,
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
    });
    let rt = RuntimeDir::create(args.plugins.runtime_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A chain's buffers stop at the same bound as the connection's (backpressure).
    let generation = load_plugins(&args, &rt, settings.buffer_bytes)?;
    let shared = Arc::new(Shared::new(generation));
    signals::spawn(shared.clone())?;

    let first = bind_reuseport(args.listen)?;
    let local = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..threads {
        listeners.push(bind_reuseport(local)?);
    }
    let mut handles = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (settings, shared) = (settings.clone(), shared.clone());
        // A worker is built on its own thread: its sessions hold plugin state that never crosses threads.
        let run = move || event_loop::Worker::new(listener, settings, shared)?.run();
        handles.push(std::thread::Builder::new().name(format!("worker-{i}")).spawn(run)?);
    }
    tracing::info!(%local, threads, origin = %settings.origin, "plugin-host started");
    println!("listening on {local}");
    if let Some(addr) = args.admin_listen {
        let admin = admin::start(addr, shared.clone()).with_context(|| format!("binding the admin endpoint {addr}"))?;
        tracing::info!(%admin, "admin endpoint: GET /stats");
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

fn resolve(origin: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    origin
        .to_socket_addrs()
        .with_context(|| format!("--origin {origin}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--origin {origin}: the name resolved to no address"))
}

/// A listener with SO_REUSEPORT so every worker can accept on the same port.
fn bind_reuseport(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into()).with_context(|| format!("binding {addr}"))?;
    socket.listen(1024)?;
    Ok(socket.into())
}
