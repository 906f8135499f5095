//! IP allow-lists: an application may only be used from the networks it lists; an empty list
//! allows any address.

use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    pub fn new(networks: Vec<IpNet>) -> AllowList {
        AllowList(networks)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(IpNet::to_string).collect()
    }
}

/// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128 network).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:10.1.2.3`) is matched as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> AllowList {
        AllowList::new(items.iter().filter_map(|item| parse_cidr(item)).collect())
    }

    #[test]
    fn empty_list_allows_everyone() {
        assert!(AllowList::default().allows("203.0.113.9".parse().unwrap_or(IpAddr::from([0; 4]))));
    }

    #[test]
    fn matches_networks_bare_addresses_and_mapped_ipv4() {
        let allow = list(&["10.0.0.0/8", "192.0.2.7"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4]));
        assert!(allow.allows(ip("10.20.30.40")));
        assert!(allow.allows(ip("192.0.2.7")));
        assert!(allow.allows(ip("::ffff:10.1.1.1")));
        assert!(!allow.allows(ip("192.0.2.8")));
        assert!(!allow.allows(ip("127.0.0.1")));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("localhost"), None);
    }
}
