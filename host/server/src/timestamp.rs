//! Timestamps as the reference writes them: ISO 8601 UTC, milliseconds, `Z`.

/// Now, e.g. `2017-04-04T05:16:21.407Z`.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A moment, as [`now`] writes them.
pub fn format(at: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Seconds elapsed since a timestamp written by [`now`] (0 when unparsable or future).
pub fn seconds_since(ts: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
        .map(|s| s.max(0.0))
        .unwrap_or(0.0)
}

/// Seconds from now until a timestamp (`None` when unparsable; negative when past).
pub fn seconds_until(ts: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0)
}

/// A time as an operator writes it: an RFC 3339 instant, or a duration from now
/// (`90s`, `45m`, `2h`, `1h30m`, `1d`). Returns the timestamp as [`now`] writes them.
pub fn parse_time(text: &str) -> Result<String, String> {
    parse_time_after(text, chrono::Utc::now())
}

/// [`parse_time`], with a duration counted from `base` (a window's end from its start).
pub fn parse_time_after(text: &str, base: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    }
    let secs = parse_duration(text)?;
    let at = base + chrono::Duration::seconds(secs as i64);
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// A timestamp written by [`now`] or [`parse_time`], as a time.
pub fn parse(ts: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(ts).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// `90s`, `45m`, `2h`, `1h30m`, `1d` (a bare number is seconds) → seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is neither an RFC 3339 time (2026-12-24T18:00:00Z) nor a duration (90s, 45m, 2h, 1h30m, 1d)");
    if text.is_empty() {
        return Err(bad());
    }
    // A year at most: further is a typo, and would overflow the clock's arithmetic.
    let capped = |total: u64| if total > 366 * 86_400 { Err(bad()) } else { Ok(total) };
    if let Ok(n) = text.parse::<u64>() {
        return capped(n);
    }
    let (mut total, mut number) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    capped(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_instants() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("45"), Ok(45));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("10").is_ok() && parse_duration("400d").is_err());
        assert!(parse_duration("99999999999999").is_err() && parse_duration("18446744073709551615").is_err());
        assert!(parse_time("99999999999999").is_err());
        let base = parse("2026-12-24T18:00:00Z").unwrap();
        assert_eq!(parse_time_after("2h", base).unwrap(), "2026-12-24T20:00:00.000Z");
        assert_eq!(parse_time("2026-12-24T18:00:00+01:00").unwrap(), "2026-12-24T17:00:00.000Z");
        let in_45m = parse_time("45m").unwrap();
        let left = seconds_until(&in_45m).unwrap();
        assert!((2690.0..=2700.0).contains(&left), "{left}");
    }
}
