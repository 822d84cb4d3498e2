//! Tokeniser for template source.
//!
//! Follows Go's lexer closely because its quirks are visible to users:
//! spaces are tokens (they separate arguments, so `.A.B` differs from
//! `.A .B`), `{{- ` and ` -}}` trim the neighbouring text, comments must
//! hug the delimiters, and an identifier must be followed by a terminator
//! character. The whole input is tokenised up front; a lexical error ends
//! the stream with an [`Kind::Error`] token, which the parser reports when
//! it reaches it, so errors come out in source order as in Go.

use std::fmt;

use crate::value::go_quote;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Pipe,
    LeftParen,
    RightParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// Any other printable ASCII character inside an action, e.g. `,`.
    Char,
    /// `.Name` (value keeps the dot).
    Field,
    /// `$` or `$name`.
    Variable,
    Identifier,
    Bool,
    Number,
    CharConst,
    Str,
    RawStr,
    Dot,
    Keyword(Kw),
    Eof,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Kw {
    fn from_word(w: &str) -> Option<Kw> {
        Some(match w {
            "block" => Kw::Block,
            "break" => Kw::Break,
            "continue" => Kw::Continue,
            "define" => Kw::Define,
            "else" => Kw::Else,
            "end" => Kw::End,
            "if" => Kw::If,
            "nil" => Kw::Nil,
            "range" => Kw::Range,
            "template" => Kw::Template,
            "with" => Kw::With,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte offset of the token in the source.
    pub pos: usize,
    /// 1-based line where the token starts.
    pub line: usize,
    /// Source text (trimmed text for [`Kind::Text`], message for errors).
    pub val: String,
}

/// Mirrors Go's `item.String`, used in "unexpected X in Y" messages.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            Kind::Keyword(_) | Kind::Dot => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", go_quote(&head))
            }
            _ => f.write_str(&go_quote(&self.val)),
        }
    }
}

/// Space as Go's lexer sees it; newlines are allowed inside actions.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// `U+0029 ')'`, Go's `%#U`.
pub(crate) fn fmt_rune(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

/// Tokenises `src` completely. The last token is `Eof` or `Error`.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut l = Lexer { src, pos: 0, toks: Vec::new(), line_at: 0, line: 1, paren: 0 };
    l.run();
    l.toks
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    toks: Vec<Token>,
    /// Cache for line computation: `line` is the line number at `line_at`.
    line_at: usize,
    line: usize,
    paren: i32,
}

/// Raised inside the lexer; turned into an `Error` token.
struct LexError {
    pos: usize,
    msg: String,
}

type LResult<T> = Result<T, LexError>;

impl<'s> Lexer<'s> {
    fn line_of(&mut self, pos: usize) -> usize {
        if pos < self.line_at {
            self.line_at = 0;
            self.line = 1;
        }
        self.line += self.src[self.line_at..pos].matches('\n').count();
        self.line_at = pos;
        self.line
    }

    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        let line = self.line_of(start);
        self.toks.push(Token { kind, pos: start, line, val: self.src[start..end].to_string() });
    }

    fn peek_char(&self, at: usize) -> Option<char> {
        self.src[at..].chars().next()
    }

    fn run(&mut self) {
        let mut trim_leading = false;
        loop {
            if trim_leading {
                let rest = &self.src[self.pos..];
                self.pos += rest.len() - rest.trim_start_matches(is_space).len();
            }
            let start = self.pos;
            let Some(off) = self.src[start..].find("{{") else {
                if start < self.src.len() {
                    self.emit(Kind::Text, start, self.src.len());
                }
                let end = self.src.len();
                self.emit(Kind::Eof, end, end);
                return;
            };
            let delim = start + off;
            let after = &self.src[delim + 2..];
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            let mut text_end = delim;
            if trim_left {
                text_end = start + self.src[start..delim].trim_end_matches(is_space).len();
            }
            if text_end > start {
                self.emit(Kind::Text, start, text_end);
            }
            let inner = delim + 2 + if trim_left { 2 } else { 0 };
            let res = if self.src[inner..].starts_with("/*") {
                self.comment(delim, inner)
            } else {
                self.emit(Kind::LeftDelim, delim, delim + 2);
                self.pos = inner;
                self.paren = 0;
                self.action()
            };
            match res {
                Ok(trim) => trim_leading = trim,
                Err(e) => {
                    let line = self.line_of(e.pos);
                    self.toks.push(Token { kind: Kind::Error, pos: e.pos, line, val: e.msg });
                    return;
                }
            }
        }
    }

    /// Is there a right delimiter at `at`, and does it carry a trim marker?
    fn at_right_delim(&self, at: usize) -> (bool, bool) {
        let s = &self.src[at..];
        if s.starts_with("}}") {
            return (true, false);
        }
        let mut it = s.chars();
        if it.next().is_some_and(is_space) && it.as_str().starts_with("-}}") {
            return (true, true);
        }
        (false, false)
    }

    fn comment(&mut self, delim: usize, inner: usize) -> LResult<bool> {
        let body = inner + 2;
        let Some(end) = self.src[body..].find("*/") else {
            return Err(LexError { pos: delim, msg: "unclosed comment".into() });
        };
        let after = body + end + 2;
        let (is_delim, trim) = self.at_right_delim(after);
        if !is_delim {
            return Err(LexError { pos: delim, msg: "comment ends before closing delimiter".into() });
        }
        let marker = if trim { self.peek_char(after).map_or(0, char::len_utf8) + 1 } else { 0 };
        self.pos = after + marker + 2;
        Ok(trim)
    }

    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> LResult<T> {
        Err(LexError { pos, msg: msg.into() })
    }

    /// Lexes the inside of one action; returns whether the closing
    /// delimiter asked for the following text to be left-trimmed.
    fn action(&mut self) -> LResult<bool> {
        loop {
            let (is_delim, trim) = self.at_right_delim(self.pos);
            if is_delim {
                if self.paren != 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                let d = if trim {
                    self.pos + self.peek_char(self.pos).map_or(0, char::len_utf8) + 1
                } else {
                    self.pos
                };
                self.emit(Kind::RightDelim, d, d + 2);
                self.pos = d + 2;
                return Ok(trim);
            }
            let start = self.pos;
            let Some(c) = self.peek_char(start) else {
                return self.err(start, "unclosed action");
            };
            self.pos += c.len_utf8();
            match c {
                c if is_space(c) => self.space(start),
                ':' => {
                    if self.peek_char(self.pos) != Some('=') {
                        return self.err(start, "expected :=");
                    }
                    self.pos += 1;
                    self.emit(Kind::Declare, start, self.pos);
                }
                '=' => self.emit(Kind::Assign, start, self.pos),
                '|' => self.emit(Kind::Pipe, start, self.pos),
                '"' => self.quoted(start, '"', Kind::Str, "unterminated quoted string")?,
                '\'' => self.quoted(start, '\'', Kind::CharConst, "unterminated character constant")?,
                '`' => match self.src[self.pos..].find('`') {
                    Some(i) => {
                        self.pos += i + 1;
                        self.emit(Kind::RawStr, start, self.pos);
                    }
                    None => return self.err(start, "unterminated raw quoted string"),
                },
                '$' => self.field_or_var(start, Kind::Variable)?,
                '.' if !self.peek_char(self.pos).is_some_and(|d| d.is_ascii_digit()) => {
                    self.field_or_var(start, Kind::Field)?
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos = start;
                    self.number(start)?;
                }
                c if is_alnum(c) => {
                    self.scan_alnum();
                    self.check_terminator()?;
                    let word = &self.src[start..self.pos];
                    let kind = match Kw::from_word(word) {
                        Some(kw) => Kind::Keyword(kw),
                        None if word == "true" || word == "false" => Kind::Bool,
                        None => Kind::Identifier,
                    };
                    self.emit(kind, start, self.pos);
                }
                '(' => {
                    self.emit(Kind::LeftParen, start, self.pos);
                    self.paren += 1;
                }
                ')' => {
                    self.emit(Kind::RightParen, start, self.pos);
                    self.paren -= 1;
                    if self.paren < 0 {
                        return self.err(start, format!("unexpected right paren {}", fmt_rune(c)));
                    }
                }
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char, start, self.pos),
                c => return self.err(start, format!("unrecognized character in action: {}", fmt_rune(c))),
            }
        }
    }

    /// A run of spaces. The space before a ` -}}` belongs to the delimiter.
    fn space(&mut self, start: usize) {
        while let Some(c) = self.peek_char(self.pos).filter(|&c| is_space(c)) {
            self.pos += c.len_utf8();
        }
        let last = self.src[start..self.pos].chars().next_back().map_or(1, char::len_utf8);
        if self.src[self.pos..].starts_with("-}}") {
            self.pos -= last;
            if self.pos == start {
                return;
            }
        }
        self.emit(Kind::Space, start, self.pos);
    }

    fn quoted(&mut self, start: usize, close: char, kind: Kind, msg: &str) -> LResult<()> {
        loop {
            let Some(c) = self.peek_char(self.pos) else { return self.err(start, msg) };
            self.pos += c.len_utf8();
            match c {
                '\\' => match self.peek_char(self.pos) {
                    Some(n) if n != '\n' => self.pos += n.len_utf8(),
                    _ => return self.err(start, msg),
                },
                '\n' => return self.err(start, msg),
                c if c == close => break,
                _ => {}
            }
        }
        self.emit(kind, start, self.pos);
        Ok(())
    }

    fn scan_alnum(&mut self) {
        while let Some(c) = self.peek_char(self.pos).filter(|&c| is_alnum(c)) {
            self.pos += c.len_utf8();
        }
    }

    /// Go requires an identifier to end at a space, `.`, `,`, `|`, `:`,
    /// a paren or the right delimiter; so `$x+1` is an error, not arithmetic.
    fn at_terminator(&self) -> bool {
        match self.peek_char(self.pos) {
            None => true,
            Some(c) => is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '}'),
        }
    }

    fn check_terminator(&self) -> LResult<()> {
        if self.at_terminator() {
            return Ok(());
        }
        let c = self.peek_char(self.pos).unwrap_or(' ');
        self.err(self.pos, format!("bad character {}", fmt_rune(c)))
    }

    /// `.` / `.Field` / `$` / `$var`; the sigil has been consumed.
    fn field_or_var(&mut self, start: usize, kind: Kind) -> LResult<()> {
        if self.at_terminator() {
            let kind = if kind == Kind::Field { Kind::Dot } else { kind };
            self.emit(kind, start, self.pos);
            return Ok(());
        }
        self.scan_alnum();
        self.check_terminator()?;
        self.emit(kind, start, self.pos);
        Ok(())
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek_char(self.pos) {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Accepts Go's number syntax loosely; the parser validates the value.
    fn number(&mut self, start: usize) -> LResult<()> {
        self.accept("+-");
        let mut digits = "0123456789_";
        let mut decimal = true;
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
                decimal = false;
            } else if self.accept("oO") {
                digits = "01234567_";
                decimal = false;
            } else if self.accept("bB") {
                digits = "01_";
                decimal = false;
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if decimal && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(c) = self.peek_char(self.pos).filter(|&c| is_alnum(c)) {
            self.pos += c.len_utf8();
            return self.err(start, format!("bad number syntax: {}", go_quote(&self.src[start..self.pos])));
        }
        if matches!(self.peek_char(self.pos), Some('+' | '-')) {
            // Go lexes `1+2i` as a complex constant; berth has no use for them.
            self.pos += 1;
            self.accept_run("0123456789_.eEi");
            let text = &self.src[start..self.pos];
            let msg = if text.ends_with('i') {
                format!("complex constants are not supported: {}", go_quote(text))
            } else {
                format!("bad number syntax: {}", go_quote(text))
            };
            return self.err(start, msg);
        }
        self.emit(Kind::Number, start, self.pos);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.val)).collect()
    }

    #[test]
    fn splits_text_and_actions() {
        let k = kinds("a {{.X.Y | printf \"%s\" $v}} b");
        let expect = [
            (Kind::Text, "a "),
            (Kind::LeftDelim, "{{"),
            (Kind::Field, ".X"),
            (Kind::Field, ".Y"),
            (Kind::Space, " "),
            (Kind::Pipe, "|"),
            (Kind::Space, " "),
            (Kind::Identifier, "printf"),
            (Kind::Space, " "),
            (Kind::Str, "\"%s\""),
            (Kind::Space, " "),
            (Kind::Variable, "$v"),
            (Kind::RightDelim, "}}"),
            (Kind::Text, " b"),
            (Kind::Eof, ""),
        ];
        let expect: Vec<_> = expect.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(k, expect);
    }

    #[test]
    fn trim_markers_and_comments() {
        let k = kinds("a  {{- 3 -}}  b{{/* c */}}d{{- /* e */ -}}  f");
        let texts: Vec<_> = k.iter().filter(|(k, _)| *k == Kind::Text).map(|(_, v)| v.as_str()).collect();
        assert_eq!(texts, ["a", "b", "d", "f"]);
        assert!(k.contains(&(Kind::Number, "3".into())));
        // "-3" without a space after the dash is a number, not a trim marker.
        assert!(kinds("{{-3}}").contains(&(Kind::Number, "-3".into())));
    }

    #[test]
    fn errors() {
        let last = |s: &str| lex(s).pop().unwrap();
        assert_eq!(last("{{.X").val, "unclosed action");
        assert_eq!(last("{{\"abc}}").val, "unterminated quoted string");
        assert_eq!(last("{{/* x }}").val, "unclosed comment");
        assert_eq!(last("{{/* x */ }}").val, "comment ends before closing delimiter");
        assert_eq!(last("{{$x+1}}").val, "bad character U+002B '+'");
        assert_eq!(last("{{(1}}").val, "unclosed left paren");
    }
}
