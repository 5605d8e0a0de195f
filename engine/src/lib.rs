//! The flowpat engine: flow and event archives in, compiled join plans run on differential
//! dataflow over timely, deterministic results out.
//!
//! Stages: `load` (files → decoded, labelled column batches), scan filters (the plan's pushed
//! predicates, evaluated with `compiler::eval` before rows enter the dataflow), `render` (the
//! only module that names timely/DD types), and `output` (consolidated, sorted result sets and
//! their printed forms).
#![warn(missing_docs)]

pub mod cluster;
pub mod datum;
pub mod env;
pub mod estimate;
pub mod generate;
mod kernel;
pub mod load;
pub mod model;
pub mod output;
pub mod pivot;
pub mod presets;
pub mod render;
pub mod run;
pub mod watch;
pub mod why;
