//! Benchmarks: figures, never pass/fail, each against a peer measured in the same run
//! (`liftkit bench …`). The commands print what these functions measure. `testbed` holds the
//! legacy services the benchmarks and the integration tests share.

pub mod deps;
pub mod parity;
pub mod testbed;
