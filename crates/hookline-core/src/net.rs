//! Which network addresses a delivery may reach, and URL hygiene.
//!
//! SSRF protection classifies every resolved address; the HTTP client in the
//! server does the resolving and connecting. Masking and user-info splitting
//! keep basic-auth passwords out of logs, API answers and the dashboard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use url::Url;

/// Why an address may not be delivered to, or `None` when it is public.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4).map(|_| "an IPv4-mapped private address");
            }
            let seg0 = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg0 & 0xfe00 == 0xfc00 {
                Some("a unique-local address")
            } else if seg0 & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
                Some("a cloud metadata address")
            } else if seg0 == 0x64 && v6.segments()[1] == 0xff9b {
                // NAT64 can smuggle any IPv4 address, private ones included.
                let [.., a, b] = v6.segments();
                let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
                forbidden_v4(v4).map(|_| "a NAT64-mapped private address")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        // 169.254.169.254 (cloud metadata) is in here.
        Some("a link-local or cloud metadata address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol assignment address")
    } else {
        None
    }
}

/// Why a URL cannot be an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not a valid URL; give an absolute URL such as https://example.com/webhooks")]
    Invalid(String),
    #[error("only http and https URLs can receive webhooks, not `{0}`")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL points to {0}; set HOOKLINE_ALLOW_PRIVATE_NETWORKS=true to allow it (local development only)")]
    Private(&'static str),
}

/// Checks a URL given for an endpoint or event: http(s), a host, and (unless
/// `allow_private`) not a literal private address or `localhost`. Names are
/// checked again after DNS resolution, at connect time.
pub fn validate_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = Url::parse(raw).map_err(|_| UrlError::Invalid(raw.chars().take(200).collect()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(UrlError::Scheme(url.scheme().to_string()));
    }
    let host = url.host().ok_or(UrlError::NoHost)?;
    if !allow_private {
        let reason = match host {
            url::Host::Ipv4(ip) => forbidden_reason(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => forbidden_reason(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost"))
                    .then_some("a loopback address")
            }
        };
        if let Some(reason) = reason {
            return Err(UrlError::Private(reason));
        }
    }
    Ok(url)
}

/// The URL with any password replaced by `****`, safe to log and show.
pub fn mask_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        Ok(url) if url.has_host() => raw.to_string(),
        // Not a usable URL: show nothing that might be a credential.
        _ => match raw.rfind('@') {
            Some(at) => format!("****{}", &raw[at..]),
            None => raw.to_string(),
        },
    }
}

/// Splits `https://user:pass@host/…` into the URL without user info and the
/// `Authorization: Basic …` value to send instead.
pub fn split_basic_auth(url: &Url) -> (Url, Option<String>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url.clone(), None);
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let user = decode(url.username());
    let pass = decode(url.password().unwrap_or(""));
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let header = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
    (bare, Some(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_private_and_public_addresses() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(
                forbidden_reason(ip(bad)).is_some(),
                "{bad} should be refused"
            );
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(
                forbidden_reason(ip(good)).is_none(),
                "{good} should be allowed"
            );
        }
    }

    #[test]
    fn validates_scheme_host_and_private_literals() {
        assert!(validate_url("https://example.com/hook", false).is_ok());
        assert!(matches!(
            validate_url("ftp://example.com", false),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            validate_url("not a url", false),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            validate_url("http://127.0.0.1:9/x", false),
            Err(UrlError::Private(_))
        ));
        assert!(matches!(
            validate_url("http://localhost/x", false),
            Err(UrlError::Private(_))
        ));
        assert!(matches!(
            validate_url("http://[::1]/x", false),
            Err(UrlError::Private(_))
        ));
        assert!(validate_url("http://127.0.0.1:9/x", true).is_ok());
    }

    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            mask_url("https://bob:s3cret@example.com/h"),
            "https://bob:****@example.com/h"
        );
        assert_eq!(mask_url("https://example.com/h"), "https://example.com/h");
        assert!(!mask_url("bob:s3cret@weird").contains("s3cret"));
    }

    #[test]
    fn basic_auth_moves_to_a_header() {
        let url = Url::parse("https://bob:p%40ss@example.com/h?x=1").unwrap();
        let (bare, header) = split_basic_auth(&url);
        assert_eq!(bare.as_str(), "https://example.com/h?x=1");
        assert_eq!(
            header.unwrap(),
            format!("Basic {}", STANDARD.encode("bob:p@ss"))
        );
        let plain = Url::parse("https://example.com/").unwrap();
        assert_eq!(split_basic_auth(&plain).1, None);
    }
}
