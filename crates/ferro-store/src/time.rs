//! Timestamps: stored as integer microseconds since the Unix epoch (portable
//! across SQLite and PostgreSQL, ordered, index-friendly), shown as RFC 3339 UTC.
//!
//! A tiny civil-calendar conversion instead of a date-time crate: the store only
//! needs "now", RFC 3339 out, and RFC 3339 (with any offset) in.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// One second in [`Micros`].
pub const SECOND: Micros = 1_000_000;

/// The current time.
pub fn now() -> Micros {
    from_system(SystemTime::now())
}

/// Converts a [`SystemTime`] (times before 1970 clamp to 0).
pub fn from_system(t: SystemTime) -> Micros {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// Howard Hinnant's days-from-civil / civil-from-days.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 in UTC with whole seconds: `2026-01-02T03:04:05Z`.
pub fn format(t: Micros) -> String {
    let secs = t.div_euclid(SECOND);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// RFC 3339 in UTC with microseconds (`…05.123456Z`), for request-log rows
/// whose order within one second matters.
pub fn format_micros(t: Micros) -> String {
    let base = format(t);
    let frac = t.rem_euclid(SECOND);
    format!("{}.{frac:06}Z", base.trim_end_matches('Z'))
}

fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses RFC 3339 (`T`, `t` or space separator; optional fraction; `Z` or `±HH:MM`).
pub fn parse(s: &str) -> Option<Micros> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, se) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > days_in_month || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut frac: i64 = 0;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let digits = &r[..n];
        for i in 0..6 {
            frac = frac * 10 + digits.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
        rest = &r[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = num(&[*h1, *h2])?;
            let om = num(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 60 + om) * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se.min(59) - offset;
    Some(secs * SECOND + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let t = parse("2026-03-01T12:34:56Z");
        assert_eq!(t.map(format).as_deref(), Some("2026-03-01T12:34:56Z"));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse("2026-03-01T14:34:56+02:00"),
            parse("2026-03-01T12:34:56Z")
        );
        assert_eq!(
            parse("2026-03-01T12:34:56.5Z").zip(t).map(|(a, b)| a - b),
            Some(500_000)
        );
        assert_eq!(format_micros(1_500_000), "1970-01-01T00:00:01.500000Z");
        assert_eq!(
            parse("2024-02-29T00:00:00Z").map(format).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        for bad in [
            "",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00",
            "yesterday",
            "2026-01-01T25:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
