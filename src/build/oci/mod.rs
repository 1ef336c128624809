//! OCI image writer (in progress).
