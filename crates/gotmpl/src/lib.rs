//! Go `text/template` for berth's `--format` flags, evaluated over
//! [`serde_json::Value`] data, plus Docker's formatter conventions
//! (`table`, `json`, the tabwriter) in [`format`](mod@format).
//!
//! Docker users write `--format` strings in Go template syntax, so the
//! engine has to accept the same syntax and print values the way Go does
//! (`[a b]` for lists, `map[k:v]` for maps, `<no value>` for missing keys).
//! It is hand-written: no maintained Rust crate implements Go's
//! `text/template` semantics (its lexer quirks, trim markers, pipelines,
//! variable scoping and `fmt` printing rules) over JSON values; the general
//! purpose engines (Tera, Handlebars, minijinja) use different grammars.
//!
//! Layout: `lexer` turns source into tokens, `parse` builds the `ast`,
//! `exec` walks it, `funcs` holds the built-in and Docker functions,
//! `value` and `printf` reproduce Go's printing, [`tabwriter`] and
//! [`format`](mod@format) reproduce docker/cli's output plumbing.
//!
//! ```
//! let t = gotmpl::Template::parse("{{.Repository}}:{{.Tag}}").unwrap();
//! let out = t.render(&serde_json::json!({"Repository": "alpine", "Tag": "3"})).unwrap();
//! assert_eq!(out, "alpine:3");
//! ```

mod ast;
mod exec;
pub mod format;
mod funcs;
mod lexer;
mod parse;
mod printf;
pub mod tabwriter;
mod value;

pub use format::{Format, parse_format, render_rows};
pub use tabwriter::TabWriter;

use serde_json::Value;

/// A template failure, worded like Go's so users see familiar messages.
///
/// Docker's CLI prefixes these with `template parsing error: ` (for both
/// kinds); callers do that, not this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The source does not parse: `template: :LINE: MESSAGE`.
    #[error("template: :{line}: {msg}")]
    Parse {
        /// 1-based line of the offending token.
        line: usize,
        /// Go's wording, e.g. `unexpected "}" in operand`.
        msg: String,
    },
    /// Evaluation failed:
    /// `template: :LINE:COL: executing "" at <CONTEXT>: MESSAGE`.
    #[error("template: :{line}:{col}: executing \"\" at <{context}>: {msg}")]
    Exec {
        /// 1-based line of the node being evaluated.
        line: usize,
        /// Byte offset of the node within its line (Go counts from 0).
        col: usize,
        /// The node rendered back to template syntax, e.g. `.Foo` or `len .X`.
        context: String,
        /// Go's wording, e.g. `can't evaluate field Foo in type string`.
        msg: String,
    },
}

/// A parsed template, reusable across many renders.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    root: Vec<ast::Node>,
}

impl Template {
    /// Parses Go template source. Functions are checked at parse time, like
    /// Go does, so unknown names fail here rather than on the first row.
    pub fn parse(src: &str) -> Result<Template, Error> {
        let root = parse::parse(src)?;
        Ok(Template { src: src.to_string(), root })
    }

    /// Executes the template with `data` as both `.` and `$`.
    pub fn render(&self, data: &Value) -> Result<String, Error> {
        let mut out = String::new();
        exec::execute(self, data, false, &mut out)?;
        Ok(out)
    }

    /// Renders a table header the way docker/cli does: `data` maps field
    /// names to column titles, the string functions that would mangle a
    /// title (`json`, `split`, `join`, `title`, `lower`, `upper`,
    /// `truncate`) return their first argument unchanged, and an execution
    /// error is ignored, keeping whatever was written before it.
    pub fn render_header(&self, data: &Value) -> String {
        let mut out = String::new();
        // Docker ignores the header's execution error; so do we.
        let _ = exec::execute(self, data, true, &mut out);
        out
    }

    /// The source this template was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }
}

#[cfg(test)]
mod tests;
