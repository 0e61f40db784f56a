//! plugin-host: an HTTP/1.1 reverse proxy whose bodies flow through
//! transform plugins loaded from shared objects.
#![allow(dead_code)]

mod h1;
mod plugins;
mod transform;

fn main() {}
