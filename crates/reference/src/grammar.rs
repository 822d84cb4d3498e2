//! Recognisers for the reference grammar of `distribution/reference`.
//!
//! Distribution expresses the grammar as regular expressions. It is small and
//! unambiguous enough to recognise by hand, which keeps this crate pure and
//! free of a regex dependency. The productions (ASCII only):
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [ domain "/" ] remote-name
//! domain           := host [ ":" port ]
//! host             := domain-name | "[" [0-9A-Fa-f:]+ "]"
//! domain-name      := domain-component ( "." domain-component )*
//! domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
//! port             := [0-9]+
//! remote-name      := path-component ( "/" path-component )*
//! path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator        := "." | "_" | "__" | "-"+
//! tag              := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest           := algorithm ":" [0-9A-Fa-f]{32,}
//! algorithm        := alg-comp ( [-_+.] alg-comp )*
//! alg-comp         := [A-Za-z] [A-Za-z0-9]*
//! identifier       := [a-f0-9]{64}
//! ```
//!
//! Why splitting by hand matches the regex's leftmost-first captures: no part
//! but the digest follows `@`, so the first `@` starts it. A tag holds neither
//! `/` nor `:`, and a `:` inside a name always belongs to a domain, which is
//! followed by a `/`; so a `:` after the last `/` must start the tag. The
//! domain holds no `/` and the regex prefers taking it, so it is everything
//! before the first `/` whenever both halves are valid.

/// The pieces of a string that matched `reference`, before any validation of
/// the digest's algorithm or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// Empty when the name has no domain part.
    pub domain: &'a str,
    pub path: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `s` per the `reference` production, or `None` if it does not match.
pub(crate) fn match_reference(s: &str) -> Option<Parts<'_>> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            if !is_reference_digest(digest) {
                return None;
            }
            (rest, Some(digest))
        }
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if rest.rfind('/').is_none_or(|slash| colon > slash) => {
            let tag = &rest[colon + 1..];
            if !is_tag(tag) {
                return None;
            }
            (&rest[..colon], Some(tag))
        }
        _ => (rest, None),
    };
    let (domain, path) = match_name(name)?;
    Some(Parts { domain, path, tag, digest })
}

/// Splits a bare name (no tag or digest) into domain and remote name.
pub(crate) fn match_name(name: &str) -> Option<(&str, &str)> {
    match name.split_once('/') {
        Some((first, rest)) if is_domain(first) && is_remote_name(rest) => Some((first, rest)),
        _ => is_remote_name(name).then_some(("", name)),
    }
}

/// `domain`: a host name, IPv4 address or bracketed IPv6 address, with an
/// optional numeric port. Uppercase is allowed here (unlike in paths).
pub(crate) fn is_domain(s: &str) -> bool {
    let (host_ok, port) = if let Some(inner) = s.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return false;
        };
        let addr = &inner[..close];
        let ok = !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        let after = &inner[close + 1..];
        if after.is_empty() {
            (ok, None)
        } else {
            match after.strip_prefix(':') {
                Some(port) => (ok, Some(port)),
                None => return false,
            }
        }
    } else {
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        (host.split('.').all(is_domain_component), port)
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        }
        _ => false,
    }
}

/// `remote-name`: one or more `/`-separated path components.
pub(crate) fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `path-component`: lowercase alphanumeric runs joined by `.`, `_`, `__`
/// or any number of `-`.
fn is_path_component(c: &str) -> bool {
    let is_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    let mut i = 0;
    loop {
        // An alphanumeric run, at least one long.
        let start = i;
        while i < b.len() && is_alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // One separator, which must be followed by another run.
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `tag`: a word character then up to 127 word characters, dots or dashes.
pub(crate) fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    match b.split_first() {
        Some((&first, rest)) => {
            b.len() <= 128 && word(first) && rest.iter().all(|&x| word(x) || x == b'.' || x == b'-')
        }
        None => false,
    }
}

/// The digest production as the reference grammar has it: looser than
/// go-digest (any algorithm name, either hex case, 32 or more digits).
fn is_reference_digest(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|comp| {
        let b = comp.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphabetic) && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `identifier`: exactly 64 lowercase hex digits (a bare image ID).
pub(crate) fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
