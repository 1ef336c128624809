//! Benchmarks: figures, never pass/fail, each against a peer measured in the same run
//! (`liftkit bench …`). The commands print what these functions measure.

pub mod deps;
