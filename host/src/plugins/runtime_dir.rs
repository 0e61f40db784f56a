//! The runtime directory: a private, per-process directory holding a unique
//! byte copy of every plugin `.so` the host opens.
//!
//! Why copies: `dlopen` returns the already-loaded library when it sees the
//! same path, or the same device and inode. A plugin rebuilt at the same
//! path, or renamed, hardlinked or symlinked, would then silently run the
//! old code on reload. A fresh file under a fresh name for every load makes
//! each `dlopen` a real load. Copies are bytes, never links, for the same
//! reason, and are mode 0500 so nothing rewrites a mapped library.
//!
//! The directory is refused if its filesystem is mounted `noexec`: `dlopen`
//! would fail there for every plugin, with a far less helpful message.
//! Dropping a [`RuntimeDir`] removes the directory; a library already
//! opened stays mapped, so removing its file is safe.

use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of the runtime directory: only this user may list or add plugins.
const DIR_MODE: u32 = 0o700;
/// Mode of each copy: readable and executable by this user, never written.
const COPY_MODE: u32 = 0o500;
/// Attempts at a fresh random directory name before giving up.
const CREATE_ATTEMPTS: usize = 16;

/// The number of the next copy; process-wide so that no two copies, even in
/// different runtime directories, ever share a name.
static NEXT_COPY: AtomicU64 = AtomicU64::new(0);

/// Why a runtime directory could not be set up.
#[derive(Debug)]
pub enum RuntimeDirError {
    /// `base` is on a filesystem mounted `noexec`.
    NoExec { base: PathBuf },
    /// `statvfs` on `base` failed (most often: it does not exist).
    Inspect { base: PathBuf, source: io::Error },
    /// The private subdirectory could not be created in `base`.
    Create { base: PathBuf, source: io::Error },
}

impl fmt::Display for RuntimeDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoExec { base } => write!(
                f,
                "runtime directory {} is on a filesystem mounted noexec, where plugins cannot \
                 be loaded; pass --runtime-dir with a directory on a filesystem that allows exec",
                base.display()
            ),
            Self::Inspect { base, source } => write!(
                f,
                "cannot inspect runtime directory {}: {source}; it must exist, \
                 or pass --runtime-dir",
                base.display()
            ),
            Self::Create { base, source } => write!(
                f,
                "cannot create a private directory in runtime directory {}: {source}; \
                 check its permissions, or pass --runtime-dir",
                base.display()
            ),
        }
    }
}

impl std::error::Error for RuntimeDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoExec { .. } => None,
            Self::Inspect { source, .. } | Self::Create { source, .. } => Some(source),
        }
    }
}

/// A private directory of plugin copies, removed on drop.
#[derive(Debug)]
pub struct RuntimeDir {
    path: PathBuf,
}

impl RuntimeDir {
    /// Makes `plugin-host-<pid>-<random>` (mode 0700) inside `base`, or by
    /// default inside `$XDG_RUNTIME_DIR`, else the system temp directory.
    /// `base` must exist and must not be mounted `noexec`.
    pub fn create(base: Option<&Path>) -> Result<Self, RuntimeDirError> {
        let base = match base {
            Some(base) => base.to_path_buf(),
            None => default_base(std::env::var_os("XDG_RUNTIME_DIR")),
        };
        // Checked on the base, before creating anything, so that a refusal
        // leaves nothing behind; a new subdirectory is on the same mount.
        match mount_flags(&base) {
            Ok(flags) if is_noexec(flags) => return Err(RuntimeDirError::NoExec { base }),
            Ok(_) => {}
            Err(source) => return Err(RuntimeDirError::Inspect { base, source }),
        }
        let removed = remove_stale(&base);
        if removed > 0 {
            tracing::info!(base = %base.display(), removed, "removed runtime directories of plugin-host processes that no longer run");
        }
        let mut last_error = None;
        for _ in 0..CREATE_ATTEMPTS {
            let name = format!("plugin-host-{}-{:016x}", std::process::id(), random_u64());
            let path = base.join(name);
            // `create` fails if the name exists, so a directory planted by
            // someone else is never adopted.
            match DirBuilder::new().mode(DIR_MODE).create(&path) {
                Ok(()) => {
                    let dir = RuntimeDir { path };
                    // The umask may have narrowed the mode; make it exact.
                    fs::set_permissions(&dir.path, Permissions::from_mode(DIR_MODE))
                        .map_err(|source| RuntimeDirError::Create { base, source })?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(source) => return Err(RuntimeDirError::Create { base, source }),
            }
        }
        let source = last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::AlreadyExists, "no free name"));
        Err(RuntimeDirError::Create { base, source })
    }

    /// Copies the bytes of `so` to `<dir>/<n>-<file name>`, `n` never used
    /// before in this process, mode 0500, and returns the copy's path.
    pub fn unique_copy(&self, so: &Path) -> io::Result<PathBuf> {
        let name = so.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("plugin path {} has no file name", so.display()))
        })?;
        let mut source = File::open(so).map_err(|e| context(e, "cannot open plugin", so))?;
        let mut copy_name = OsString::from(format!("{}-", NEXT_COPY.fetch_add(1, Ordering::Relaxed)));
        copy_name.push(name);
        let dest = self.path.join(copy_name);
        let written =
            OpenOptions::new().write(true).create_new(true).mode(COPY_MODE).open(&dest).and_then(|mut out| {
                io::copy(&mut source, &mut out)?;
                // Exact mode whatever the umask; the open descriptor keeps
                // its write access.
                out.set_permissions(Permissions::from_mode(COPY_MODE))
            });
        match written {
            Ok(()) => Ok(dest),
            Err(e) => {
                // A partial copy must never be loaded; the error that matters
                // is the copy's, so a failed cleanup is not reported.
                let _ = fs::remove_file(&dest);
                Err(context(e, "cannot copy plugin", so))
            }
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.path.display(), error = %e, "cannot remove runtime directory");
            }
        }
    }
}

/// `$XDG_RUNTIME_DIR` when set and non-empty (a per-user tmpfs, cleaned at
/// logout), else the system temp directory.
/// Removes the `plugin-host-<pid>-<hex>` directories in `base` whose process
/// is gone: a host killed by SIGKILL or a crash never ran its `Drop`. Only
/// directories owned by this user are touched, never this process's, and a
/// pid that is alive (whoever it is now) keeps its directory: the cost of a
/// reused pid is one directory left for a later start, never a removal
/// under a running host. Returns how many were removed; failures are
/// skipped, since a stale directory costs disk, not correctness.
pub fn remove_stale(base: &Path) -> usize {
    let Ok(entries) = fs::read_dir(base) else { return 0 };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let me = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(pid) = stale_candidate_pid(&entry.file_name()) else { continue };
        let Ok(meta) = fs::symlink_metadata(entry.path()) else { continue };
        if pid == me || !meta.is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != uid || process_alive(pid) {
            continue;
        }
        if fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in a name made by [`RuntimeDir::create`]: `plugin-host-<pid>-<16 hex>`.
fn stale_candidate_pid(name: &std::ffi::OsStr) -> Option<u32> {
    let rest = name.to_str()?.strip_prefix("plugin-host-")?;
    let (pid, random) = rest.split_once('-')?;
    if random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// Whether `pid` names a process, of any user (EPERM means it exists).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the pid exists and may be signalled; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn default_base(xdg_runtime_dir: Option<OsString>) -> PathBuf {
    match xdg_runtime_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir(),
    }
}

/// Whether `statvfs` mount flags say programs cannot be mapped executable.
fn is_noexec(flags: libc::c_ulong) -> bool {
    flags & libc::ST_NOEXEC != 0
}

/// The `f_flag` mount flags of the filesystem holding `path`.
fn mount_flags(path: &Path) -> io::Result<libc::c_ulong> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is NUL-terminated and outlives the call; `stat` is a
    // valid, writable `statvfs` that the call fills on success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised `stat` (and it was
    // zeroed before, so every field is a valid integer regardless).
    Ok(unsafe { stat.assume_init() }.f_flag)
}

/// A random name part. The name only needs to be hard to collide with by
/// accident: `mkdir` refuses an existing name and the mode is 0700, so a
/// guessed name lets no one in. std's `RandomState` is seeded randomly per
/// process, which is enough without another dependency.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.finish()
}

fn context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch() -> RuntimeDir {
        RuntimeDir::create(Some(&std::env::temp_dir())).expect("runtime dir in temp dir")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").mode() & 0o777
    }

    #[test]
    fn create_makes_a_private_per_process_dir_and_drop_removes_it() {
        let base = std::env::temp_dir();
        let dir = RuntimeDir::create(Some(&base)).expect("create");
        let path = dir.path().to_path_buf();
        assert_eq!(path.parent(), Some(base.as_path()));
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        let prefix = format!("plugin-host-{}-", std::process::id());
        assert!(name.starts_with(&prefix), "{name}");
        assert_eq!(name.len(), prefix.len() + 16, "{name}");
        assert!(path.is_dir());
        assert_eq!(mode(&path), DIR_MODE);
        let other = scratch();
        assert_ne!(other.path(), path, "two runtime dirs never share a path");
        let copy = dir.unique_copy(&std::env::current_exe().expect("exe")).expect("copy");
        drop(dir);
        assert!(!path.exists(), "dropping removes the dir and its copies");
        assert!(!copy.exists());
        assert!(other.path().exists(), "only its own dir is removed");
    }

    #[test]
    fn unique_copies_differ_in_path_and_inode_but_not_bytes() {
        let dir = scratch();
        let so = dir.path().join("libnull.so");
        fs::write(&so, b"\x7fELF pretend plugin").expect("write source");
        let first = dir.unique_copy(&so).expect("first copy");
        let second = dir.unique_copy(&so).expect("second copy");
        assert_ne!(first, second);
        for copy in [&first, &second] {
            assert_eq!(copy.parent(), Some(dir.path()));
            let name = copy.file_name().and_then(|n| n.to_str()).expect("name");
            let (n, rest) = name.split_once('-').expect("<n>-<name>");
            assert!(n.parse::<u64>().is_ok(), "{name}");
            assert_eq!(rest, "libnull.so");
            assert_eq!(fs::read(copy).expect("read copy"), b"\x7fELF pretend plugin");
            assert_eq!(mode(copy), COPY_MODE);
        }
        let inode = |p: &Path| fs::metadata(p).expect("metadata").ino();
        assert_ne!(inode(&first), inode(&second));
        assert_ne!(inode(&first), inode(&so), "a copy, not a hardlink");
    }

    #[test]
    fn copy_survives_the_source_being_overwritten() {
        let dir = scratch();
        let so = dir.path().join("p.so");
        fs::write(&so, b"old build").expect("write");
        let old = dir.unique_copy(&so).expect("copy");
        // In place (same inode, as `cp` does) and by rename (as a linker may).
        fs::write(&so, b"new build, in place").expect("overwrite");
        assert_eq!(fs::read(&old).expect("read"), b"old build");
        let replacement = dir.path().join("p.so.tmp");
        fs::write(&replacement, b"new build, renamed").expect("write");
        fs::rename(&replacement, &so).expect("rename");
        assert_eq!(fs::read(&old).expect("read"), b"old build");
        let new = dir.unique_copy(&so).expect("copy");
        assert_eq!(fs::read(&new).expect("read"), b"new build, renamed");
    }

    #[test]
    fn copy_errors_name_the_plugin() {
        let dir = scratch();
        let missing = dir.path().join("missing.so");
        let err = dir.unique_copy(&missing).expect_err("missing source");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with(&format!("cannot open plugin {}: ", missing.display())));
        let err = dir.unique_copy(Path::new("/")).expect_err("no file name");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "plugin path / has no file name");
    }

    #[test]
    fn stale_directories_of_dead_processes_are_removed() {
        let base = scratch();
        // A pid above the kernel's maximum (4194304) never runs.
        let dead = base.path().join("plugin-host-999999999-0123456789abcdef");
        let alive = base.path().join(format!("plugin-host-{}-0123456789abcdef", std::process::id()));
        let foreign = base.path().join("plugin-host-999999999-not-ours");
        for dir in [&dead, &alive, &foreign] {
            fs::create_dir(dir).expect("mkdir");
        }
        fs::write(dead.join("1-libx.so"), b"x").expect("write");
        assert_eq!(remove_stale(base.path()), 1);
        assert!(!dead.exists() && alive.exists() && foreign.exists());
    }

    #[test]
    fn default_base_prefers_a_non_empty_xdg_runtime_dir() {
        assert_eq!(default_base(Some("/run/user/7".into())), Path::new("/run/user/7"));
        assert_eq!(default_base(Some(OsString::new())), std::env::temp_dir());
        assert_eq!(default_base(None), std::env::temp_dir());
    }

    #[test]
    fn noexec_is_decided_from_the_statvfs_flags() {
        assert!(is_noexec(libc::ST_NOEXEC));
        assert!(is_noexec(libc::ST_NOEXEC | libc::ST_NOSUID | libc::ST_RDONLY));
        assert!(!is_noexec(0));
        assert!(!is_noexec(libc::ST_NOSUID | libc::ST_NODEV | libc::ST_RDONLY));
    }

    #[test]
    fn a_missing_base_is_refused_before_creating_anything() {
        let base = std::env::temp_dir().join(format!("plugin-host-absent-{}", random_u64()));
        let err = RuntimeDir::create(Some(&base)).expect_err("missing base");
        assert!(matches!(&err, RuntimeDirError::Inspect { source, .. }
            if source.kind() == io::ErrorKind::NotFound));
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("cannot inspect runtime directory {}: ", base.display())));
        assert!(shown.ends_with("; it must exist, or pass --runtime-dir"), "{shown}");
        assert!(!base.exists());
    }

    #[test]
    fn noexec_message() {
        let err = RuntimeDirError::NoExec { base: PathBuf::from("/dev/shm") };
        assert_eq!(
            err.to_string(),
            "runtime directory /dev/shm is on a filesystem mounted noexec, where plugins cannot \
             be loaded; pass --runtime-dir with a directory on a filesystem that allows exec"
        );
    }

    /// Runs against a real noexec mount when the machine has one.
    #[test]
    fn a_noexec_mount_is_refused() {
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        let noexec = mounts.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (dir, options) = (fields.get(1)?, fields.get(3)?);
            let has_noexec = options.split(',').any(|o| o == "noexec");
            // Octal escapes (`\040` for space) are not worth decoding here.
            (has_noexec && !dir.contains('\\') && Path::new(dir).is_dir()).then(|| PathBuf::from(dir))
        });
        let Some(dir) = noexec else {
            println!("note: no noexec mount in /proc/mounts; real-mount noexec check skipped");
            return;
        };
        match RuntimeDir::create(Some(&dir)) {
            Err(RuntimeDirError::NoExec { base }) => assert_eq!(base, dir),
            // Some mounts (e.g. /proc/sys) refuse statvfs to non-root.
            Err(RuntimeDirError::Inspect { .. }) => {
                println!("note: cannot statvfs {}", dir.display())
            }
            other => panic!("{} is noexec but create gave {other:?}", dir.display()),
        }
    }
}
