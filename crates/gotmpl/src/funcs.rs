//! Built-in functions: Go's template builtins plus the ones docker/cli
//! registers (`json`, `split`, `join`, `title`, `lower`, `upper`, `pad`,
//! `truncate`). `and`/`or` short-circuit, so the executor evaluates them
//! itself; they are listed here for the arity table.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use crate::exec::{NULL, V};
use crate::printf::{sprint, sprintf, sprintln};
use crate::value::{as_int, is_printable, is_true, type_name, write_json};

/// Why a call failed. Go words argument type mismatches without the
/// `error calling X:` prefix it gives to errors the function returns.
pub(crate) enum CallError {
    Call(String),
    /// Argument `index` (the piped-in value counts last) is not a `want`.
    Arg {
        index: usize,
        want: &'static str,
        msg: String,
    },
}

type CResult<'a> = Result<V<'a>, CallError>;

/// `(minimum argument count, variadic)`, or `None` for unknown names.
pub(crate) fn arity(name: &str) -> Option<(usize, bool)> {
    Some(match name {
        "and" | "or" | "index" | "slice" | "printf" | "eq" => (1, true),
        "print" | "println" | "html" | "js" | "urlquery" => (0, true),
        "not" | "len" | "json" | "title" | "lower" | "upper" => (1, false),
        "ne" | "lt" | "le" | "gt" | "ge" | "split" | "join" | "truncate" => (2, false),
        "pad" => (3, false),
        _ => return None,
    })
}

pub(crate) fn exists(name: &str) -> bool {
    arity(name).is_some()
}

fn wrong_type<T>(index: usize, want: &'static str, got: &Value) -> Result<T, CallError> {
    let msg = match got {
        Value::Null => format!("invalid value; expected {want}"),
        v => format!("wrong type for value; expected {want}; got {}", type_name(v)),
    };
    Err(CallError::Arg { index, want, msg })
}

fn want_str<'v>(args: &'v [V<'_>], i: usize) -> Result<&'v str, CallError> {
    match &*args[i] {
        Value::String(s) => Ok(s),
        v => wrong_type(i, "string", v),
    }
}

fn want_int(args: &[V<'_>], i: usize) -> Result<i128, CallError> {
    match args[i].as_number().and_then(as_int) {
        Some(n) => Ok(n),
        None => wrong_type(i, "int", &args[i]),
    }
}

fn owned<'a>(v: impl Into<Value>) -> CResult<'a> {
    Ok(Cow::Owned(v.into()))
}

/// Calls built-in `name` (arity already checked). In `header` mode the
/// functions docker/cli overrides for table headers return their first
/// argument, so a column title is not split, lowered or JSON-quoted.
pub(crate) fn call<'a>(name: &str, mut args: Vec<V<'a>>, header: bool) -> CResult<'a> {
    if header && matches!(name, "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate") {
        want_str(&args, 0)?;
        if name == "truncate" {
            want_int(&args, 1)?;
        } else if args.len() > 1 {
            want_str(&args, 1)?;
        }
        return Ok(args.swap_remove(0));
    }
    let plain = |args: &[V<'a>]| args.iter().map(|v| v.as_ref().clone()).collect::<Vec<Value>>();
    match name {
        "not" => owned(!is_true(&args[0])),
        "len" => match &*args[0] {
            Value::String(s) => owned(s.len()),
            Value::Array(a) => owned(a.len()),
            Value::Object(m) => owned(m.len()),
            Value::Null => Err(CallError::Call("len of nil pointer".into())),
            v => Err(CallError::Call(format!("len of type {}", type_name(v)))),
        },
        "index" => {
            let item = args.remove(0);
            index(item, &args)
        }
        "slice" => {
            let item = args.remove(0);
            slice(&item, &args)
        }
        "print" => owned(sprint(&plain(&args))),
        "println" => owned(sprintln(&plain(&args))),
        "printf" => {
            let format = want_str(&args, 0)?.to_string();
            owned(sprintf(&format, &plain(&args[1..])))
        }
        "eq" => {
            if args.len() < 2 {
                return Err(CallError::Call("missing argument for comparison".into()));
            }
            for other in &args[1..] {
                if equal(&args[0], other)? {
                    return owned(true);
                }
            }
            owned(false)
        }
        "ne" => owned(!equal(&args[0], &args[1])?),
        "lt" => owned(less(&args[0], &args[1])?),
        "le" => owned(less(&args[0], &args[1])? || equal(&args[0], &args[1])?),
        "gt" => owned(!(less(&args[0], &args[1])? || equal(&args[0], &args[1])?)),
        "ge" => owned(!less(&args[0], &args[1])?),
        "html" => owned(html_escape(&eval_args(&args))),
        "js" => owned(js_escape(&eval_args(&args))),
        "urlquery" => owned(query_escape(&eval_args(&args))),
        "json" => {
            let mut s = String::new();
            write_json(&mut s, &args[0]);
            owned(s)
        }
        "split" => {
            let (s, sep) = (want_str(&args, 0)?, want_str(&args, 1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            owned(parts)
        }
        "join" => {
            let sep = want_str(&args, 1)?;
            let parts: Vec<String> = match &*args[0] {
                Value::Null => Vec::new(),
                // Go wants []string; JSON arrays may hold other scalars, so
                // print those as Go would rather than fail.
                Value::Array(a) => a.iter().map(crate::value::to_go_string).collect(),
                v => return wrong_type(0, "[]string", v),
            };
            owned(parts.join(sep))
        }
        "title" => owned(title(want_str(&args, 0)?)),
        "lower" => owned(want_str(&args, 0)?.to_lowercase()),
        "upper" => owned(want_str(&args, 0)?.to_uppercase()),
        "pad" => {
            let s = want_str(&args, 0)?;
            let (left, right) = (want_int(&args, 1)?, want_int(&args, 2)?);
            if s.is_empty() {
                return owned("");
            }
            if left < 0 || right < 0 {
                return Err(CallError::Call("strings: negative Repeat count".into()));
            }
            owned(format!("{}{s}{}", " ".repeat(left as usize), " ".repeat(right as usize)))
        }
        "truncate" => {
            let s = want_str(&args, 0)?;
            let n = want_int(&args, 1)?;
            if n < 0 {
                return Err(CallError::Call(format!("runtime error: slice bounds out of range [:{n}]")));
            }
            owned(s.chars().take(n as usize).collect::<String>())
        }
        // and/or are evaluated lazily by the executor.
        _ => Err(CallError::Call(format!("function {name:?} not implemented"))),
    }
}

/// Narrows a borrowed-or-owned value to a part of it, borrowing if it can.
pub(crate) fn project<'a, F>(v: V<'a>, f: F) -> Option<V<'a>>
where
    F: for<'b> Fn(&'b Value) -> Option<&'b Value>,
{
    match v {
        Cow::Borrowed(b) => f(b).map(Cow::Borrowed),
        Cow::Owned(o) => f(&o).cloned().map(Cow::Owned),
    }
}

/// Go's `indexArg`: an integer within `0..=cap`.
fn index_arg(v: &Value, cap: usize) -> Result<usize, CallError> {
    let x = match v {
        Value::Number(n) => match as_int(n) {
            Some(x) => x,
            None => return Err(CallError::Call("cannot index slice/array with type float64".into())),
        },
        Value::Null => return Err(CallError::Call("cannot index slice/array with nil".into())),
        v => return Err(CallError::Call(format!("cannot index slice/array with type {}", type_name(v)))),
    };
    if x < 0 || x > cap as i128 {
        return Err(CallError::Call(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

/// `index`: lists and strings by position, maps by key. A missing key
/// yields the map's zero value: Go's typed maps (`map[string]string` for
/// labels and options) give `""`, so a map holding only strings does too;
/// any other map gives nil, which prints as `<no value>`.
fn index<'a>(mut item: V<'a>, idxs: &[V<'a>]) -> CResult<'a> {
    if item.is_null() {
        return Err(CallError::Call("index of untyped nil".into()));
    }
    enum Step {
        Elem(usize),
        Key(String),
        Value(Value),
    }
    for idx in idxs {
        let step = match &*item {
            Value::Null => return Err(CallError::Call("index of nil pointer".into())),
            Value::Array(a) => {
                let x = index_arg(idx, a.len())?;
                if x >= a.len() {
                    return Err(CallError::Call(format!("index out of range: {x}")));
                }
                Step::Elem(x)
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Step::Value(Value::from(*b)),
                    None => return Err(CallError::Call(format!("index out of range: {x}"))),
                }
            }
            Value::Object(m) => {
                let Value::String(key) = &**idx else {
                    return Err(CallError::Call(format!(
                        "value has type {}; should be string",
                        type_name(idx)
                    )));
                };
                if m.contains_key(key) {
                    Step::Key(key.clone())
                } else if m.values().all(Value::is_string) {
                    Step::Value(Value::String(String::new()))
                } else {
                    Step::Value(Value::Null)
                }
            }
            v => return Err(CallError::Call(format!("can't index item of type {}", type_name(v)))),
        };
        item = match step {
            Step::Elem(x) => project(item, |v| v.as_array()?.get(x)).unwrap_or(Cow::Borrowed(&NULL)),
            Step::Key(k) => project(item, |v| v.as_object()?.get(&k)).unwrap_or(Cow::Borrowed(&NULL)),
            Step::Value(v) => Cow::Owned(v),
        };
    }
    Ok(item)
}

/// `slice x 1 2`: Go's `x[1:2]` for lists and (byte-indexed) strings.
fn slice<'a>(item: &Value, idxs: &[V<'a>]) -> CResult<'a> {
    if idxs.len() > 3 {
        return Err(CallError::Call(format!("too many slice indexes: {}", idxs.len())));
    }
    let len = match item {
        Value::Null => return Err(CallError::Call("slice of untyped nil".into())),
        Value::String(s) => {
            if idxs.len() == 3 {
                return Err(CallError::Call("cannot 3-index slice a string".into()));
            }
            s.len()
        }
        Value::Array(a) => a.len(),
        v => return Err(CallError::Call(format!("can't slice item of type {}", type_name(v)))),
    };
    let mut idx = [0, len, len];
    for (i, v) in idxs.iter().enumerate() {
        idx[i] = index_arg(v, len)?;
    }
    if idx[0] > idx[1] {
        return Err(CallError::Call(format!("invalid slice index: {} > {}", idx[0], idx[1])));
    }
    if idxs.len() == 3 && idx[1] > idx[2] {
        return Err(CallError::Call(format!("invalid slice index: {} > {}", idx[1], idx[2])));
    }
    match item {
        Value::String(s) => owned(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        Value::Array(a) => owned(a[idx[0]..idx[1]].to_vec()),
        _ => unreachable!("checked above"),
    }
}

/// Go's `eq` for one pair: basic values only; a nil on either side is
/// equal only to nil; ints and floats compare by value.
fn equal(a: &Value, b: &Value) -> Result<bool, CallError> {
    Ok(match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_), Value::Number(_)) => num_cmp(a, b) == Some(Ordering::Equal),
        (Value::Array(_) | Value::Object(_), _) if std::mem::discriminant(a) == std::mem::discriminant(b) => {
            return Err(CallError::Call(format!(
                "non-comparable type {}: {}",
                crate::value::to_go_string(b),
                type_name(b)
            )));
        }
        _ => return Err(CallError::Call("incompatible types for comparison".into())),
    })
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    let (Value::Number(x), Value::Number(y)) = (a, b) else { return None };
    if !x.is_f64() && !y.is_f64() {
        return Some(as_int(x)?.cmp(&as_int(y)?));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

/// Go's `lt`: numbers and strings only.
fn less(a: &Value, b: &Value) -> Result<bool, CallError> {
    let basic = |v: &Value| matches!(v, Value::Number(_) | Value::String(_) | Value::Bool(_));
    if !basic(a) || !basic(b) || a.is_boolean() {
        return Err(CallError::Call("invalid type for comparison".into()));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x < y),
        (Value::Number(_), Value::Number(_)) => Ok(num_cmp(a, b) == Some(Ordering::Less)),
        _ => Err(CallError::Call("incompatible types for comparison".into())),
    }
}

/// The argument handling shared by `html`, `js` and `urlquery`: a lone
/// string as is, otherwise `fmt.Sprint` with nil shown as `<no value>`.
fn eval_args(args: &[V<'_>]) -> String {
    if let [one] = args
        && let Value::String(s) = &**one
    {
        return s.clone();
    }
    let vals: Vec<Value> = args
        .iter()
        .map(|v| if v.is_null() { Value::String("<no value>".into()) } else { v.as_ref().clone() })
        .collect();
    sprint(&vals)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || is_printable(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's (deprecated but Docker-used) `strings.Title`: upper-cases the first
/// letter of each word, words being separated by anything but letters,
/// digits, `_` and (outside ASCII) non-space characters.
fn title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_sep(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(js_escape("a'b\"<=>\n"), "a\\'b\\\"\\u003C\\u003D\\u003E\\u000A");
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(title("hello wORLD foo_bar a-b"), "Hello WORLD Foo_bar A-B");
    }
}
