//! fake host
