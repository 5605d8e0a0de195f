//! End-to-end test harness for flowpat: an independent oracle for the six catalog patterns,
//! canonical Parquet fixtures, and a driver for the `flowpat` binary.
//!
//! Independence is the point: nothing here uses `compiler` or `engine` code, so the engine's
//! results are checked against a second reading of `shared/spec/flow-model.md` rather than
//! against themselves. Test targets live in `e2e/`.

pub mod archive;
pub mod boundary;
pub mod cli;
pub mod fixture;
pub mod model;
pub mod networks;
pub mod oracle;
