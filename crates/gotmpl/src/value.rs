//! How Go sees and prints JSON values.
//!
//! Docker templates run over Go values, so output such as `[a b]`,
//! `map[k:v]`, `1e+06` or `<nil>` is what users expect and script against.
//! These helpers reproduce Go's `fmt` `%v` rules, its truth test, the type
//! names it puts in error messages, `strconv.Quote`, and `encoding/json`'s
//! compact encoding.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// The Go type a JSON value would have after `json.Unmarshal` into an
/// `interface{}` (integers reported as `int`, as template literals are).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's template truth: false, 0, nil, and empty strings, lists and maps
/// are false; everything else is true.
pub(crate) fn is_true(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// An integer view of a number: integers, and floats with no fraction
/// (JSON loses the int/float distinction Go data would have had).
pub(crate) fn as_int(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 1e18).then_some(f as i128)
}

/// Map entries in Go's printing order (sorted by key), whatever order the
/// map itself keeps.
pub(crate) fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

/// Appends `v` as Go's `fmt.Print` / `%v` would print it.
pub(crate) fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in sorted_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, e);
            }
            out.push(']');
        }
    }
}

/// `%v` of a value as a new string.
pub(crate) fn to_go_string(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&format_g(f, None, false));
    }
}

/// Splits a finite float into its decimal digits (no trailing zeros) and
/// decimal exponent `exp` (the value is `0.d1d2... × 10^(exp+1)`, i.e.
/// `d1.d2... × 10^exp`). `sig` rounds to that many significant digits;
/// `None` gives the shortest digits that round-trip, as Go's `-1`.
fn decimal_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
        None => format!("{:e}", f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp.parse().unwrap_or(0))
}

/// Go's `%e` exponent suffix: sign and at least two digits.
fn exp_suffix(exp: i32, upper: bool) -> String {
    let e = if upper { 'E' } else { 'e' };
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{e}{sign}{:02}", exp.abs())
}

/// `%e` with `prec` digits after the point.
pub(crate) fn format_e(f: f64, prec: usize, upper: bool) -> String {
    let s = format!("{:.*e}", prec, f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    format!("{mant}{}", exp_suffix(exp.parse().unwrap_or(0), upper))
}

/// Go's `%g` (and `%v` for floats when `prec` is `None`): exponent form
/// when the exponent is below -4 or at least the precision (6 when
/// shortest, which is why Go prints `1e+06`).
pub(crate) fn format_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let sign = if f.is_sign_negative() && f != 0.0 { "-" } else { "" };
    let (digits, exp) = decimal_digits(f, prec);
    let nd = digits.len() as i32;
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            if p > nd && nd > exp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        return format!("{sign}{first}{frac}{}", exp_suffix(exp, upper));
    }
    // Fixed notation with exactly the significant digits.
    let dp = exp + 1;
    let mut s = String::from(sign);
    if dp <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-dp) as usize));
        s.push_str(&digits);
    } else if dp >= nd {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        s.push_str(int);
        s.push('.');
        s.push_str(frac);
    }
    s
}

/// Go's `strconv.Quote`: double quotes, Go escapes, non-printable
/// characters as `\x`, `\u` or `\U`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
pub(crate) fn go_quote_rune(c: char) -> String {
    let mut out = String::from('\'');
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if !is_printable(c) => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

/// Approximates Go's `unicode.IsPrint` (letters, marks, numbers,
/// punctuation, symbols and the ASCII space).
pub(crate) fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters and private use / unassigned-ish ranges Go rejects.
    !matches!(u, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff)
}

/// Go's `json.Marshal` with HTML escaping off (as docker/cli's `json`
/// function configures it). Objects keep the map's own order.
pub(crate) fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_json_number(out, n),
        Value::String(s) => write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, e);
            }
            out.push('}');
        }
    }
}

fn write_json_number(out: &mut String, n: &Number) {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Go: exponent form with a signed exponent, no zero padding.
            let s = format!("{f:e}");
            let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let sign = if exp.starts_with('-') { "" } else { "+" };
            let _ = write!(out, "{mant}e{sign}{exp}");
        } else {
            let _ = write!(out, "{f}");
        }
    } else {
        let _ = write!(out, "{n}");
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn go_printing() {
        let cases = [
            (json!("s"), "s"),
            (json!(42), "42"),
            (json!(-3), "-3"),
            (json!(1.5), "1.5"),
            (json!(3.0), "3"),
            (json!(1e6), "1e+06"),
            (json!(123456.0), "123456"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(true), "true"),
            (json!(null), "<nil>"),
            (json!(["a", "b", 1]), "[a b 1]"),
            (json!({"b": 1, "a": [true, null]}), "map[a:[true <nil>] b:1]"),
            (json!([]), "[]"),
            (json!({}), "map[]"),
        ];
        for (v, want) in cases {
            assert_eq!(to_go_string(&v), want, "{v}");
        }
    }

    #[test]
    fn g_with_precision() {
        assert_eq!(format_g(2.34567, Some(3), false), "2.35");
        assert_eq!(format_g(1234567.0, Some(3), false), "1.23e+06");
        assert_eq!(format_g(100.0, Some(3), false), "100");
        assert_eq!(format_g(0.5, Some(6), false), "0.5");
        assert_eq!(format_e(1234.5678, 2, false), "1.23e+03");
        assert_eq!(format_e(0.0, 6, true), "0.000000E+00");
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\n\x01é"), "\"a\\\"b\\n\\x01é\"");
        assert_eq!(go_quote_rune('\''), "'\\''");
    }

    #[test]
    fn json_encoding() {
        let mut s = String::new();
        write_json(&mut s, &json!({"a": "<x>&\u{2028}\u{1}", "b": [1, 2.5, 1e21, 1e-7, null]}));
        assert_eq!(s, r#"{"a":"<x>&\u2028\u0001","b":[1,2.5,1e+21,1e-7,null]}"#);
    }
}
