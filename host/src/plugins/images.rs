//! Plugin images: each distinct content of a plugin file is copied into the
//! runtime directory and opened once, then stays mapped for the life of the
//! process and is shared by every generation and line that loads it.
//!
//! Why never unload: a Rust `cdylib` that has registered thread-local
//! destructors cannot be `dlclose`d soundly (rust-lang/rust issues 59629 and
//! 88737; glibc then keeps it mapped anyway), and the host cannot know what
//! a plugin's dependencies did. So images are opened with `RTLD_NODELETE`
//! and cached by content: reloading an unchanged chain maps nothing new, and
//! each rebuilt plugin costs one more image, kept until the process exits.
//! Past [`Images::warn_above`] images the host says so in the log and tells
//! the operator to restart to release them.
//!
//! A cached image is reused only if the file's bytes equal those of its copy
//! (length first, then every byte: a plain comparison costs less than hashing
//! and leaves no doubt), so a rebuilt plugin copied over the same path is
//! always opened fresh.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::runtime_dir::RuntimeDir;

/// Why an image could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The plugin file could not be read or copied.
    Copy(std::io::Error),
    /// The dynamic loader refused the copy.
    Dlopen {
        /// The private copy it was given.
        copy: PathBuf,
        /// What it said.
        error: String,
    },
}

struct Image {
    len: u64,
    copy: PathBuf,
    library: Arc<libloading::Library>,
}

/// See the module docs.
pub struct Images {
    loaded: Mutex<Vec<Image>>,
    warn_above: usize,
}

impl Images {
    /// A cache that warns once more than `warn_above` images are mapped.
    pub fn new(warn_above: usize) -> Self {
        Images { loaded: Mutex::new(Vec::new()), warn_above }
    }

    /// The library for the content of `path` now: the cached image if one
    /// has exactly these bytes, else a fresh copy in `rt`, opened.
    pub fn open(&self, path: &Path, rt: &RuntimeDir) -> Result<Arc<libloading::Library>, OpenError> {
        let len = std::fs::metadata(path).map_err(OpenError::Copy)?.len();
        let mut loaded = self.loaded.lock();
        let same = |i: &&Image| i.len == len && same_bytes(path, &i.copy).unwrap_or(false);
        if let Some(image) = loaded.iter().find(same) {
            return Ok(image.library.clone());
        }
        let copy = rt.unique_copy(path).map_err(OpenError::Copy)?;
        let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL | libc::RTLD_NODELETE;
        // SAFETY: loading runs the library's initialisers; plugins are trusted
        // code by configuration, and everything after this is checked.
        let library = match unsafe { libloading::os::unix::Library::open(Some(&copy), flags) } {
            Ok(library) => Arc::new(libloading::Library::from(library)),
            Err(e) => {
                // A copy that cannot be loaded is of no use to anyone.
                let _ = std::fs::remove_file(&copy);
                return Err(OpenError::Dlopen { copy, error: e.to_string() });
            }
        };
        loaded.push(Image { len, copy, library: library.clone() });
        if loaded.len() > self.warn_above {
            tracing::warn!(
                images = loaded.len(),
                limit = self.warn_above,
                "{} plugin images are mapped: each rebuilt plugin stays mapped, as unloading a Rust plugin is \
                 not sound; restart the host to release them (--max-plugin-images sets this warning's limit)",
                loaded.len()
            );
        }
        Ok(library)
    }

    /// How many images are mapped.
    pub fn count(&self) -> usize {
        self.loaded.lock().len()
    }

    /// The warning limit.
    pub fn warn_above(&self) -> usize {
        self.warn_above
    }
}

/// Whether files `a` and `b` hold the same bytes, read in small blocks so
/// that comparing a large plugin allocates nothing large.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    const BLOCK: usize = 64 * 1024;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    loop {
        let na = read_full(&mut fa, &mut ba)?;
        let nb = read_full(&mut fb, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na < BLOCK {
            return Ok(true);
        }
    }

    /// Fills `buf` unless the file ends first; returns the bytes read.
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}
