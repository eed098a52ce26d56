//! skillforge: a runtime that lets an LLM agent grow a library of code skills and reuse it.

pub mod embed;
