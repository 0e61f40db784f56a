//! Issue 10, operation: a held port refused, the admin endpoint bounded and concurrent,
//! logs without colour codes (and as JSON), stale runtime directories removed, the run
//! flags without `run`, the same address forms on every flag, and plain start-up errors
//! for a missing plugin.config or a plugin that was only built in debug.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use e2e::admin::fetch_stats;
use e2e::faults::process::{run_to_exit, run_to_exit_in};
use e2e::plugins::{write_plugin_config, ScratchDir};
use e2e::{agent, HostBuilder, Origin};

/// Bound on a host process that must exit by itself (a refusal at start).
const EXIT: Duration = Duration::from_secs(30);

/// `--admin-listen 127.0.0.1:0` on `builder`, started; returns the host and its admin address.
fn host_with_admin(builder: HostBuilder) -> (e2e::Host, SocketAddr) {
    let host = builder.opt("--admin-listen", "127.0.0.1:0").start();
    let line = host
        .wait_for_log(Duration::from_secs(20), |l| l.starts_with("admin on "))
        .unwrap_or_else(|| panic!("no `admin on ADDR` line; logs:\n{}", host.logs()));
    let admin = line.trim().trim_start_matches("admin on ").parse().expect("admin address");
    (host, admin)
}

#[test]
fn a_port_held_by_another_process_is_refused() {
    let origin = Origin::start();
    // Two workers: one SO_REUSEPORT listener each still works for one process.
    let first = HostBuilder::new(origin.addr()).threads(2).start();
    let taken = first.addr().to_string();
    let origin_arg = origin.addr().to_string();
    let second =
        run_to_exit(&["run", "--listen", &taken, "--origin", &origin_arg, "--no-plugins", "--threads", "2"], EXIT);
    assert_eq!(second.code(), Some(1), "a second host on {taken} must refuse; stderr:\n{}", second.stderr);
    assert!(second.stderr.contains("Address already in use"), "stderr:\n{}", second.stderr);
    assert!(second.stderr.contains("another process"), "stderr:\n{}", second.stderr);
    assert_eq!(agent().get(first.url("/bytes?n=3")).call().expect("first host still serves").status(), 200);

    // Any other program holding the port counts the same.
    let foreign = TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = foreign.local_addr().expect("addr").to_string();
    let third = run_to_exit(&["--listen", &held, "--origin", &origin_arg, "--no-plugins"], EXIT);
    assert_eq!(third.code(), Some(1), "stderr:\n{}", third.stderr);
    assert!(third.stderr.contains("Address already in use"), "stderr:\n{}", third.stderr);
}

#[test]
fn the_admin_endpoint_serves_while_other_admin_clients_stall_or_flood() {
    let origin = Origin::start();
    let (_host, admin) = host_with_admin(HostBuilder::new(origin.addr()));
    // A silent client, and one that trickles a head that never ends.
    let silent = TcpStream::connect(admin).expect("connect silent");
    let stop = Arc::new(AtomicBool::new(false));
    let trickle_stop = Arc::clone(&stop);
    let mut trickler = TcpStream::connect(admin).expect("connect trickler");
    let trickle = thread::spawn(move || {
        // Bounded: at most 60 s of one byte every 100 ms.
        for _ in 0..600 {
            if trickle_stop.load(Ordering::SeqCst) || trickler.write_all(b"a").is_err() {
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        false
    });
    for attempt in 0..3 {
        fetch_stats(admin).unwrap_or_else(|e| panic!("/stats attempt {attempt} beside stalled clients: {e}"));
    }
    // The trickler is cut off by the head deadline, not served for as long as it trickles.
    let cut = trickle.join().expect("trickler thread");
    stop.store(true, Ordering::SeqCst);
    assert!(cut, "the admin server kept a trickling client for 60 s");
    drop(silent);

    // A head without an end is refused once it passes the bound (8 KiB), not buffered.
    let mut flood = TcpStream::connect(admin).expect("connect flood");
    flood.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    flood.write_all(&[b'x'; 16 * 1024]).expect("16 KiB without a line end");
    flood.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut answer = Vec::new();
    let _ = flood.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 431"), "answer to a 16 KiB head: {text:?}");
    fetch_stats(admin).expect("/stats after the flood");
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes_and_json_lines_parse() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).start();
    agent().get(host.url("/bytes?n=3")).call().expect("request");
    host.wait_for_log(Duration::from_secs(10), |l| l.contains("\"GET /bytes?n=3 HTTP/1.1\" 200 "))
        .expect("an access log line");
    let logs = host.logs();
    assert!(!logs.contains('\u{1b}'), "ANSI escape codes in a piped log:\n{logs:?}");

    let json = HostBuilder::new(origin.addr()).opt("--log-format", "json").start();
    agent().get(json.url("/bytes?n=3")).call().expect("request");
    // The access log keeps its own format (combined) whatever --log-format says.
    json.wait_for_log(Duration::from_secs(10), |l| l.contains("\"GET /bytes?n=3 HTTP/1.1\" 200 "))
        .expect("an access log line");
    let logs = json.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.starts_with('{')).collect();
    assert!(lines.len() >= 2, "too few JSON lines:\n{logs}");
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("level").is_some() && value.get("fields").is_some(), "{line}");
    }
}

fn runtime_dirs_of(base: &Path, pid: u32) -> Vec<String> {
    let prefix = format!("plugin-host-{pid}-");
    std::fs::read_dir(base)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stale_runtime_dirs_are_removed_and_a_stopped_host_leaves_none() {
    let origin = Origin::start();
    let base = ScratchDir::new("runtime-base");
    // No process has a pid above the kernel's maximum (4194304).
    let stale = base.path().join("plugin-host-999999999-0123456789abcdef");
    std::fs::create_dir(&stale).expect("mkdir stale");
    std::fs::write(stale.join("0-libplugin_null.so"), b"stale copy").expect("write");
    // This test process is alive: its directory must stay.
    let live = base.path().join(format!("plugin-host-{}-0123456789abcdef", std::process::id()));
    std::fs::create_dir(&live).expect("mkdir live");

    let host = HostBuilder::new(origin.addr()).opt("--runtime-dir", base.path().display()).start();
    assert!(!stale.exists(), "the directory of a dead process was left");
    assert!(live.exists(), "the directory of a running process was removed");
    let pid = host.pid();
    assert_eq!(runtime_dirs_of(base.path(), pid).len(), 1, "the host's own runtime directory");
    // The harness stops it with SIGTERM: the host removes its own directory on the way out.
    drop(host);
    assert!(runtime_dirs_of(base.path(), pid).is_empty(), "a SIGTERMed host left its runtime directory");
}

#[test]
fn run_flags_work_without_the_subcommand_and_addresses_take_host_names() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr())
        .without_run_subcommand()
        .listen("localhost:0")
        .origin_arg(&format!(":{}", origin.addr().port()))
        .start();
    assert!(host.addr().ip().is_loopback(), "localhost:0 bound {}", host.addr());
    assert_eq!(agent().get(host.url("/bytes?n=3")).call().expect("request").status(), 200);
}

#[test]
fn a_scheme_on_an_address_says_to_drop_it() {
    for flag in ["--origin", "--listen"] {
        let out = run_to_exit(&[flag, "http://127.0.0.1:9000/", "--no-plugins"], EXIT);
        assert_eq!(out.code(), Some(2), "{flag}: {}", out.stderr);
        assert!(out.stderr.contains("drop the scheme (http://)"), "{flag}: {}", out.stderr);
        assert!(out.stderr.contains("e.g. 127.0.0.1:9000"), "{flag}: {}", out.stderr);
    }
}

#[test]
fn a_missing_plugin_config_is_an_error_named_or_not() {
    let origin = Origin::start();
    let origin_arg = origin.addr().to_string();
    let empty = ScratchDir::new("no-config");
    let base = ["--listen", "127.0.0.1:0", "--origin", &origin_arg];
    let defaulted = run_to_exit_in(Some(empty.path()), &base, EXIT);
    assert_eq!(defaulted.code(), Some(1), "{}", defaulted.stderr);
    let cwd = empty.path().display().to_string();
    assert!(
        defaulted.stderr.contains(&format!("no plugin configuration plugin.config in {cwd}")),
        "{}",
        defaulted.stderr
    );
    assert!(defaulted.stderr.contains("--no-plugins"), "{}", defaulted.stderr);

    let named = [&base[..], &["--config", "/nonexistent/plugin.config"]].concat();
    let named = run_to_exit_in(Some(empty.path()), &named, EXIT);
    assert_eq!(named.code(), Some(1), "{}", named.stderr);
    assert!(named.stderr.contains("no plugin configuration /nonexistent/plugin.config;"), "{}", named.stderr);
}

#[test]
fn a_plugin_named_under_target_release_that_is_not_built_says_to_build_it() {
    let dir = ScratchDir::new("release-hint");
    let config = write_plugin_config(dir.path(), &["target/release/libplugin_null.so".to_string()]);
    let config = config.display().to_string();
    for args in [vec!["--listen", "127.0.0.1:0", "--config", &config], vec!["check", "--config", &config]] {
        let out = run_to_exit(&args, EXIT);
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("not found"), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("hint:") && out.stderr.contains("cargo build --release"),
            "{args:?}: {}",
            out.stderr
        );
    }
}
