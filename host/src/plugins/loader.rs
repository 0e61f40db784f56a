//! Opening one plugin: a unique byte copy (dlopen caches by path and inode,
//! so a rebuilt `.so` must not be opened in place), the entry symbol, then
//! the checks and `init` of [`Module::init`].
//!
//! Every refusal is one line, `plugin PATH: what is wrong; what to do`,
//! where PATH is the plugin as configured (never the private copy).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use plugin_sdk::ffi::{EntryFn, ENTRY_SYMBOL};

use super::abi::one_line;
use super::config::PluginLine;
use super::generation::LoadOptions;
use super::images::OpenError;
use super::module::Module;

/// Longest dlopen error quoted in a refusal, in bytes.
const DLERROR_CAP: usize = 120;

/// Loads and initialises the plugin of `line`. The error is one line:
/// the config file and line, then [`open`]'s refusal.
pub fn load(line: &PluginLine, opts: &LoadOptions<'_>) -> Result<Module, String> {
    open(&line.path, &line.args, opts).map_err(|e| format!("{}:{}: {e}", line.file.display(), line.line))
}

/// Loads the plugin at `path` (its image: a unique copy in the runtime
/// directory, or the same content already mapped) and initialises it with
/// `args`. The error is `plugin PATH: what is wrong; what to do`.
pub fn open(path: &Path, args: &[String], opts: &LoadOptions<'_>) -> Result<Module, String> {
    let shown = path.display();
    let rt = opts.runtime;
    let library = match opts.images.open(path, rt) {
        Ok(library) => library,
        Err(OpenError::Copy(e)) => {
            return Err(format!(
                "plugin {shown}: cannot copy it into the runtime directory {} ({e}); check permissions and free space",
                rt.path().display()
            ))
        }
        Err(OpenError::Dlopen { copy, error }) => return Err(dlopen_refusal(path, &copy, rt.path(), &error)),
    };
    // SAFETY: the symbol's type is checked by the descriptor's versions and
    // layout right after; a wrong symbol of that name is a broken plugin.
    let entry: EntryFn = match unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) } {
        Ok(symbol) => *symbol,
        Err(_) => {
            return Err(format!(
                "plugin {shown}: has no `{ENTRY_SYMBOL}` symbol, so it is not a plugin-host plugin; \
                 declare it with plugin-sdk's declare_plugin!"
            ))
        }
    };
    Module::init(path, entry, Some(library), args, opts.host)
}

/// Why dlopen refused the copy of `path`, said for the operator: the
/// runtime directory mounted `noexec` (after start-up: at start-up
/// [`RuntimeDir::create`] refuses it), a file that is not a shared object,
/// or anything else the dynamic loader said, without the copy's path.
fn dlopen_refusal(path: &Path, copy: &Path, dir: &Path, error: &str) -> String {
    let shown = path.display();
    if on_noexec_mount(dir) {
        return format!(
            "plugin {shown}: cannot be mapped executable: runtime directory {} is on a filesystem mounted noexec; \
             pass --runtime-dir with a directory on a filesystem that allows exec",
            dir.display()
        );
    }
    let why = summarize_dlerror(error, copy);
    if why.contains("ELF") || why.contains("file too short") {
        format!(
            "plugin {shown}: not a shared object for this platform ({why}); point plugin.config at the plugin's .so"
        )
    } else {
        format!(
            "plugin {shown}: the dynamic loader refused it ({why}); check that it was built for this platform \
             and that the libraries it links (ldd) are installed"
        )
    }
}

/// The dynamic loader's message without the private copy's path it starts
/// with (`/run/.../3-libx.so: invalid ELF header` -> `invalid ELF header`).
fn summarize_dlerror(error: &str, copy: &Path) -> String {
    let copy = copy.to_string_lossy();
    let rest = error.strip_prefix(copy.as_ref()).map_or(error, |r| r.trim_start_matches([':', ' ']));
    one_line(rest, DLERROR_CAP)
}

/// Whether `dir` is on a filesystem mounted `noexec` (false if unknown:
/// then the loader's own message is the best explanation).
fn on_noexec_mount(dir: &Path) -> bool {
    let Ok(c_dir) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_dir` is NUL-terminated and outlives the call; `stat` is
    // writable and filled on success.
    if unsafe { libc::statvfs(c_dir.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statvfs succeeded (and the struct was zeroed before).
    unsafe { stat.assume_init() }.f_flag & libc::ST_NOEXEC != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlerror_loses_the_private_copy_path() {
        let copy = Path::new("/run/ph/7-libx.so");
        assert_eq!(summarize_dlerror("/run/ph/7-libx.so: invalid ELF header", copy), "invalid ELF header");
        assert_eq!(
            summarize_dlerror("libz.so.9: cannot open shared object file", copy),
            "libz.so.9: cannot open shared object file"
        );
        assert_eq!(summarize_dlerror("/run/ph/7-libx.so: a\nb", copy), "a b");
    }

    #[test]
    fn dlopen_refusals_say_what_and_what_to_do() {
        // A directory statvfs cannot see: never "noexec", wherever the tests run.
        let dir = Path::new("/nonexistent-plugin-host-dir");
        let (p, copy) = (Path::new("/x/libfoo.so"), Path::new("/tmp/1-libfoo.so"));
        assert_eq!(
            dlopen_refusal(p, copy, dir, "/tmp/1-libfoo.so: file too short"),
            "plugin /x/libfoo.so: not a shared object for this platform (file too short); \
             point plugin.config at the plugin's .so"
        );
        assert_eq!(
            dlopen_refusal(p, copy, dir, "libbar.so.1: cannot open shared object file: No such file or directory"),
            "plugin /x/libfoo.so: the dynamic loader refused it (libbar.so.1: cannot open shared object file: \
             No such file or directory); check that it was built for this platform and that the libraries it \
             links (ldd) are installed"
        );
    }
}
