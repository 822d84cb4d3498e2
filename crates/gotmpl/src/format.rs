//! docker/cli's `--format` conventions for list commands.
//!
//! `table` selects the command's default columns, `table TEMPLATE` custom
//! columns with a header, `json` one JSON object per line, and anything
//! else is a raw template printed once per row. Before parsing, the format
//! loses surrounding spaces and the two-character sequences `\t` and `\n`
//! become a tab and a newline, so `--format '{{.ID}}\t{{.Names}}'` works
//! from a shell. Only `table` output goes through the [`TabWriter`]; a raw
//! template's tabs are printed as they are.

use serde_json::Value;

use crate::{Error, TabWriter, Template};

/// A parsed `--format` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `table` (`None`: the command's default columns) or `table TEMPLATE`.
    Table(Option<String>),
    /// `json`: each row as a JSON object on its own line.
    Json,
    /// Any other template, rendered once per row.
    Raw(String),
}

/// Classifies a `--format` value the way docker/cli does: anything that
/// starts with `table` is a table (the rest being its template), exactly
/// `json` is JSON, everything else a raw template. An empty or blank
/// format means the default table; docker/cli commands fall back to it
/// (after their config-file default, which is the caller's business).
pub fn parse_format(s: &str) -> Format {
    if s.trim().is_empty() {
        return Format::Table(None);
    }
    if let Some(rest) = s.strip_prefix("table") {
        let rest = rest.trim_matches(' ');
        return Format::Table((!rest.is_empty()).then(|| rest.to_string()));
    }
    if s == "json" {
        return Format::Json;
    }
    Format::Raw(s.to_string())
}

/// docker/cli's pre-parse clean-up: trim spaces, expand `\t` and `\n`.
pub fn expand_escapes(s: &str) -> String {
    let s = s.trim_matches(' ');
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.as_bytes().first() {
            Some(b't') => out.push('\t'),
            Some(b'n') => out.push('\n'),
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    out.push_str(rest);
    out
}

/// Renders `rows` as a list command would print them.
///
/// `default_table` is the command's default columns template, used for
/// `Format::Table(None)`; a leading `table` in it is ignored. `headers`
/// maps field names to column titles (e.g. `{"ID": "IMAGE ID"}`); for a
/// table the template is first run against it to make the header line
/// (see [`Template::render_header`]), even when there are no rows. Every
/// row is followed by a newline; table output is aligned by a
/// [`TabWriter::docker`].
pub fn render_rows(
    format: &Format,
    default_table: &str,
    headers: &Value,
    rows: &[Value],
) -> Result<String, Error> {
    let (src, table) = match format {
        Format::Table(None) => (default_table.strip_prefix("table").unwrap_or(default_table), true),
        Format::Table(Some(t)) => (t.as_str(), true),
        Format::Json => ("{{json .}}", false),
        Format::Raw(t) => (t.as_str(), false),
    };
    let tmpl = Template::parse(&expand_escapes(src))?;
    let mut body = String::new();
    for row in rows {
        body.push_str(&tmpl.render(row)?);
        body.push('\n');
    }
    if !table {
        return Ok(body);
    }
    let mut tw = TabWriter::docker();
    tw.write_str(&tmpl.render_header(headers));
    tw.write_str("\n");
    tw.write_str(&body);
    Ok(tw.finish())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn classify() {
        assert_eq!(parse_format("table"), Format::Table(None));
        assert_eq!(parse_format(""), Format::Table(None));
        assert_eq!(
            parse_format("table {{.ID}}\\t{{.Image}}"),
            Format::Table(Some("{{.ID}}\\t{{.Image}}".into()))
        );
        assert_eq!(parse_format("json"), Format::Json);
        assert_eq!(parse_format("{{json .}}"), Format::Raw("{{json .}}".into()));
        assert_eq!(parse_format("{{.ID}}"), Format::Raw("{{.ID}}".into()));
    }

    #[test]
    fn escapes() {
        assert_eq!(expand_escapes("  {{.A}}\\t{{.B}}\\n "), "{{.A}}\t{{.B}}\n");
        assert_eq!(expand_escapes("a\\\\tb\\x"), "a\\\tb\\x");
    }

    #[test]
    fn table_and_raw() {
        let headers = json!({"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG"});
        let rows = [
            json!({"ID": "0123456789ab", "Repository": "alpine", "Tag": "3.20"}),
            json!({"ID": "ba9876543210", "Repository": "docker.io/library/busybox", "Tag": "latest"}),
        ];
        let default = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}";
        let got = render_rows(&parse_format("table"), default, &headers, &rows).unwrap();
        assert_eq!(
            got,
            "REPOSITORY                  TAG       IMAGE ID\n\
             alpine                      3.20      0123456789ab\n\
             docker.io/library/busybox   latest    ba9876543210\n"
        );
        let got = render_rows(&parse_format("table {{.ID}}"), default, &headers, &[]).unwrap();
        assert_eq!(got, "IMAGE ID\n");
        let got =
            render_rows(&parse_format("{{.Repository}}:{{.Tag}}\\t."), default, &headers, &rows).unwrap();
        assert_eq!(got, "alpine:3.20\t.\ndocker.io/library/busybox:latest\t.\n");
        let got = render_rows(&Format::Json, default, &headers, &rows[..1]).unwrap();
        assert_eq!(got, "{\"ID\":\"0123456789ab\",\"Repository\":\"alpine\",\"Tag\":\"3.20\"}\n");
    }

    #[test]
    fn header_keeps_titles() {
        let headers = json!({"Names": "NAMES", "Labels": "LABELS"});
        let rows = [json!({"Names": ["a", "b"], "Labels": {"k": "v"}})];
        let f = parse_format("table {{join .Names \",\"}}\\t{{lower .Labels.k}}|{{json .Names}}");
        let got = render_rows(&f, "", &headers, &rows).unwrap();
        // The header row: `lower` of a missing key fails; docker keeps the
        // partial header and carries on.
        assert_eq!(got, "NAMES     \na,b       v|[\"a\",\"b\"]\n");
    }

    #[test]
    fn errors_propagate() {
        let e = render_rows(&parse_format("{{.ID"), "", &json!({}), &[json!({})]).unwrap_err();
        assert_eq!(e.to_string(), "template: :1: unclosed action");
        let e = render_rows(&parse_format("{{.ID.X}}"), "", &json!({}), &[json!({"ID": "x"})]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: :1:2: executing \"\" at <.ID.X>: can't evaluate field X in type string"
        );
    }
}
