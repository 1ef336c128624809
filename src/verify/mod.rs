//! Verify (in progress).
