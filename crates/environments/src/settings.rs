//! An environment's settings, parsed at the boundary: its name, description, region and
//! timezone.

use flowline_core::Error;

pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// The regions the reference offers. A self-hosted server runs where it runs: the region is a
/// label the organization chooses, kept and reported.
pub const REGIONS: [&str; 8] = [
    "amsterdam",
    "frankfurt",
    "london",
    "new york",
    "san francisco",
    "toronto",
    "bangalore",
    "singapore",
];

/// The timezone of an environment created without one (the reference's examples show it).
pub const DEFAULT_TIMEZONE: &str = "Europe/Amsterdam";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    pub fn parse(name: &str) -> Result<EnvironmentName, Error> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::invalid_field(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} printable characters"),
            ));
        }
        Ok(EnvironmentName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn parse_description(description: &str) -> Result<String, Error> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS
        || description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::invalid_field(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} printable characters"),
        ));
    }
    Ok(description.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(&'static str);

impl Region {
    pub fn parse(region: &str) -> Result<Region, Error> {
        let wanted = region.trim();
        REGIONS
            .into_iter()
            .find(|known| known.eq_ignore_ascii_case(wanted))
            .map(Region)
            .ok_or_else(|| {
                Error::invalid_field(
                    "region",
                    format!(
                        "unknown region '{region}': expected one of {}",
                        REGIONS.join(", ")
                    ),
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// A TZ database name, checked against the IANA database (`chrono-tz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(String);

impl Timezone {
    pub fn parse(timezone: &str) -> Result<Timezone, Error> {
        let tz: chrono_tz::Tz = timezone.trim().parse().map_err(|_| {
            Error::invalid_field(
                "timezone",
                format!("unknown timezone '{timezone}': expected a TZ database name such as Europe/London"),
            )
        })?;
        Ok(Timezone(tz.name().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Timezone {
    fn default() -> Timezone {
        Timezone(DEFAULT_TIMEZONE.to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_named() {
        assert_eq!(Region::parse("New York").unwrap().as_str(), "new york");
        assert!(
            Region::parse("mars")
                .unwrap_err()
                .public_message()
                .starts_with("region:")
        );
        assert_eq!(
            Timezone::parse("Europe/London").unwrap().as_str(),
            "Europe/London"
        );
        assert!(Timezone::parse("Europe/Atlantis").is_err());
        assert!(Timezone::parse("'; DROP TABLE x").is_err());
        assert!(EnvironmentName::parse("  ").is_err());
        assert!(EnvironmentName::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            EnvironmentName::parse(" staging ").unwrap().as_str(),
            "staging"
        );
        assert!(parse_description("a\u{0}b").is_err());
    }
}
