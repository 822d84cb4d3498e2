//! Parse tree. `Display` renders nodes back to template syntax the way Go's
//! `Node.String` does, because Go puts that text in execution errors
//! (`executing "" at <index .Labels "k">: ...`).

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    /// `{{pipeline}}`: prints the value unless the pipeline declares variables.
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

/// The shared shape of `if`, `with` and `range`.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    /// `$x = ...` rather than `$x := ...`.
    pub is_assign: bool,
    /// Declared or assigned variable names, including the `$`.
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    /// `.A.B` → `["A", "B"]`.
    Field(Vec<String>),
    /// `$x.A` → `["$x", "A"]`.
    Variable(Vec<String>),
    Dot,
    Nil,
    Bool(bool),
    /// Original spelling and value (an integer or a float).
    Number(String, Value),
    /// Original quoted spelling and unquoted value.
    Str(String, String),
    /// A function name.
    Ident(String),
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B` or `fn.A`: fields applied to another term.
    Chain(Box<Arg>, Vec<String>),
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    list.iter().try_for_each(|n| write!(f, "{n}"))
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(b) => b.write(f, "if"),
            Node::With(b) => b.write(f, "with"),
            Node::Range(b) => b.write(f, "range"),
            Node::Break => f.write_str("{{break}}"),
            Node::Continue => f.write_str("{{continue}}"),
        }
    }
}

impl Branch {
    fn write(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        write!(f, "{{{{{name} {}}}}}", self.pipe)?;
        write_list(f, &self.list)?;
        if let Some(e) = &self.else_list {
            f.write_str("{{else}}")?;
            write_list(f, e)?;
        }
        f.write_str("{{end}}")
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match &a.kind {
                ArgKind::Pipe(p) => write!(f, "({p})")?,
                _ => write!(f, "{a}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Field(ids) => ids.iter().try_for_each(|id| write!(f, ".{id}")),
            ArgKind::Variable(ids) => f.write_str(&ids.join(".")),
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(text, _) => f.write_str(text),
            ArgKind::Str(quoted, _) => f.write_str(quoted),
            ArgKind::Ident(name) => f.write_str(name),
            ArgKind::Pipe(p) => write!(f, "{p}"),
            ArgKind::Chain(node, fields) => {
                match &node.kind {
                    ArgKind::Pipe(p) => write!(f, "({p})")?,
                    _ => write!(f, "{node}")?,
                }
                fields.iter().try_for_each(|id| write!(f, ".{id}"))
            }
        }
    }
}
