//! Evaluation of learning: `skillforge eval` runs the same tasks in two arms, with a library
//! that grows and without one, and measures what the library brings (tasks solved, their
//! cost, reuse, composition, retrieval use). Suites in the HumanEval-JS format are read and
//! judged here (`suite.rs`, shared with `bench baseline`); the arms run in `run.rs`, the
//! figures are `report.rs`, the PNG plot `plot.rs`.

mod plot;
mod report;
mod run;
mod suite;

pub use plot::{PlotError, write_plot};
pub use report::{Arm, ArmKind, ArmSummary, EvalReport, TaskOutcome};
pub use run::{EvalError, EvalSetup, EvalTask, Evaluation, library_dir};
pub use suite::{Problem, SuiteError, passes, read_suite};
