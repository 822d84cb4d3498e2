//! Sizes and durations written the way Docker writes them (Go's
//! `docker/go-units`), shared by the daemon's progress lines and the CLI.

/// Decimal size with `precision` significant digits, like Go's
/// `units.HumanSizeWithPrecision` (`%.*g`): `7.8MB`, `8.09MB`, `98.3kB`.
pub fn human_size(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", significant(v, precision), UNITS[i])
}

/// Binary size (`KiB`, `MiB` …) with three significant digits, like `units.BytesSize`.
pub fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", significant(v, 3), UNITS[i])
}

/// `%.{p}g` for 0 ≤ v < 1000 (the only range the size functions produce).
fn significant(v: f64, p: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let int_digits = if v < 1.0 { 1 } else { v.log10().floor() as usize + 1 };
    let decimals = p.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// How long ago, in words, like Go's `units.HumanDuration`: `3 years`, `About a minute`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_docker() {
        assert_eq!(human_size(7797821, 4), "7.798MB");
        assert_eq!(human_size(7797821, 3), "7.8MB");
        assert_eq!(human_size(8089600, 4), "8.09MB");
        assert_eq!(human_size(98304, 4), "98.3kB");
        assert_eq!(human_size(1081344, 4), "1.081MB");
        assert_eq!(human_size(15595626, 3), "15.6MB");
        assert_eq!(human_size(0, 3), "0B");
        assert_eq!(human_size(64, 3), "64B");
        assert_eq!(bytes_size(1536), "1.5KiB");
    }

    #[test]
    fn durations_match_docker() {
        assert_eq!(human_duration(6), "6 seconds");
        assert_eq!(human_duration(36), "36 seconds");
        assert_eq!(human_duration(70), "About a minute");
        assert_eq!(human_duration(3 * 365 * 86400 + 100), "3 years");
        assert_eq!(human_duration(0), "Less than a second");
    }
}
