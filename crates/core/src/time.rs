//! The time formats of the public API: `2016-05-03 11:47:38` for dates in responses, ATOM
//! (RFC 3339) for execution times, and the HTTP date of `Last-Modified`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Flowize's response date format.
pub const API_DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

pub fn api_date(at: DateTime<Utc>) -> String {
    at.format(API_DATE_FORMAT).to_string()
}

pub fn parse_api_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, API_DATE_FORMAT)
        .ok()
        .map(|naive| naive.and_utc())
}

pub fn atom(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse_atom(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// RFC 7231 IMF-fixdate, as `Last-Modified` and `If-Modified-Since` carry it.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_round_trip() {
        let at = Utc.with_ymd_and_hms(2016, 5, 3, 11, 47, 38).single();
        let Some(at) = at else { panic!("valid date") };
        assert_eq!(api_date(at), "2016-05-03 11:47:38");
        assert_eq!(parse_api_date("2016-05-03 11:47:38"), Some(at));
        assert_eq!(atom(at), "2016-05-03T11:47:38Z");
        assert_eq!(parse_atom("2016-05-03T13:47:38+02:00"), Some(at));
        assert_eq!(http_date(at), "Tue, 03 May 2016 11:47:38 GMT");
        assert_eq!(parse_http_date("Tue, 03 May 2016 11:47:38 GMT"), Some(at));
    }
}
