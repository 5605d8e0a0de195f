//! Times and durations as sensors print them → whole microseconds UTC.
//!
//! Everything is parsed from the decimal text, never through `f64`: `1551475010.62966` is
//! exactly 1 551 475 010 629 660 µs, and a duration of `4294967.238` s stays exact. Digits
//! beyond the microsecond are rounded to the nearest microsecond, halves away from zero (what
//! `printf("%.6f")` does, so Zeek's JSON and TSV forms of one value agree).

use chrono::{FixedOffset, NaiveDate};

/// Parses decimal seconds (`12`, `-0.5`, `1551475010.62966`, `1e-06`) to microseconds.
///
/// `None` for anything that is not a plain decimal number or does not fit an `i64` of
/// microseconds.
pub(crate) fn parse_decimal_micros(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    let exponent: i64 = match exponent {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || digits.len() > 4 || !all_digits(digits) {
                return None;
            }
            e.parse().ok()?
        }
        None => 0,
    };
    // value = digits × 10^(exponent − frac_len); micros = digits × 10^(shift).
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let shift = 6 + exponent - i64::try_from(frac_part.len()).ok()?;
    let magnitude: i128 = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let total = i64::try_from(digits.len()).ok()? + shift;
        if total > 37 {
            return None;
        }
        digits.parse::<i128>().ok()? * 10i128.pow(u32::try_from(shift).ok()?)
    } else {
        let dropped = usize::try_from(-shift).ok()?;
        if dropped > digits.len() {
            // Below half a microsecond: the first dropped digit is an implied 0.
            0
        } else {
            let keep = &digits[..digits.len() - dropped];
            if keep.len() > 37 {
                return None;
            }
            let kept: i128 = if keep.is_empty() {
                0
            } else {
                keep.parse().ok()?
            };
            let round_up = digits.as_bytes()[digits.len() - dropped] >= b'5';
            kept + i128::from(round_up)
        }
    };
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).ok()
}

/// Parses a calendar timestamp: `YYYY-MM-DD` or `YYYY/MM/DD`, then `T` or a space,
/// `HH:MM:SS`, an optional fraction (`.` or `,`), and an optional zone (`Z`, `UTC`, `+02`,
/// `+0200`, `+02:00`). A timestamp without a zone is in `tz`, or UTC when `tz` is `None`.
pub(crate) fn parse_datetime(text: &str, tz: Option<FixedOffset>) -> Option<i64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let date_sep = *b.get(4)?;
    if !(date_sep == b'-' || date_sep == b'/') || *b.get(7)? != date_sep {
        return None;
    }
    let month = num(5..7)?;
    let day = num(8..10)?;
    if !matches!(b.get(10)?, b'T' | b't' | b' ') || *b.get(13)? != b':' || *b.get(16)? != b':' {
        return None;
    }
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    let mut at = 19;
    let mut frac_micros: i64 = 0;
    if matches!(b.get(at), Some(b'.' | b',')) {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        frac_micros = parse_decimal_micros(&format!("0.{}", &text[start..end]))?;
        at = end;
    }
    let zone = text[at..].trim_start();
    let offset_secs = if zone.is_empty() {
        tz.map_or(0, |tz| tz.local_minus_utc())
    } else {
        parse_offset(zone)?.local_minus_utc()
    };
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
    let secs = naive
        .and_utc()
        .timestamp()
        .checked_sub(i64::from(offset_secs))?;
    secs.checked_mul(1_000_000)?.checked_add(frac_micros)
}

/// Parses an epoch time in decimal seconds or a calendar timestamp ([`parse_datetime`]).
pub(crate) fn parse_time(text: &str, tz: Option<FixedOffset>) -> Option<i64> {
    parse_decimal_micros(text).or_else(|| parse_datetime(text, tz))
}

/// Parses a zone: `Z`, `UTC`, `GMT`, `±HH`, `±HHMM`, `±HH:MM`, optionally after `UTC`/`GMT`
/// (`UTC+02:00`). Zone names (`Europe/Prague`) are not offsets and are rejected.
pub(crate) fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    if rest.is_empty() || rest == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let digits: String = match digits.split_once(':') {
        Some((h, m)) if h.len() == 2 && m.len() == 2 => format!("{h}{m}"),
        Some(_) => return None,
        None => digits.to_string(),
    };
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Whole seconds and microseconds as a `Duration`-free microsecond count, saturating.
pub(crate) fn duration_micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> Option<i64> {
        parse_decimal_micros(text)
    }

    #[test]
    fn decimals_are_exact_to_the_microsecond() {
        assert_eq!(micros("1551475010.62966"), Some(1_551_475_010_629_660));
        assert_eq!(micros("1551475010.629660"), Some(1_551_475_010_629_660));
        assert_eq!(micros("4294967.238"), Some(4_294_967_238_000));
        assert_eq!(micros("0"), Some(0));
        assert_eq!(micros("-0.5"), Some(-500_000));
        assert_eq!(micros("1e-06"), Some(1));
        assert_eq!(micros("1.5E3"), Some(1_500_000_000));
        assert_eq!(micros(".25"), Some(250_000));
        assert_eq!(micros("3."), Some(3_000_000));
        // Rounded half away from zero beyond the microsecond, as %.6f prints.
        assert_eq!(micros("0.0012309551239013672"), Some(1231));
        assert_eq!(micros("0.20696377754211426"), Some(206_964));
        assert_eq!(micros("0.0000005"), Some(1));
        assert_eq!(micros("0.0000004999"), Some(0));
        assert_eq!(micros("-0.0000005"), Some(-1));
        assert_eq!(micros("0.00000001"), Some(0));
    }

    #[test]
    fn non_decimals_are_rejected() {
        for bad in [
            "",
            "-",
            ".",
            "XXXXXXXXXX.XXXXXX",
            "1.2.3",
            "1e",
            "0x10",
            "1 2",
            "nan",
            "1e99999",
        ] {
            assert_eq!(micros(bad), None, "{bad}");
        }
        assert_eq!(micros("99999999999999999999999999"), None);
    }

    #[test]
    fn datetimes_in_the_formats_sensors_print() {
        let expect = 1_551_475_010_629_660;
        assert_eq!(
            parse_datetime("2019-03-01T21:16:50.629660Z", None),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2019-03-01T22:16:50.629660+0100", None),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2019-03-01T22:16:50.629660+01:00", None),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2019/03/01 21:16:50.62966", None),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2019-03-01 21:16:50.629660", None),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2019/03/01T21:16:50.629660", None),
            Some(expect)
        );
        let plus_two = FixedOffset::east_opt(7200);
        assert_eq!(
            parse_datetime("2019-03-01 23:16:50.629660", plus_two),
            Some(expect)
        );
        // An explicit zone wins over the option.
        assert_eq!(
            parse_datetime("2019-03-01T21:16:50.629660Z", plus_two),
            Some(expect)
        );
        assert_eq!(
            parse_datetime("2024-05-01 10:00:00", None),
            Some(1_714_557_600_000_000)
        );
        assert_eq!(parse_datetime("2024-02-30 10:00:00", None), None);
        assert_eq!(parse_datetime("2024-05-01 10:00", None), None);
        assert_eq!(
            parse_datetime("2024-05-01 10:00:00 Europe/Prague", None),
            None
        );
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("UTC").map(|o| o.local_minus_utc()), Some(0));
        assert_eq!(
            parse_offset("+0200").map(|o| o.local_minus_utc()),
            Some(7200)
        );
        assert_eq!(
            parse_offset("-05:30").map(|o| o.local_minus_utc()),
            Some(-19800)
        );
        assert_eq!(
            parse_offset("UTC+2").map(|o| o.local_minus_utc()),
            Some(7200)
        );
        assert_eq!(parse_offset("Europe/Prague"), None);
        assert_eq!(parse_offset("+25"), None);
    }
}
