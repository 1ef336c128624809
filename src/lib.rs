//! liftkit: lift legacy Linux applications into minimal, reproducible OCI images.
//!
//! Data flows one way: [`snapshot`] (collect) → [`analyze`] → [`plan`] → [`build`] artifacts, with
//! [`verify`] running the result. Each stage is a function of the serialized output of the one
//! before it; file contents are read only through [`host::Host`]. [`pipeline`] joins the stages
//! for the commands.

pub mod analyze;
pub mod apps;
pub mod bench;
pub mod build;
pub mod built;
pub mod elf;
pub mod engagement;
pub mod findings;
pub mod fleet;
pub mod fsutil;
pub mod harden;
pub mod host;
pub mod hostimage;
pub mod os;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod report;
pub mod snapshot;
pub mod timefmt;
pub mod trial;
pub mod verify;
pub mod wizard;
