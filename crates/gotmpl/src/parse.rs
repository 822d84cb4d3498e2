//! Recursive-descent parser from tokens to the [`ast`](crate::ast).
//!
//! The grammar and the error wording track Go's `text/template/parse`, so
//! that a template that Docker rejects is rejected here with the message
//! Docker users already know (`unexpected "}" in operand`, `function "x"
//! not defined`, `undefined variable "$x"`, ...). Variables are resolved
//! lexically at parse time, as in Go.

use serde_json::{Number, Value};

use crate::Error;
use crate::ast::{Arg, ArgKind, Branch, Command, Node, Pipe};
use crate::funcs;
use crate::lexer::{Kind, Kw, Token, lex};
use crate::value::go_quote;

type PResult<T> = Result<T, Error>;

/// Parses template source into its root node list.
pub(crate) fn parse(src: &str) -> PResult<Vec<Node>> {
    let mut p = Parser { toks: lex(src), i: 0, vars: vec!["$".to_string()], range_depth: 0, line: 1 };
    p.top()
}

/// What `text_or_action` found: a node, or a delimiter of an enclosing list.
enum Item {
    Node(Node),
    End,
    /// `{{else}}`; carries the keyword when it is `{{else if` / `{{else with`,
    /// which is left unconsumed.
    Else(Option<Kw>),
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    range_depth: usize,
    /// Line of the last token read, for error messages.
    line: usize,
}

impl Parser {
    fn tok(&self, i: usize) -> &Token {
        &self.toks[i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.tok(self.i).clone();
        self.i += 1;
        self.line = t.line;
        t
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Token {
        self.tok(self.i)
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Kind::Space {
                return t;
            }
        }
    }

    /// Skips (consumes) spaces and returns the following token unconsumed.
    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(Error::Parse { line: self.line, msg: msg.into() })
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> PResult<T> {
        if t.kind == Kind::Error {
            return self.errorf(t.val.clone());
        }
        self.errorf(format!("unexpected {t} in {context}"))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End => return self.errorf("unexpected {{end}}"),
                Item::Else(_) => return self.errorf("unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Item::Node(Node::Text(t.val))),
            Kind::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    /// Parses nodes up to the `{{end}}` or `{{else}}` closing the list.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        loop {
            if self.peek_non_space().kind == Kind::Eof {
                return self.errorf("unexpected EOF");
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Keyword(Kw::Block | Kw::Define | Kw::Template) => {
                self.errorf(format!("{{{{{}}}}} is not supported", t.val))
            }
            Kind::Keyword(Kw::Else) => {
                let peek = self.peek_non_space();
                if let Kind::Keyword(kw @ (Kw::If | Kw::With)) = peek.kind {
                    return Ok(Item::Else(Some(kw)));
                }
                self.expect(Kind::RightDelim, "else")?;
                Ok(Item::Else(None))
            }
            Kind::Keyword(Kw::End) => {
                self.expect(Kind::RightDelim, "end")?;
                Ok(Item::End)
            }
            Kind::Keyword(Kw::If) => Ok(Item::Node(Node::If(self.control("if")?))),
            Kind::Keyword(Kw::With) => Ok(Item::Node(Node::With(self.control("with")?))),
            Kind::Keyword(Kw::Range) => Ok(Item::Node(Node::Range(self.control("range")?))),
            Kind::Keyword(kw @ (Kw::Break | Kw::Continue)) => {
                let name = if kw == Kw::Break { "{{break}}" } else { "{{continue}}" };
                let next = self.next_non_space();
                if next.kind != Kind::RightDelim {
                    return self.unexpected(&next, name);
                }
                if self.range_depth == 0 {
                    return self.errorf(format!("{name} outside {{{{range}}}}"));
                }
                Ok(Item::Node(if kw == Kw::Break { Node::Break } else { Node::Continue }))
            }
            _ => {
                self.backup();
                // Variables declared here stay in scope until the enclosing end.
                Ok(Item::Node(Node::Action(self.pipeline("command", Kind::RightDelim)?)))
            }
        }
    }

    /// `if`, `with` and `range`: pipeline, list, optional else list.
    /// `{{else if}}` / `{{else with}}` nest a new control in the else list
    /// that shares the outer `{{end}}`.
    fn control(&mut self, context: &str) -> PResult<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if is_range {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Item::Else(Some(Kw::If)) if context == "if" => {
                self.next_non_space();
                Some(vec![Node::If(self.control("if")?)])
            }
            Item::Else(Some(Kw::With)) if context == "with" => {
                self.next_non_space();
                Some(vec![Node::With(self.control("with")?)])
            }
            Item::Else(_) => {
                let (list, next) = self.item_list()?;
                if !matches!(next, Item::End) {
                    return self.errorf("expected end; found {{else}}");
                }
                Some(list)
            }
            _ => None,
        };
        self.vars.truncate(mark);
        Ok(Branch { pos: pipe.pos, pipe, list, else_list })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe { pos: start.pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        let outer_vars = self.vars.len();
        // Declarations: `$x :=`, `$x =`, and for range `$i, $v :=`.
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let save = self.i;
            self.next();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Declare | Kind::Assign => {
                    self.next();
                    pipe.is_assign = next.kind == Kind::Assign;
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => return self.errorf("range can only initialize variables"),
                        }
                    }
                    return self.errorf(format!("too many declarations in {context}"));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        if pipe.is_assign {
            // Assignment needs an existing variable; Go finds out only when
            // executing, we can tell now.
            if let Some(v) = pipe.decl.iter().find(|v| !self.vars[..outer_vars].contains(v)) {
                return self.errorf(format!("undefined variable {}", go_quote(v)));
            }
        }
        loop {
            let t = self.next_non_space();
            match t.kind {
                k if k == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConst
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Keyword(Kw::Nil)
                | Kind::RawStr
                | Kind::Str
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                ArgKind::Bool(_) | ArgKind::Dot | ArgKind::Nil | ArgKind::Number(..) | ArgKind::Str(..)
            ) {
                return self.errorf(format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        Ok(())
    }

    /// Space-separated operands up to `|` (consumed) or a closing token.
    fn command(&mut self) -> PResult<Command> {
        self.peek_non_space();
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::Error => return self.errorf(t.val),
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.errorf(format!("unexpected {t} in operand")),
            }
            break;
        }
        if args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(Command { args })
    }

    /// A term followed by any number of `.Field` accesses.
    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_string());
        }
        let pos = node.pos;
        let kind = match node.kind {
            ArgKind::Field(mut ids) => {
                ids.extend(fields);
                ArgKind::Field(ids)
            }
            ArgKind::Variable(mut ids) => {
                ids.extend(fields);
                ArgKind::Variable(ids)
            }
            ArgKind::Bool(_) | ArgKind::Str(..) | ArgKind::Number(..) | ArgKind::Nil | ArgKind::Dot => {
                return self.errorf(format!("unexpected . after term {}", go_quote(&node.to_string())));
            }
            _ => return Ok(Some(Arg { pos: chain_pos, kind: ArgKind::Chain(Box::new(node), fields) })),
        };
        Ok(Some(Arg { pos, kind }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let kind = match t.kind {
            Kind::Error => return self.errorf(t.val),
            Kind::Identifier => {
                if !funcs::exists(&t.val) {
                    return self.errorf(format!("function {} not defined", go_quote(&t.val)));
                }
                ArgKind::Ident(t.val)
            }
            Kind::Dot => ArgKind::Dot,
            Kind::Keyword(Kw::Nil) => ArgKind::Nil,
            Kind::Variable => {
                if !self.vars.contains(&t.val) {
                    return self.errorf(format!("undefined variable {}", go_quote(&t.val)));
                }
                ArgKind::Variable(vec![t.val])
            }
            Kind::Field => ArgKind::Field(vec![t.val[1..].to_string()]),
            Kind::Bool => ArgKind::Bool(t.val == "true"),
            Kind::Number => match parse_number(&t.val) {
                Some(v) => ArgKind::Number(t.val, v),
                None => return self.errorf(format!("illegal number syntax: {}", go_quote(&t.val))),
            },
            Kind::CharConst => match unquote_char(&t.val) {
                Some(c) => ArgKind::Number(t.val, Value::from(c as u32)),
                None => return self.errorf(format!("malformed character constant: {}", t.val)),
            },
            Kind::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                return Ok(Some(Arg { pos: pipe.pos, kind: ArgKind::Pipe(Box::new(pipe)) }));
            }
            Kind::Str | Kind::RawStr => match unquote(&t.val) {
                Some(s) => ArgKind::Str(t.val, s),
                None => return self.errorf("invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: t.pos, kind }))
    }
}

/// Go's integer/float literal rules: `0x`, `0o`, `0b`, a leading `0` for
/// octal, `_` separators; anything with `.` or an exponent is a float.
fn parse_number(text: &str) -> Option<Value> {
    if text.ends_with('i') {
        return None;
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first()? {
        b'-' => (true, &clean[1..]),
        b'+' => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let radix = |digits: &str, radix: u32| u64::from_str_radix(digits, radix).ok();
    let int = if let Some(d) = lower.strip_prefix("0x") {
        Some(radix(d, 16)?)
    } else if let Some(d) = lower.strip_prefix("0o") {
        Some(radix(d, 8)?)
    } else if let Some(d) = lower.strip_prefix("0b") {
        Some(radix(d, 2)?)
    } else if body.contains(['.', 'e', 'E']) {
        None
    } else if body.len() > 1 && body.starts_with('0') {
        Some(radix(&body[1..], 8)?)
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        // Too big for an integer: Go falls back to a float constant.
        body.parse::<u64>().ok()
    } else {
        return None;
    };
    if let Some(n) = int {
        return Some(if neg {
            if n <= i64::MAX as u64 + 1 {
                Value::from((n as i128).wrapping_neg() as i64)
            } else {
                return None;
            }
        } else {
            Value::from(n)
        });
    }
    if !body.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    let f = if neg { -f } else { f };
    Number::from_f64(f).map(Value::Number)
}

/// One escape sequence after a backslash. Returns the bytes it stands for.
fn unescape(it: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char, out: &mut Vec<u8>) -> Option<()> {
    let c = it.next()?;
    let simple = match c {
        'a' => Some(7u8),
        'b' => Some(8),
        'f' => Some(12),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(11),
        '\\' => Some(b'\\'),
        c if c == quote => Some(c as u8),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(());
    }
    let mut hex = |n: usize| -> Option<u32> {
        let s: String = (0..n).map(|_| it.next()).collect::<Option<_>>()?;
        u32::from_str_radix(&s, 16).ok()
    };
    match c {
        'x' => out.push(hex(2)? as u8),
        'u' | 'U' => {
            let r = char::from_u32(hex(if c == 'u' { 4 } else { 8 })?)?;
            let mut buf = [0; 4];
            out.extend_from_slice(r.encode_utf8(&mut buf).as_bytes());
        }
        '0'..='7' => {
            let mut v = c.to_digit(8)?;
            for _ in 0..2 {
                v = v * 8 + it.next()?.to_digit(8)?;
            }
            out.push(u8::try_from(v).ok()?);
        }
        _ => return None,
    }
    Some(())
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` literals.
pub(crate) fn unquote(lit: &str) -> Option<String> {
    if let Some(raw) = lit.strip_prefix('`') {
        // Go drops carriage returns from raw strings.
        return Some(raw.strip_suffix('`')?.replace('\r', ""));
    }
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => unescape(&mut it, '"', &mut out)?,
            '"' | '\n' => return None,
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A character constant such as `'a'` or `'\n'`.
fn unquote_char(lit: &str) -> Option<char> {
    let body = lit.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut it = body.chars().peekable();
    let c = match it.next()? {
        '\\' => {
            let mut out = Vec::new();
            let is_wide = matches!(it.peek(), Some('u' | 'U'));
            unescape(&mut it, '\'', &mut out)?;
            if is_wide { std::str::from_utf8(&out).ok()?.chars().next()? } else { char::from(out[0]) }
        }
        '\'' => return None,
        c => c,
    };
    if it.next().is_some() {
        return None;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42"), Some(Value::from(42u64)));
        assert_eq!(parse_number("-7"), Some(Value::from(-7i64)));
        assert_eq!(parse_number("0x1F"), Some(Value::from(31u64)));
        assert_eq!(parse_number("017"), Some(Value::from(15u64)));
        assert_eq!(parse_number("1_000"), Some(Value::from(1000u64)));
        assert_eq!(parse_number("1.5"), Some(Value::from(1.5)));
        assert_eq!(parse_number("1e3"), Some(Value::from(1000.0)));
        assert_eq!(parse_number("-"), None);
        assert_eq!(parse_number("09"), None);
    }

    #[test]
    fn strings() {
        assert_eq!(unquote(r#""a\tb\"c\x41\u00e9""#).as_deref(), Some("a\tb\"cAé"));
        assert_eq!(unquote("`a\\t`").as_deref(), Some("a\\t"));
        assert_eq!(unquote(r#""\q""#), None);
        assert_eq!(unquote_char("'a'"), Some('a'));
        assert_eq!(unquote_char(r"'\n'"), Some('\n'));
        assert_eq!(unquote_char(r"'\''"), Some('\''));
        assert_eq!(unquote_char("'ab'"), None);
    }
}
