//! Tree walker: evaluates a parsed template against JSON data.
//!
//! Values are `Cow`s so field access into the caller's data borrows rather
//! than copies; only function results are owned. Semantics follow Go's
//! `text/template/exec.go`: a missing key or a field of nil is nil (printed
//! as `<no value>`), pipelines feed the previous value as the last
//! argument, variables are scoped to the enclosing control structure, and
//! a `range` over a map visits keys in sorted order.

use std::borrow::Cow;
use std::fmt::Display;

use serde_json::Value;

use crate::ast::{Arg, ArgKind, Branch, Command, Node, Pipe};
use crate::funcs::{self, CallError, project};
use crate::value::{is_true, sorted_entries, to_go_string, type_name, write_value};
use crate::{Error, Template};

pub(crate) type V<'a> = Cow<'a, Value>;

pub(crate) static NULL: Value = Value::Null;

type EResult<T> = Result<T, Error>;

/// Runs `t` with `data` as dot, appending to `out`. On error, `out` keeps
/// what was written before it (docker/cli relies on that for headers).
pub(crate) fn execute(t: &Template, data: &Value, header: bool, out: &mut String) -> EResult<()> {
    let mut st = State { src: &t.src, vars: vec![("$", Cow::Borrowed(data))], header };
    st.walk(&Cow::Borrowed(data), &t.root, out)?;
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'t, 'a> {
    src: &'t str,
    /// Variable stack, innermost last; `$` is at the bottom.
    vars: Vec<(&'t str, V<'a>)>,
    header: bool,
}

impl<'t, 'a> State<'t, 'a> {
    /// An execution error located at byte `pos`, in Go's format.
    fn err<T>(&self, pos: usize, context: &dyn Display, msg: impl Into<String>) -> EResult<T> {
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |i| pos - (i + 1));
        Err(Error::Exec { line, col, context: context.to_string(), msg: msg.into() })
    }

    fn walk(&mut self, dot: &V<'a>, list: &'t [Node], out: &mut String) -> EResult<Flow> {
        for node in list {
            let flow = match node {
                Node::Text(t) => {
                    out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        match &*v {
                            // Go prints a missing value (an invalid reflect.Value) so.
                            Value::Null => out.push_str("<no value>"),
                            v => write_value(out, v),
                        }
                    }
                    Flow::Normal
                }
                Node::If(b) => self.walk_if_with(dot, b, false, out)?,
                Node::With(b) => self.walk_if_with(dot, b, true, out)?,
                Node::Range(b) => self.walk_range(dot, b, out)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &V<'a>, b: &'t Branch, with: bool, out: &mut String) -> EResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if is_true(&v) {
            let inner = if with { &v } else { dot };
            self.walk(inner, &b.list, out)?
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e, out)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &V<'a>, b: &'t Branch, out: &mut String) -> EResult<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let body_mark = self.vars.len();
        let ndecl = b.pipe.decl.len();
        let items: Vec<(Value, V<'a>)> = match &*val {
            Value::Array(_) | Value::Object(_) => Self::range_items(val),
            Value::Null => Vec::new(),
            // Go 1.22 ranges over integers: 0..n.
            Value::Number(n) if !n.is_f64() => {
                let count = n.as_u64().unwrap_or(0);
                if ndecl > 1 {
                    return self.err(
                        b.pos,
                        &b.pipe,
                        format!("can't use {count} to iterate over more than one variable"),
                    );
                }
                (0..count).map(|i| (Value::from(i), Cow::Owned(Value::from(i)))).collect()
            }
            v => return self.err(b.pos, &b.pipe, format!("range can't iterate over {}", to_go_string(v))),
        };
        if items.is_empty() {
            let flow = match &b.else_list {
                Some(e) => self.walk(dot, e, out)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        for (key, elem) in items {
            if ndecl > 0 {
                let elem_var = ndecl - 1;
                if b.pipe.is_assign {
                    self.set_var(&b.pipe.decl[elem_var], elem.clone());
                    if ndecl > 1 {
                        self.set_var(&b.pipe.decl[0], Cow::Owned(key));
                    }
                } else {
                    // The declarations were pushed by eval_pipeline: last on top.
                    self.vars[body_mark - 1].1 = elem.clone();
                    if ndecl > 1 {
                        self.vars[body_mark - 2].1 = Cow::Owned(key);
                    }
                }
            }
            let flow = self.walk(&elem, &b.list, out)?;
            self.vars.truncate(body_mark);
            if flow == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// (index or key, element) pairs of a list or map, borrowing when the
    /// collection is borrowed.
    fn range_items(val: V<'a>) -> Vec<(Value, V<'a>)> {
        match val {
            Cow::Borrowed(Value::Array(a)) => {
                a.iter().enumerate().map(|(i, e)| (Value::from(i), Cow::Borrowed(e))).collect()
            }
            Cow::Owned(Value::Array(a)) => {
                a.into_iter().enumerate().map(|(i, e)| (Value::from(i), Cow::Owned(e))).collect()
            }
            Cow::Borrowed(Value::Object(m)) => sorted_entries(m)
                .into_iter()
                .map(|(k, e)| (Value::String(k.clone()), Cow::Borrowed(e)))
                .collect(),
            Cow::Owned(Value::Object(m)) => {
                let mut e: Vec<_> = m.into_iter().collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                e.into_iter().map(|(k, e)| (Value::String(k), Cow::Owned(e))).collect()
            }
            _ => Vec::new(),
        }
    }

    fn lookup(&self, name: &str) -> V<'a> {
        self.vars.iter().rev().find(|(n, _)| *n == name).map_or(Cow::Borrowed(&NULL), |(_, v)| v.clone())
    }

    fn set_var(&mut self, name: &str, v: V<'a>) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            slot.1 = v;
        }
    }

    fn eval_pipeline(&mut self, dot: &V<'a>, pipe: &'t Pipe) -> EResult<V<'a>> {
        let mut val = None;
        for cmd in &pipe.cmds {
            val = Some(self.eval_command(dot, cmd, val)?);
        }
        let val = val.unwrap_or(Cow::Borrowed(&NULL));
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, val.clone());
            } else {
                self.vars.push((name.as_str(), val.clone()));
            }
        }
        Ok(val)
    }

    /// `fin` is the value piped in from the previous command, if any.
    fn eval_command(&mut self, dot: &V<'a>, cmd: &'t Command, fin: Option<V<'a>>) -> EResult<V<'a>> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match &first.kind {
            ArgKind::Field(ids) => self.eval_field_chain(dot.clone(), ids, first, rest, fin),
            ArgKind::Chain(node, fields) => {
                let recv = self.eval_chain_receiver(dot, first, node)?;
                self.eval_field_chain(recv, fields, first, rest, fin)
            }
            ArgKind::Ident(name) => self.eval_function(dot, name, first.pos, cmd, rest, fin),
            ArgKind::Variable(ids) => self.eval_variable(first, ids, rest, fin),
            ArgKind::Pipe(p) => {
                self.not_a_function(first, rest, &fin)?;
                self.eval_pipeline(dot, p)
            }
            kind => {
                self.not_a_function(first, rest, &fin)?;
                match kind {
                    ArgKind::Nil => self.err(first.pos, first, "nil is not a command"),
                    _ => self.eval_arg(dot, first),
                }
            }
        }
    }

    fn not_a_function(&self, first: &Arg, rest: &[Arg], fin: &Option<V<'a>>) -> EResult<()> {
        if !rest.is_empty() || fin.is_some() {
            return self.err(first.pos, first, format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_chain_receiver(&mut self, dot: &V<'a>, chain: &'t Arg, node: &'t Arg) -> EResult<V<'a>> {
        if matches!(node.kind, ArgKind::Nil) {
            return self.err(chain.pos, chain, format!("indirection through explicit nil in {chain}"));
        }
        self.eval_arg(dot, node)
    }

    /// Evaluates a value-producing argument (no arguments of its own).
    fn eval_arg(&mut self, dot: &V<'a>, arg: &'t Arg) -> EResult<V<'a>> {
        Ok(match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => Cow::Borrowed(&NULL),
            ArgKind::Bool(b) => Cow::Owned(Value::Bool(*b)),
            ArgKind::Number(_, v) => Cow::Owned(v.clone()),
            ArgKind::Str(_, s) => Cow::Owned(Value::String(s.clone())),
            ArgKind::Field(ids) => self.eval_field_chain(dot.clone(), ids, arg, &[], None)?,
            ArgKind::Variable(ids) => self.eval_variable(arg, ids, &[], None)?,
            ArgKind::Pipe(p) => self.eval_pipeline(dot, p)?,
            ArgKind::Ident(name) => self.eval_function(dot, name, arg.pos, arg, &[], None)?,
            ArgKind::Chain(node, fields) => {
                let recv = self.eval_chain_receiver(dot, arg, node)?;
                self.eval_field_chain(recv, fields, arg, &[], None)?
            }
        })
    }

    fn eval_variable(
        &mut self,
        node: &'t Arg,
        ids: &'t [String],
        args: &'t [Arg],
        fin: Option<V<'a>>,
    ) -> EResult<V<'a>> {
        let v = self.lookup(&ids[0]);
        if ids.len() == 1 {
            self.not_a_function(node, args, &fin)?;
            return Ok(v);
        }
        self.eval_field_chain(v, &ids[1..], node, args, fin)
    }

    fn eval_field_chain(
        &mut self,
        mut recv: V<'a>,
        ids: &'t [String],
        node: &'t Arg,
        args: &'t [Arg],
        fin: Option<V<'a>>,
    ) -> EResult<V<'a>> {
        let (last, init) = ids.split_last().expect("field chains are never empty");
        for id in init {
            recv = self.eval_field(id, node, false, recv)?;
        }
        let has_args = !args.is_empty() || fin.is_some();
        self.eval_field(last, node, has_args, recv)
    }

    /// `.name` on `recv`. Maps (objects) yield the entry or nil; nil yields
    /// nil; anything else has no fields.
    fn eval_field(&self, name: &str, node: &'t Arg, has_args: bool, recv: V<'a>) -> EResult<V<'a>> {
        match &*recv {
            Value::Object(_) => {
                if has_args {
                    return self.err(node.pos, node, format!("{name} is not a method but has arguments"));
                }
                Ok(project(recv, |v| v.as_object()?.get(name)).unwrap_or(Cow::Borrowed(&NULL)))
            }
            Value::Null => Ok(Cow::Borrowed(&NULL)),
            v => self.err(node.pos, node, format!("can't evaluate field {name} in type {}", type_name(v))),
        }
    }

    /// Calls function `name`. `ctx` is the node named in "error calling"
    /// messages (the whole command, as Go reports it).
    fn eval_function(
        &mut self,
        dot: &V<'a>,
        name: &'t str,
        pos: usize,
        ctx: &dyn Display,
        args: &'t [Arg],
        fin: Option<V<'a>>,
    ) -> EResult<V<'a>> {
        let (min, variadic) = funcs::arity(name).expect("parser checked the function exists");
        let n = args.len() + usize::from(fin.is_some());
        if variadic && n < min {
            return self.err(
                pos,
                &name,
                format!("wrong number of args for {name}: want at least {min} got {n}"),
            );
        }
        if !variadic && n != min {
            return self.err(pos, &name, format!("wrong number of args for {name}: want {min} got {n}"));
        }
        if name == "and" || name == "or" {
            // Short-circuit: return the first falsy (and) / truthy (or)
            // argument, else the last one.
            let stop_on = name == "or";
            let mut last = Cow::Borrowed(&NULL);
            for a in args {
                let v = self.eval_arg(dot, a)?;
                if is_true(&v) == stop_on {
                    return Ok(v);
                }
                last = v;
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(n);
        for a in args {
            vals.push(self.eval_arg(dot, a)?);
        }
        vals.extend(fin);
        match funcs::call(name, vals, self.header) {
            Ok(v) => Ok(v),
            Err(CallError::Call(msg)) => self.err(pos, ctx, format!("error calling {name}: {msg}")),
            // Go blames the offending argument; a piped-in value has no node
            // of its own, so the command stands in for it.
            Err(CallError::Arg { index, want, msg }) => match args.get(index) {
                // Go checks literals against the parameter type directly.
                Some(a @ Arg { kind: ArgKind::Number(..) | ArgKind::Str(..) | ArgKind::Bool(_), .. }) => {
                    self.err(a.pos, a, format!("expected {want}; found {a}"))
                }
                Some(a @ Arg { kind: ArgKind::Nil, .. }) => {
                    self.err(a.pos, a, format!("cannot assign nil to {want}"))
                }
                Some(a) => self.err(a.pos, a, msg),
                None => self.err(pos, ctx, msg),
            },
        }
    }
}
