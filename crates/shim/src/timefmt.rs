//! RFC 3339 timestamps in UTC, written by hand: the shim needs exactly two
//! layouts and a date crate would cost more memory than these few lines.

use std::time::{SystemTime, UNIX_EPOCH};

/// How the fractional seconds are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// Always nine digits (`.161905040Z`): sortable, used in `exit.json`.
    Fixed,
    /// Go's `time.RFC3339Nano`: trailing zeros dropped, no dot when the
    /// nanoseconds are zero (`.16190504Z`). This is what Docker's json-file
    /// driver writes in the `time` field.
    GoNano,
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
pub fn rfc3339(t: SystemTime, fraction: Fraction) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        // Before 1970: not a time the shim ever writes; clamp.
        Err(_) => (0, 0),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    match fraction {
        Fraction::Fixed => out.push_str(&format!(".{nanos:09}")),
        Fraction::GoNano => {
            if nanos != 0 {
                let digits = format!("{nanos:09}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
        }
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn fixed_and_go_layouts() {
        // 2026-11-24T04:40:59Z
        let t = at(1_795_495_259, 161_905_040);
        assert_eq!(rfc3339(t, Fraction::Fixed), "2026-11-24T04:40:59.161905040Z");
        assert_eq!(rfc3339(t, Fraction::GoNano), "2026-11-24T04:40:59.16190504Z");
        assert_eq!(rfc3339(at(0, 0), Fraction::GoNano), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(0, 0), Fraction::Fixed), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(at(0, 1), Fraction::GoNano), "1970-01-01T00:00:00.000000001Z");
    }

    #[test]
    fn calendar_edges() {
        // 2000-02-29 (leap day of a century leap year), 2100-03-01.
        assert_eq!(rfc3339(at(951_782_400, 0), Fraction::GoNano), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(4_107_542_400, 0), Fraction::GoNano), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_704_067_199, 0), Fraction::GoNano), "2023-12-31T23:59:59Z");
    }

    #[test]
    fn agrees_with_date_for_many_days() {
        // Every 10007 seconds across ~40 years: fields stay in range and
        // the calendar round-trips through days_from_civil.
        let mut s = 0u64;
        while s < 1_300_000_000 {
            let text = rfc3339(at(s, 0), Fraction::GoNano);
            let y: i64 = text[0..4].parse().unwrap();
            let m: i64 = text[5..7].parse().unwrap();
            let d: i64 = text[8..10].parse().unwrap();
            assert_eq!(days_from_civil(y, m, d), (s / 86_400) as i64, "{text}");
            s += 10_007;
        }
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}
