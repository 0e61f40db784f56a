//! The plugin SDK (placeholder until the SDK lands).
#![deny(missing_docs)]
