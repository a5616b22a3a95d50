//! Endpoint URL rules: what a webhook URL may look like, its normal form,
//! and keeping the basic-auth password inside it out of sight.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use url::Url;

use super::{forbidden_reason, Forbidden};

/// Longest URL accepted, in bytes (what browsers and proxies reliably carry).
pub const MAX_URL_LEN: usize = 2048;

/// Longest label of a host name (RFC 1035).
pub const MAX_HOST_LABEL_LEN: usize = 63;

/// Longest host name (RFC 1035).
const MAX_HOST_LEN: usize = 253;

/// Why a URL cannot be an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not a valid URL; give an absolute URL such as https://example.com/webhooks")]
    Invalid(String),
    #[error("the URL is {0} bytes long; the limit is {MAX_URL_LEN}")]
    TooLong(usize),
    #[error("the URL contains {0}; percent-encode it (spaces as %20) or remove it")]
    Character(String),
    #[error("only http and https URLs can receive webhooks, not `{0}`")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the host `{0}` is not a valid host name: {1}")]
    Host(String, &'static str),
    #[error("port 0 cannot receive connections; give a port from 1 to 65535")]
    PortZero,
    #[error("the URL points to {0}; set HOOKLINE_ALLOW_PRIVATE_NETWORKS=true to allow it (local development only)")]
    Private(Forbidden),
}

/// Checks a URL given for an endpoint or event and answers its normal form
/// (what is stored): at most [`MAX_URL_LEN`] bytes, no whitespace or control
/// characters, http(s), a valid host name (labels of at most 63 letters,
/// digits, `-` or `_`) or IP address, a port other than 0, and (unless
/// `allow_private`) not a literal address that is not globally reachable
/// or `localhost`. Names are checked again after DNS resolution, at connect
/// time.
pub fn validate_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong(raw.len()));
    }
    // The URL parser silently drops tabs and newlines; refuse them instead.
    if let Some(c) = raw.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(UrlError::Character(match c {
            ' ' => "a space".to_string(),
            c => format!("the control or whitespace character {:?}", c),
        }));
    }
    let url = Url::parse(raw)
        .map_err(|_| UrlError::Invalid(mask_url(raw).chars().take(200).collect()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(UrlError::Scheme(url.scheme().to_string()));
    }
    let host = url.host().ok_or(UrlError::NoHost)?;
    if let url::Host::Domain(name) = host {
        check_host_name(name)?;
    }
    if url.port() == Some(0) {
        return Err(UrlError::PortZero);
    }
    if !allow_private {
        let reason = match host {
            url::Host::Ipv4(ip) => forbidden_reason(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => forbidden_reason(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost")).then_some(Forbidden {
                    block: "a loopback address (localhost)",
                    carrier: None,
                })
            }
        };
        if let Some(reason) = reason {
            return Err(UrlError::Private(reason));
        }
    }
    // The normal form is checked too: it is what is stored and connected to.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(UrlError::TooLong(url.as_str().len()));
    }
    Ok(url)
}

/// A DNS name as the URL parser left it (lower case, punycode).
fn check_host_name(name: &str) -> Result<(), UrlError> {
    let bad = |why| Err(UrlError::Host(name.chars().take(100).collect(), why));
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.len() > MAX_HOST_LEN {
        return bad("it is longer than 253 characters");
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (two dots in a row)");
        }
        if label.len() > MAX_HOST_LABEL_LEN {
            return bad("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("labels may hold only letters, digits, `-` and `_`");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with `-`");
        }
    }
    Ok(())
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

    #[test]
    fn validates_scheme_host_and_private_literals() {
        assert!(validate_url("https://example.com/hook", false).is_ok());
        assert!(matches!(
            validate_url("ftp://example.com", false),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            validate_url("not-a-url", false),
            Err(UrlError::Invalid(_))
        ));
        for private in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://198.18.0.1/",
            "http://[fec0::1]/",
            "http://168.63.129.16/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            assert!(
                matches!(validate_url(private, false), Err(UrlError::Private(_))),
                "{private} should be refused"
            );
        }
        assert!(validate_url("http://127.0.0.1:9/x", true).is_ok());
    }

    /// Bad URLs and the part of the 422 message that says why.
    const MALFORMED: &[(&str, &str)] = &[
        ("https://example.com/a\r\nX-Injected: 1", "control"),
        ("https://example.com/a b", "a space"),
        ("https://exa\tmple.com/", "control"),
        (" https://example.com/", "a space"),
        ("https://example.com:0/", "port 0"),
        ("https://example.com:65536/", "not a valid URL"),
        ("https://exa..mple.com/", "empty label"),
        ("https://-example.com/", "starts or ends with `-`"),
        ("https://exa*mple.com/", "letters, digits"),
        ("http://", "not a valid URL"),
    ];

    #[test]
    fn refuses_malformed_urls_with_a_reason() {
        for (raw, why) in MALFORMED {
            let err = validate_url(raw, true).expect_err(raw).to_string();
            assert!(err.contains(why), "{raw:?}: {err}");
        }
        let long_label = format!("https://{}.example.com/", "a".repeat(300));
        assert!(matches!(
            validate_url(&long_label, true),
            Err(UrlError::Host(_, _))
        ));
        let huge = format!("https://example.com/{}", "a".repeat(100_000));
        assert_eq!(
            validate_url(&huge, true),
            Err(UrlError::TooLong(huge.len()))
        );
    }

    #[test]
    fn answers_the_normal_form() {
        let url = validate_url("HTTPS://Example.COM:443/a/../hook?x=1", false).unwrap();
        assert_eq!(url.as_str(), "https://example.com/hook?x=1");
        let url = validate_url("http://b\u{fc}cher.example/", false).unwrap();
        assert_eq!(url.as_str(), "http://xn--bcher-kva.example/");
    }

    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            mask_url("https://bob:s3cret@example.com/h"),
            "https://bob:****@example.com/h"
        );
        assert_eq!(mask_url("https://example.com/h"), "https://example.com/h");
        assert!(!mask_url("bob:s3cret@weird").contains("s3cret"));
        let err = validate_url("bob:s3cret@weird", false).unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
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
