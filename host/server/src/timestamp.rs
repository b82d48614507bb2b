//! Timestamps as the reference writes them: ISO 8601 UTC, milliseconds, `Z`.

/// Now, e.g. `2017-04-04T05:16:21.407Z`.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Seconds elapsed since a timestamp written by [`now`] (0 when unparsable or future).
pub fn seconds_since(ts: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
        .map(|s| s.max(0.0))
        .unwrap_or(0.0)
}
