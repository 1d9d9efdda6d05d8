//! The Storm query language: parser and runtime.
