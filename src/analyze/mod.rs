//! Analysis (in progress).
