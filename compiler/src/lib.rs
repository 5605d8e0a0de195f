//! The flowpat pattern compiler: pattern text → AST → resolved IR → rules → join plan.
//!
//! This crate knows the language and the flow model's vocabulary, and nothing about how data
//! is stored or run: it depends on neither differential dataflow, timely nor arrow. The one
//! meaning of an expression is [`eval`], used by the engine for push-down filters, joins and
//! explanations alike.
#![warn(missing_docs)]

pub mod ast;
pub mod diagnostic;
pub mod source;
pub mod syntax;
pub mod value;
