//! The gzip plugin: streaming gzip, deflate, brotli and zstd compression of
//! response bodies, configured with Traffic Server's `compress.config`.
//!
//! `plugin.config`: `libplugin_gzip.so [CONFIG_FILE]` (see `README.md`).
//!
//! Per transaction:
//!
//! ```text
//! read request headers   settings for the Host; enabled? URL allowed?
//!                        Range rules; Accept-Encoding negotiated
//!                        (rules::on_request); the verdict kept in the
//!                        transaction's state
//! read response headers  status, Content-Encoding, no-transform, type,
//!                        length (rules::on_response); head rewritten;
//!                        the Compress transform added (transform.rs)
//! ```
//!
//! The modules: [`config`] reads the file, [`negotiate`] picks a coding,
//! [`rules`] decides and edits heads over [`fields`], [`encoder`] wraps the
//! backends, [`transform`] streams, [`stats`] counts.

pub mod config;
pub mod encoder;
pub mod fields;
pub mod glob;
pub mod negotiate;
pub mod rules;
pub mod stats;
pub mod transform;

use std::sync::Arc;

use plugin_sdk::{declare_plugin, log_info, Hooks, Plugin, Txn};

use config::Config;
use encoder::Encoder;
use rules::Verdict;
use stats::{Skip, Stats};
use transform::Compress;

/// The plugin: its configuration and counters.
pub struct GzipPlugin {
    config: Config,
    stats: Arc<Stats>,
}

/// What the request hook decided, kept for the response hook. `None`: the
/// request hook did not run for this transaction, so nothing was decided.
#[derive(Default)]
struct Decided(Option<Verdict>);

impl GzipPlugin {
    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Plugin for GzipPlugin {
    fn init(args: &[String]) -> Result<Self, String> {
        let config = match args {
            [] => Config::default(),
            [path] => Config::load(path)?,
            _ => {
                return Err(format!(
                    "takes at most one argument, the config file, got {args:?}; quote a path with spaces"
                ))
            }
        };
        for notice in &config.notices {
            log_info!("{notice}");
        }
        Ok(GzipPlugin { config, stats: Arc::new(Stats::register()) })
    }

    fn hooks(&self) -> Hooks {
        Hooks::READ_REQUEST_HEADERS | Hooks::READ_RESPONSE_HEADERS
    }

    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        let url = txn.url();
        let settings = settings_for(&self.config, txn);
        let verdict = rules::on_request(settings, url, &mut txn.request());
        txn.state::<Decided>().0 = Some(verdict);
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let Some(status) = txn.status() else { return };
        let settings = settings_for(&self.config, txn);
        let verdict = txn.state::<Decided>().0.unwrap_or(Err(Skip::Disabled));
        let coding = match rules::on_response(settings, verdict, status, &mut txn.response()) {
            Ok(coding) => coding,
            Err(why) => return self.stats.skipped(why).inc(),
        };
        self.stats.compressed(coding).inc();
        if !txn.response_body().exists() {
            return; // HEAD: the head says what a GET would get; there is no body.
        }
        // The head already says Content-Encoding: a body that cannot be
        // compressed must not go out as if it were.
        match Encoder::new(coding, settings) {
            Ok(encoder) => {
                if let Err(refused) =
                    txn.add_response_transform(Compress::new(encoder, settings.flush, Arc::clone(&self.stats)))
                {
                    txn.fail(500, &format!("gzip: the host refused the compress transform: {refused:?}"));
                }
            }
            Err(e) => txn.fail(500, &format!("gzip: cannot start the {} encoder: {e}", coding.name())),
        }
    }
}

/// The settings for the client-facing host: an absolute-form target's
/// authority, which wins over the Host field (RFC 9112 section 3.2.2), else
/// the Host field.
fn settings_for<'c>(config: &'c Config, txn: &mut Txn<'_>) -> &'c config::Settings {
    let url = txn.url();
    match url.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split(['/', '?']).next().unwrap_or(rest);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            config.for_host(Some(host.as_bytes()))
        }
        None => config.for_host(txn.request().get("host")),
    }
}

declare_plugin!(GzipPlugin);

#[cfg(test)]
mod tests;
