//! `docs/first-plugin.md`, followed word for word: every annotated block of the page is a
//! step (`<!-- step: ... -->` before it), run in a fresh folder outside the workspace, and the
//! plugin it builds is loaded into the real host and served through. A tutorial that no
//! longer works fails here.
//!
//! What the test does that a reader does not, and why:
//! - The reader's `plugin-host` clone beside the plugin is this workspace (a symlink named
//!   `plugin-host`), and the `plugin-host` on `PATH` is the build under test (the setup step
//!   is skipped).
//! - Before `cargo build`, the plugin's folder gets this workspace's `Cargo.lock` and a
//!   `target` symlink to `<workspace>/target/first-plugin`, and cargo runs offline: the
//!   build resolves the workspace's locked versions from the local registry cache, and
//!   dependencies build once across runs instead of every time.
//! - The host listens on free ports: `127.0.0.1:8080` and `127.0.0.1:8081` in the page's
//!   commands become the addresses the host printed.
//!
//! The other tests here check what the page relies on: the SDK's manifest stands alone,
//! with the workspace's versions, and `cargo package` makes a crate of it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use e2e::host::host_binary;
use e2e::plugins::{workspace_dir, ScratchDir};

/// How long the host may take to print its addresses.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One annotated block of the page.
struct Step {
    kind: String,
    body: String,
}

/// Every `<!-- step: KIND -->` and the fenced block after it, in order.
fn steps(page: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(kind) = line.trim().strip_prefix("<!-- step: ").and_then(|l| l.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "step {kind:?}: a fenced block must follow at once, found {fence:?}");
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        steps.push(Step { kind: kind.to_string(), body: body.join("\n") + "\n" });
    }
    steps
}

/// The host the page's serve step started, killed on drop.
struct Served {
    child: Child,
    listen: String,
    admin: String,
}

/// How long the host may take to exit after SIGTERM (it removes its runtime folder).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Drop for Served {
    fn drop(&mut self) {
        // SIGTERM, as a reader's Ctrl-C would stop it: the host then removes its runtime
        // folder. SAFETY: kill(2) has no memory-safety preconditions; the child is not
        // reaped yet, so its pid cannot have been reused.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the page's commands run, and with what.
struct Reader {
    scratch: ScratchDir,
    cwd: PathBuf,
    path_var: String,
    served: Option<Served>,
    last_output: String,
}

impl Reader {
    fn new() -> Reader {
        let scratch = ScratchDir::new("first-plugin");
        std::os::unix::fs::symlink(workspace_dir(), scratch.path().join("plugin-host")).expect("symlink plugin-host");
        let bin = host_binary();
        let bin_dir = bin.parent().expect("the host binary's folder");
        let path_var = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let cwd = scratch.path().to_path_buf();
        Reader { scratch, cwd, path_var, served: None, last_output: String::new() }
    }

    /// A command line as the page wrote it, with the host's real addresses once it runs.
    fn localize(&self, line: &str) -> String {
        match &self.served {
            Some(s) => line.replace("127.0.0.1:8080", &s.listen).replace("127.0.0.1:8081", &s.admin),
            None => line.to_string(),
        }
    }

    fn bash(&self, line: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&self.cwd)
            .env("PATH", &self.path_var)
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        cmd
    }

    fn run(&mut self, line: &str) {
        if let Some(dir) = line.strip_prefix("cd ") {
            self.cwd = self.cwd.join(dir.trim());
            assert!(self.cwd.is_dir(), "`{line}`: no folder {}", self.cwd.display());
            return;
        }
        if line.starts_with("cargo build") {
            self.share_the_build();
        }
        let line = self.localize(line);
        let started = Instant::now();
        let out = self.bash(&line).output().unwrap_or_else(|e| panic!("run `{line}`: {e}"));
        eprintln!("tutorial: `{line}` took {:.1?}", started.elapsed());
        assert!(
            out.status.success(),
            "`{line}` failed ({}) in {}:\nstdout:\n{}\nstderr:\n{}",
            out.status,
            self.cwd.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.last_output = String::from_utf8_lossy(&out.stdout).into_owned();
    }

    /// See the module doc: the locked versions, offline, and a shared target folder.
    fn share_the_build(&self) {
        let lock = self.cwd.join("Cargo.lock");
        if !lock.exists() {
            std::fs::copy(workspace_dir().join("Cargo.lock"), &lock).expect("copy Cargo.lock");
        }
        let shared = workspace_dir().join("target/first-plugin");
        std::fs::create_dir_all(&shared).expect("create the shared target folder");
        let target = self.cwd.join("target");
        if !target.exists() {
            std::os::unix::fs::symlink(&shared, &target).expect("symlink target");
        }
    }

    /// Starts the page's `plugin-host run` on free ports and learns them.
    fn serve(&mut self, line: &str) {
        assert!(self.served.is_none(), "the page serves twice");
        let mut line = line.replace("127.0.0.1:8081", "127.0.0.1:0");
        assert!(!line.contains("--listen"), "the page's serve step is expected on the default port: {line}");
        line.push_str(" --listen 127.0.0.1:0");
        let log_path = self.scratch.path().join("host.log");
        let log = std::fs::File::create(&log_path).expect("create host.log");
        let mut child = self
            .bash(&format!("exec {line}"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start `{line}`: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let (mut listen, mut admin) = (None, None);
        while listen.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(l) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("`{line}` did not print its addresses within {START_TIMEOUT:?}; its log:\n{logs}");
            };
            if let Some(a) = l.strip_prefix("listening on ") {
                listen = Some(a.trim().to_string());
            } else if let Some(a) = l.strip_prefix("admin on ") {
                admin = Some(a.trim().to_string());
            }
        }
        self.served = Some(Served { child, listen: listen.unwrap_or_default(), admin: admin.unwrap_or_default() });
    }
}

/// `expected` with `...` standing for anything: every other piece in `got`, in order.
fn matches_with_ellipses(got: &str, expected: &str) -> bool {
    let mut rest = got.trim();
    for piece in expected.trim().split("...").filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_first_plugin_tutorial_works_as_written() {
    let page_path = workspace_dir().join("docs/first-plugin.md");
    let page = std::fs::read_to_string(&page_path).unwrap_or_else(|e| panic!("read {}: {e}", page_path.display()));
    let steps = steps(&page);
    assert!(steps.len() >= 10, "docs/first-plugin.md lost its steps: {} found", steps.len());
    let mut reader = Reader::new();
    let started = Instant::now();
    for step in &steps {
        let kind = step.kind.as_str();
        if kind.starts_with("setup") {
            continue; // see the module doc
        } else if kind == "run" {
            for line in step.body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                reader.run(line);
            }
        } else if kind == "serve" {
            reader.serve(step.body.trim());
        } else if let Some(file) = kind.strip_prefix("append ") {
            let path = reader.cwd.join(file);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            // The page says where the lines go: under the empty table `cargo new` ends with.
            assert!(text.ends_with("[dependencies]\n"), "{} does not end as the page says:\n{text}", path.display());
            std::fs::write(&path, text + &step.body).expect("append");
        } else if let Some(file) = kind.strip_prefix("write ") {
            std::fs::write(reader.cwd.join(file), &step.body).expect("write");
        } else if kind == "output" {
            assert_eq!(reader.last_output.trim(), step.body.trim(), "output differs from the page");
        } else if kind.starts_with("output (... is anything)") {
            assert!(
                matches_with_ellipses(&reader.last_output, &step.body),
                "output differs from the page:\n  page: {}\n  got:  {}",
                step.body.trim(),
                reader.last_output.trim()
            );
        } else {
            panic!("docs/first-plugin.md: unknown step kind {kind:?}");
        }
    }
    assert!(reader.served.is_some(), "the page never served through the plugin");
    eprintln!("tutorial: every step in {:.1?} (in {})", started.elapsed(), reader.scratch.path().display());
}

/// `key = "value"` of `[section]` in a small TOML file (the forms the manifests use).
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line;
        } else if current == section {
            let Some((k, v)) = line.split_once('=') else { continue };
            if k.trim() == key {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

#[test]
fn the_sdk_manifest_inherits_nothing_and_matches_the_workspace_versions() {
    let root = workspace_dir();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("read {p}: {e}"));
    let (sdk, workspace) = (read("plugin-sdk/Cargo.toml"), read("Cargo.toml"));
    assert!(!sdk.contains("workspace = true") && !sdk.contains(".workspace"), "plugin-sdk inherits:\n{sdk}");
    for key in ["version", "edition", "license"] {
        assert_eq!(
            toml_value(&sdk, "[package]", key),
            toml_value(&workspace, "[workspace.package]", key),
            "plugin-sdk's {key} differs from the workspace's"
        );
    }
    let abi_stable = toml_value(&workspace, "[workspace.dependencies]", "abi_stable");
    assert_eq!(toml_value(&sdk, "[dependencies]", "abi_stable"), abi_stable, "abi_stable's version");
}

#[test]
fn cargo_package_makes_a_crate_of_the_sdk_with_its_readme_and_c_header() {
    let root = workspace_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // A target folder of its own: the `cargo test` running us holds the workspace's.
    let target = root.join("target/sdk-package");
    let out = Command::new(&cargo)
        .args(["package", "-p", "plugin-sdk", "--no-verify", "--offline", "--allow-dirty", "--target-dir"])
        .arg(&target)
        .current_dir(&root)
        .output()
        .expect("run cargo package");
    assert!(out.status.success(), "cargo package failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let crate_file = target.join("package/plugin-sdk-0.1.0.crate");
    assert!(crate_file.is_file(), "no {}", crate_file.display());
    let listed = Command::new(&cargo)
        .args(["package", "-p", "plugin-sdk", "--list", "--offline", "--allow-dirty"])
        .current_dir(&root)
        .output()
        .expect("run cargo package --list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    for file in ["README.md", "include/plugin_host.h", "src/lib.rs", "src/ffi.rs"] {
        assert!(listed.lines().any(|l| l == file), "the crate lacks {file}:\n{listed}");
    }
}
