//! The Storm query language: parser and runtime.
//!
//! [`parse_query`] turns Storm text into a typed [`ast::Query`]; syntax errors come back as
//! [`SyntaxError`] (the reference's `BadSyntax`) with the position of the offending token.
//!
//! ```
//! use synapse_cortex::storm::{self, ast::OperKind};
//!
//! let query = storm::parse_query("inet:fqdn=vertex.link -> inet:dns:a | limit 10")?;
//! assert_eq!(query.opers.len(), 3);
//! assert!(matches!(query.opers[2].kind, OperKind::Cmd(_)));
//!
//! let err = storm::parse_query("inet:fqdn=vertex.link [ :zone=").unwrap_err();
//! assert_eq!(err.offset(), Some(29)); // the end of input is reported at the last token
//! # Ok::<(), storm::SyntaxError>(())
//! ```

pub mod ast;
mod error;
pub mod fuzzing;
mod lexer;
mod parser;
pub mod plan;
pub mod runtime;
mod sets;
mod unescape;

pub use error::{ErrorPos, SyntaxError};
pub use lexer::{Term, TermSet, Token};
pub use parser::{MAX_DEPTH, parse_cmdrargs, parse_eval, parse_lookup, parse_query};
