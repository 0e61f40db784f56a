//! The null transform (placeholder until the SDK lands).
