//! Packages: what an environment may use. Flowize sells them as server sizes; in self-hosted
//! Flowline a package is a quota the server enforces — records run at once (the scheduler),
//! storage (writes are refused past it), and requests per minute (the gateway).

use flowline_core::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Package {
    SsA,
    SsB,
    SsC,
    SsD,
}

/// Every package, smallest first.
pub const PACKAGES: [Package; 4] = [Package::SsA, Package::SsB, Package::SsC, Package::SsD];

impl Package {
    pub fn parse(field: &str, code: &str) -> Result<Package, Error> {
        PACKAGES
            .into_iter()
            .find(|package| package.code().eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| {
                Error::invalid_field(
                    field,
                    format!("unknown package '{code}': expected SS-A, SS-B, SS-C or SS-D"),
                )
            })
    }

    /// Reads a package stored by this crate.
    pub(crate) fn from_stored(code: &str) -> Result<Package, Error> {
        Package::parse("package", code)
            .map_err(|_| Error::internal(format!("stored package {code:?}")))
    }

    pub fn code(self) -> &'static str {
        match self {
            Package::SsA => "SS-A",
            Package::SsB => "SS-B",
            Package::SsC => "SS-C",
            Package::SsD => "SS-D",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Package::SsA => "Single Server A",
            Package::SsB => "Single Server B",
            Package::SsC => "Single Server C",
            Package::SsD => "Single Server D",
        }
    }

    /// Storage included, in GB (the reference shows SS-A 20 and SS-B 40).
    pub fn base_storage_gb(self) -> i32 {
        match self {
            Package::SsA => 20,
            Package::SsB => 40,
            Package::SsC => 80,
            Package::SsD => 160,
        }
    }

    /// Records of the environment in flight at once: leased by a worker, in a batch or waiting
    /// on an `http` call. A few full batches (64 records each) for the smallest package.
    pub fn max_concurrent_runs(self) -> i32 {
        match self {
            Package::SsA => 256,
            Package::SsB => 512,
            Package::SsC => 1024,
            Package::SsD => 2048,
        }
    }

    /// Application requests per minute to the environment, all applications together.
    pub fn requests_per_minute(self) -> i32 {
        match self {
            Package::SsA => 6_000,
            Package::SsB => 12_000,
            Package::SsC => 30_000,
            Package::SsD => 60_000,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_back_and_quotas_grow_with_the_package() {
        for package in PACKAGES {
            assert_eq!(Package::parse("package", package.code()).unwrap(), package);
        }
        assert_eq!(Package::parse("package", "ss-b").unwrap(), Package::SsB);
        let error = Package::parse("package", "SS-Z").unwrap_err();
        assert!(
            error
                .public_message()
                .starts_with("package: unknown package")
        );
        for pair in PACKAGES.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].base_storage_gb() < pair[1].base_storage_gb());
            assert!(pair[0].max_concurrent_runs() < pair[1].max_concurrent_runs());
            assert!(pair[0].requests_per_minute() < pair[1].requests_per_minute());
        }
    }
}
