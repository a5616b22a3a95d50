//! Which network addresses a delivery may reach, and URL hygiene.
//!
//! SSRF protection classifies every address against the IANA special-purpose
//! address registries (IPv4 and IPv6) plus the few cloud metadata addresses
//! that sit in public space; an IPv6 address that carries an IPv4 address
//! (mapped, compatible, SIIT, NAT64, 6to4, Teredo, ISATAP) is judged by the
//! IPv4 address inside it. Only globally reachable addresses pass. The HTTP
//! client in the server does the resolving and connecting and asks
//! [`forbidden_reason`] about every address it would connect to; endpoint
//! URLs are checked here at creation ([`validate_url`]).

mod url_rules;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use url_rules::{
    mask_url, split_basic_auth, validate_url, UrlError, MAX_HOST_LABEL_LEN, MAX_URL_LEN,
};

/// Why an address may not be delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden {
    /// The special-purpose block refused, with its prefix.
    pub block: &'static str,
    /// The IPv6 form that carried an IPv4 address, and that address.
    pub carrier: Option<(&'static str, Ipv4Addr)>,
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.carrier {
            Some((form, v4)) => write!(f, "{form} carrying {v4}, {}", self.block),
            None => f.write_str(self.block),
        }
    }
}

/// An address block: network, prefix length, what it is.
struct Block<A> {
    net: A,
    len: u8,
    name: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, name: &'static str) -> Block<Ipv4Addr> {
    Block {
        net: Ipv4Addr::new(a, b, c, d),
        len,
        name,
    }
}

const fn v6(segments: [u16; 8], len: u8, name: &'static str) -> Block<Ipv6Addr> {
    let [a, b, c, d, e, f, g, h] = segments;
    Block {
        net: Ipv6Addr::new(a, b, c, d, e, f, g, h),
        len,
        name,
    }
}

/// Entries of the IPv4 special-purpose registry marked globally reachable
/// that sit inside a refused block.
const V4_GLOBAL: &[Block<Ipv4Addr>] = &[
    v4(192, 0, 0, 9, 32, "Port Control Protocol anycast"),
    v4(192, 0, 0, 10, 32, "TURN anycast"),
];

/// IPv4 blocks that are not globally reachable (IANA IPv4 special-purpose
/// registry, multicast and the reserved class E), plus metadata addresses.
const V4_REFUSED: &[Block<Ipv4Addr>] = &[
    v4(0, 0, 0, 0, 8, "a \"this network\" address (0.0.0.0/8)"),
    v4(10, 0, 0, 0, 8, "a private address (10.0.0.0/8)"),
    v4(
        100,
        64,
        0,
        0,
        10,
        "a carrier-grade NAT address (100.64.0.0/10)",
    ),
    v4(127, 0, 0, 0, 8, "a loopback address (127.0.0.0/8)"),
    v4(
        169,
        254,
        0,
        0,
        16,
        "a link-local or cloud metadata address (169.254.0.0/16)",
    ),
    v4(172, 16, 0, 0, 12, "a private address (172.16.0.0/12)"),
    v4(
        192,
        0,
        0,
        0,
        24,
        "an IETF protocol assignment address (192.0.0.0/24)",
    ),
    v4(192, 0, 2, 0, 24, "a documentation address (192.0.2.0/24)"),
    v4(
        192,
        88,
        99,
        0,
        24,
        "a deprecated 6to4 relay anycast address (192.88.99.0/24)",
    ),
    v4(192, 168, 0, 0, 16, "a private address (192.168.0.0/16)"),
    v4(198, 18, 0, 0, 15, "a benchmarking address (198.18.0.0/15)"),
    v4(
        198,
        51,
        100,
        0,
        24,
        "a documentation address (198.51.100.0/24)",
    ),
    v4(
        203,
        0,
        113,
        0,
        24,
        "a documentation address (203.0.113.0/24)",
    ),
    v4(224, 0, 0, 0, 4, "a multicast address (224.0.0.0/4)"),
    v4(
        240,
        0,
        0,
        0,
        4,
        "a reserved or broadcast address (240.0.0.0/4)",
    ),
    v4(
        168,
        63,
        129,
        16,
        32,
        "a cloud metadata and DNS address (168.63.129.16)",
    ),
];

/// Entries of the IPv6 special-purpose registry marked globally reachable
/// that sit inside a refused block.
const V6_GLOBAL: &[Block<Ipv6Addr>] = &[
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "PCP anycast"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "TURN anycast"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "DNS-SD SRP anycast"),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT"),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2"),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "Drone Remote ID"),
];

/// IPv6 blocks that are not globally reachable (IANA IPv6 special-purpose
/// registry and the address space registry), most specific first.
const V6_REFUSED: &[Block<Ipv6Addr>] = &[
    v6([0; 8], 128, "the unspecified address (::)"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "a loopback address (::1)"),
    v6(
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254],
        128,
        "a cloud metadata address (fd00:ec2::254)",
    ),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "a local-use IPv4/IPv6 translation address (64:ff9b:1::/48)",
    ),
    v6(
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        "a discard-only address (100::/64)",
    ),
    v6(
        [0x100, 0, 0, 1, 0, 0, 0, 0],
        64,
        "a dummy prefix address (100:0:0:1::/64)",
    ),
    v6(
        [0x2001, 2, 0, 0, 0, 0, 0, 0],
        48,
        "a benchmarking address (2001:2::/48)",
    ),
    v6(
        [0x2001, 0x10, 0, 0, 0, 0, 0, 0],
        28,
        "a deprecated ORCHID address (2001:10::/28)",
    ),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "an IETF protocol assignment address (2001::/23)",
    ),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        "a documentation address (2001:db8::/32)",
    ),
    v6(
        [0x3fff, 0, 0, 0, 0, 0, 0, 0],
        20,
        "a documentation address (3fff::/20)",
    ),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        "a segment routing SID (5f00::/16)",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        "a unique-local address (fc00::/7)",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        "a link-local address (fe80::/10)",
    ),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        "a deprecated site-local address (fec0::/10)",
    ),
    v6(
        [0xff00, 0, 0, 0, 0, 0, 0, 0],
        8,
        "a multicast address (ff00::/8)",
    ),
];

/// Why an address may not be delivered to, or `None` when it is globally
/// reachable.
pub fn forbidden_reason(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4).map(|block| Forbidden {
            block,
            carrier: None,
        }),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    let within = |b: &Block<Ipv4Addr>| {
        let mask = u32::MAX.checked_shl(32 - u32::from(b.len)).unwrap_or(0);
        bits & mask == u32::from(b.net) & mask
    };
    if V4_GLOBAL.iter().any(within) {
        return None;
    }
    V4_REFUSED.iter().find(|b| within(b)).map(|b| b.name)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    if let Some((form, inner, always)) = embedded_v4(ip) {
        match forbidden_v4(inner) {
            Some(block) => {
                return Some(Forbidden {
                    block,
                    carrier: Some((form, inner)),
                })
            }
            // Deprecated forms that no receiver uses are refused whatever they carry.
            None if always => {
                return Some(Forbidden {
                    block: "a deprecated IPv6 transition form, never a delivery target",
                    carrier: Some((form, inner)),
                })
            }
            None => {}
        }
        // Globally routed forms of a public IPv4 address reach that address.
        if matches!(form, MAPPED | NAT64 | SIX_TO_FOUR) {
            return None;
        }
    }
    let bits = u128::from(ip);
    let within = |b: &Block<Ipv6Addr>| {
        let mask = u128::MAX.checked_shl(128 - u32::from(b.len)).unwrap_or(0);
        bits & mask == u128::from(b.net) & mask
    };
    if V6_GLOBAL.iter().any(within) {
        return None;
    }
    if let Some(block) = V6_REFUSED.iter().find(|b| within(b)) {
        return Some(Forbidden {
            block: block.name,
            carrier: None,
        });
    }
    // Only 2000::/3 is allocated for global unicast; the rest is reserved.
    (bits >> 125 != 0b001).then_some(Forbidden {
        block: "a reserved address outside global unicast (2000::/3)",
        carrier: None,
    })
}

const MAPPED: &str = "an IPv4-mapped address (::ffff:0:0/96)";
const NAT64: &str = "a NAT64 address (64:ff9b::/96)";
const SIX_TO_FOUR: &str = "a 6to4 address (2002::/16)";
const COMPATIBLE: &str = "an IPv4-compatible address (::/96)";
const SIIT: &str = "an SIIT IPv4-translated address (::ffff:0:0:0/96)";
const TEREDO: &str = "a Teredo address (2001::/32)";
const ISATAP: &str = "an ISATAP address (::5efe:0:0/96)";

/// The IPv4 address an IPv6 address carries: (form, address, whether the
/// form is refused whatever it carries).
fn embedded_v4(ip: Ipv6Addr) -> Option<(&'static str, Ipv4Addr, bool)> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some((MAPPED, low, false)),
        [0, 0, 0, 0, 0xffff, 0, ..] => Some((SIIT, low, true)),
        // :: and ::1 are themselves, not IPv4-compatible forms.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, ..] => Some((COMPATIBLE, low, true)),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some((NAT64, low, false)),
        [0x2002, a, b, ..] => Some((
            SIX_TO_FOUR,
            Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8),
            false,
        )),
        // The client's address is stored inverted in the last 32 bits.
        [0x2001, 0, ..] => Some((TEREDO, Ipv4Addr::from(!u32::from(low)), true)),
        [_, _, _, _, id, 0x5efe, ..] if id & 0xfcff == 0 => Some((ISATAP, low, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SSRF table shared with the server's connect-time and creation
    /// tests: (address, `None` when globally reachable, else a part of the
    /// reason).
    fn table() -> Vec<(&'static str, Option<&'static str>)> {
        include_str!("net/ssrf_table.txt")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (address, expected) = line.split_once('\t').expect("address TAB expectation");
                (address, (expected != "global").then_some(expected))
            })
            .collect()
    }

    #[test]
    fn classifies_addresses_against_the_special_purpose_registries() {
        let mut wrong = Vec::new();
        let table = table();
        assert!(table.len() > 80, "the table is read whole");
        for (text, expected) in &table {
            let ip: IpAddr = text.parse().expect("table addresses parse");
            let got = forbidden_reason(ip).map(|f| f.to_string());
            let right = match (expected, &got) {
                (None, None) => true,
                (Some(part), Some(reason)) => reason.contains(part),
                _ => false,
            };
            if !right {
                wrong.push(format!("{text}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    #[test]
    fn every_refused_block_is_refused_at_its_edges() {
        for block in V4_REFUSED {
            let first = u32::from(block.net);
            let last = first | u32::MAX.checked_shr(u32::from(block.len)).unwrap_or(0);
            for bits in [first, last] {
                let ip = Ipv4Addr::from(bits);
                assert!(forbidden_v4(ip).is_some(), "{ip} in {}", block.name);
                // The same address carried by each IPv6 form is refused too.
                for carried in [ip.to_ipv6_mapped(), ip.to_ipv6_compatible()] {
                    assert!(forbidden_v6(carried).is_some(), "{carried}");
                }
                let [a, b, c, d] = ip.octets();
                let six_to_four = Ipv6Addr::new(
                    0x2002,
                    u16::from_be_bytes([a, b]),
                    u16::from_be_bytes([c, d]),
                    0,
                    0,
                    0,
                    0,
                    1,
                );
                assert!(forbidden_v6(six_to_four).is_some(), "{six_to_four}");
            }
        }
        for block in V6_REFUSED {
            let first = u128::from(block.net);
            let last = first | u128::MAX.checked_shr(u32::from(block.len)).unwrap_or(0);
            for bits in [first, last] {
                let ip = Ipv6Addr::from(bits);
                if V6_GLOBAL.iter().all(|g| g.net != ip) {
                    assert!(forbidden_v6(ip).is_some(), "{ip} in {}", block.name);
                }
            }
        }
    }
}
