//! Printing: `--format` templates and Docker's tables through the shared
//! template engine, JSON the way `docker inspect` indents it, and times.

use serde_json::Value;

use super::Failure;

/// Prints rows through `--format` (or the default table), as docker/cli's formatter.
pub fn print_rows(
    format: Option<&str>,
    default_table: &str,
    headers: &Value,
    rows: &[Value],
) -> Result<(), Failure> {
    let fmt = gotmpl::parse_format(format.unwrap_or(default_table));
    let text = gotmpl::render_rows(&fmt, default_table, headers, rows)
        .map_err(|e| Failure { message: format!("template parsing error: {e}"), code: 64 })?;
    print!("{text}");
    Ok(())
}

/// Renders one value through a template (`inspect -f`, `version -f`).
pub fn render(template: &str, v: &Value) -> Result<String, Failure> {
    let fmt = gotmpl::parse_format(template);
    let t = match fmt {
        gotmpl::Format::Json => return Ok(serde_json::to_string(v).expect("json")),
        gotmpl::Format::Raw(t) | gotmpl::Format::Table(Some(t)) => t,
        gotmpl::Format::Table(None) => String::new(),
    };
    let t = gotmpl::Template::parse(&t)
        .map_err(|e| Failure { message: format!("template parsing error: {e}"), code: 64 })?;
    t.render(v).map_err(|e| Failure { message: format!("template: {e}"), code: 1 })
}

/// JSON indented with four spaces, as `docker inspect` prints it.
pub fn indented(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("json");
    String::from_utf8(out).expect("utf-8")
}

/// Seconds since `unix`, in Docker's words: `3 years ago`.
pub fn since(unix: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!("{} ago", api::units::human_duration(now - unix))
}

/// Go's `time.Time.String()` in UTC: `2023-11-14 22:13:20 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC"))
        .expect("format")
}

/// RFC 3339 with seconds, as Docker prints times when not humanised.
pub fn rfc3339(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).expect("format")
}

/// The short form of an image ID: 12 hex digits.
pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).chars().take(12).collect()
}
