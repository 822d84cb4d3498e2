//! Go's `fmt.Sprintf`, `Sprint` and `Sprintln` over JSON values.
//!
//! Covers the verbs Docker formats use in practice (`%s %d %v %q %t %x %X
//! %o %b %c %f %e %g %T %%`), flags (`- + # 0 space`), width and precision
//! (including `*` and `[n]` argument indexes), and Go's in-band error
//! notation (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`), because
//! scripts may depend on exactly that output.
//!
//! JSON cannot say whether `2` was an int or a float in the Go data, so
//! integer verbs accept floats without a fraction and float verbs accept
//! integers.

use std::fmt::Write as _;

use serde_json::Value;

use crate::value::{
    as_int, format_e, format_g, go_quote, go_quote_rune, sorted_entries, to_go_string, type_name,
};

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut argn = 0usize;
    let mut reordered = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        // Explicit argument index `[n]` (1-based), before width or verb.
        let mut arg_index = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, argn: &mut usize| {
            if chars.peek() == Some(&'[') {
                chars.next();
                let n: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
                if chars.next_if_eq(&']').is_some()
                    && let Ok(n) = n.parse::<usize>()
                    && n >= 1
                {
                    *argn = n - 1;
                    reordered = true;
                }
            }
        };
        arg_index(&mut chars, &mut argn);
        if chars.next_if_eq(&'*').is_some() {
            match args.get(argn).and_then(|v| v.as_number().and_then(as_int)) {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            let w: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
            spec.width = w.parse().ok();
        }
        if chars.next_if_eq(&'.').is_some() {
            arg_index(&mut chars, &mut argn);
            if chars.next_if_eq(&'*').is_some() {
                match args.get(argn).and_then(|v| v.as_number().and_then(as_int)) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                let p: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
                spec.prec = Some(p.parse().unwrap_or(0));
            }
        }
        arg_index(&mut chars, &mut argn);
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            Some(arg) => {
                format_arg(&mut out, arg, verb, spec);
                argn += 1;
            }
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
        }
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argn..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", type_name(a), to_go_string(a));
        }
        out.push(')');
    }
    out
}

/// `fmt.Sprint`: a space between operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&to_go_string(a));
    }
    out
}

/// `fmt.Sprintln`: always spaces between operands, newline at the end.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(to_go_string).collect();
    parts.join(" ") + "\n"
}

fn bad_verb(out: &mut String, arg: &Value, verb: char) {
    match arg {
        Value::Null => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        a => {
            let _ = write!(out, "%!{verb}({}={})", type_name(a), to_go_string(a));
        }
    }
}

/// Pads to the width (counted in characters, as Go does).
fn pad(out: &mut String, s: &str, spec: Spec, zero_ok: bool) {
    let len = s.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(s);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && zero_ok {
        // Zeros go after any sign.
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'-' | b'+' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn format_arg(out: &mut String, arg: &Value, verb: char, spec: Spec) {
    match arg {
        Value::Null => match verb {
            'v' => pad(out, "<nil>", spec, false),
            'T' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, arg, verb),
        },
        _ if verb == 'T' => pad(out, type_name(arg), spec, false),
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, arg, verb),
        },
        Value::Number(n) => {
            let is_int = !n.is_f64();
            match verb {
                'v' if is_int => format_int(out, as_int(n).unwrap_or(0), 'd', spec),
                'v' => format_float(out, n.as_f64().unwrap_or(0.0), 'g', spec, true),
                'd' | 'b' | 'o' | 'O' | 'x' | 'X' | 'c' | 'q' | 'U' => match as_int(n) {
                    Some(i) => format_int(out, i, verb, spec),
                    None => bad_verb(out, arg, verb),
                },
                'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                    format_float(out, n.as_f64().unwrap_or(0.0), verb, spec, false)
                }
                _ => bad_verb(out, arg, verb),
            }
        }
        Value::String(s) => format_string(out, s, verb, spec, arg),
        Value::Array(a) => {
            // Go applies the verb to each element.
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, e, verb, spec);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in sorted_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_string(out, k, verb, spec, &Value::String(k.clone()));
                out.push(':');
                format_arg(out, e, verb, spec);
            }
            out.push(']');
        }
    }
}

fn format_string(out: &mut String, s: &str, verb: char, spec: Spec, arg: &Value) {
    let truncated: String = match spec.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' if spec.sharp => pad(out, &go_quote(s), spec, true),
        's' | 'v' => pad(out, &truncated, spec, true),
        'q' => {
            let q = if spec.sharp
                && !truncated.contains('`')
                && !truncated.chars().any(|c| c.is_control() && c != '\t')
            {
                format!("`{truncated}`")
            } else {
                go_quote(&truncated)
            };
            pad(out, &q, spec, true)
        }
        'x' | 'X' => {
            let mut h = String::new();
            for (i, b) in truncated.bytes().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                let _ = if verb == 'x' { write!(h, "{b:02x}") } else { write!(h, "{b:02X}") };
            }
            pad(out, &h, spec, true)
        }
        _ => bad_verb(out, arg, verb),
    }
}

fn format_int(out: &mut String, i: i128, verb: char, spec: Spec) {
    match verb {
        'c' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            return pad(out, &c.to_string(), spec, false);
        }
        'q' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            return pad(out, &go_quote_rune(c), spec, false);
        }
        'U' => {
            let mut s = format!("U+{:04X}", i.unsigned_abs());
            if spec.sharp
                && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
            {
                let _ = write!(s, " '{c}'");
            }
            return pad(out, &s, spec, false);
        }
        _ => {}
    }
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'b' => format!("{u:b}"),
        'o' | 'O' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        _ => u.to_string(),
    };
    // Precision is a minimum digit count; `%.0d` of zero prints nothing.
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match verb {
        'b' if spec.sharp => "0b",
        'o' if spec.sharp && !digits.starts_with('0') => "0",
        'O' => "0o",
        'x' if spec.sharp => "0x",
        'X' if spec.sharp => "0X",
        _ => "",
    };
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let body = format!("{prefix}{digits}");
    // With an explicit precision Go pads with spaces, not zeros.
    let zero_ok = spec.prec.is_none();
    if spec.zero && zero_ok && !spec.minus {
        let width = spec.width.unwrap_or(0);
        let len = sign.len() + body.len();
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', width.saturating_sub(len)));
        out.push_str(&body);
    } else {
        pad(out, &format!("{sign}{body}"), spec, false);
    }
}

fn format_float(out: &mut String, f: f64, verb: char, spec: Spec, shortest_v: bool) {
    let upper = verb.is_ascii_uppercase();
    let mut s = match verb {
        'e' | 'E' => format_e(f, spec.prec.unwrap_or(6), upper),
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f),
        _ => format_g(f, if shortest_v { spec.prec } else { spec.prec.map(|p| p.max(1)) }, upper),
    };
    if !s.starts_with('-') {
        if spec.plus {
            s.insert(0, '+');
        } else if spec.space {
            s.insert(0, ' ');
        }
    }
    pad(out, &s, spec, f.is_finite());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn f(fmt: &str, args: Value) -> String {
        sprintf(fmt, args.as_array().unwrap())
    }

    #[test]
    fn verbs() {
        let cases = [
            ("%s|%-10s|%10s|", json!(["a", "left", "right"]), "a|left      |     right|"),
            (
                "%d %5d %-5d| %05d %x %X %o %b",
                json!([42, 42, 42, -42, 255, 255, 8, 5]),
                "42    42 42   | -0042 ff FF 10 101",
            ),
            ("%v %v %v %v", json!(["s", 1, 2.5, true]), "s 1 2.5 true"),
            ("%q %q", json!(["a\"b", 65]), "\"a\\\"b\" 'A'"),
            ("%t %t", json!([true, false]), "true false"),
            (
                "%.2f %8.3f %f %e %g %.3g",
                json!([2.34567, 2.0, 1, 1234.5678, 0.000012, 1234.5678]),
                "2.35    2.000 1.000000 1.234568e+03 1.2e-05 1.23e+03",
            ),
            ("%x %X", json!(["hi", "hi"]), "6869 6869"),
            ("%c", json!([0x41]), "A"),
            (
                "%T %T %T %T %T",
                json!(["", 1, 1.5, [], {}]),
                "string int float64 []interface {} map[string]interface {}",
            ),
            ("%.3s", json!(["abcdef"]), "abc"),
            ("%v", json!([[1, "a"]]), "[1 a]"),
            ("%5.1f%%", json!([99.44]), " 99.4%"),
            ("%+d % d", json!([5, 5]), "+5  5"),
            ("%*d|%-*d|", json!([4, 7, 3, 1]), "   7|1  |"),
            ("%[2]s %[1]s", json!(["a", "b"]), "b a"),
        ];
        for (fmt, args, want) in cases {
            assert_eq!(f(fmt, args), want, "{fmt}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(f("%d", json!(["x"])), "%!d(string=x)");
        assert_eq!(f("%s", json!([1])), "%!s(int=1)");
        assert_eq!(f("%s %s", json!(["a"])), "a %!s(MISSING)");
        assert_eq!(f("%s", json!(["a", 1])), "a%!(EXTRA int=1)");
        assert_eq!(f("%s", json!([null])), "%!s(<nil>)");
        assert_eq!(f("%v", json!([null])), "<nil>");
        assert_eq!(f("%", json!([])), "%!(NOVERB)");
        assert_eq!(f("%z", json!([1])), "%!z(int=1)");
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(sprint(json!(["a", "b"]).as_array().unwrap()), "ab");
        assert_eq!(sprint(json!([1, 2, "x", 3]).as_array().unwrap()), "1 2x3");
        assert_eq!(sprintln(json!(["a", 1]).as_array().unwrap()), "a 1\n");
    }
}
