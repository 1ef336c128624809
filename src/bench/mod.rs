//! What the benchmarks and the integration tests share: the legacy services they start.

pub mod testbed;
