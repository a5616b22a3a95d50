//! The SSRF-safe HTTP client that makes delivery attempts.
//!
//! Names are resolved by our own resolver, which drops every address that
//! is not globally reachable (`hookline_core::net::forbidden_reason`: the
//! IANA special-purpose blocks, IPv4 carried inside IPv6, metadata
//! addresses) unless private networks are allowed, and hands reqwest only
//! the checked addresses, so the connection goes to an address that was
//! checked. Literal IPs are checked before the request. Redirects are never followed; response bodies are read
//! to at most 4 KiB; connections are pooled and reused.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookline_core::net::forbidden_reason;
use hookline_core::AttemptOutcome;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;

/// Most response body kept in the attempt log.
pub const MAX_RESPONSE_BODY: usize = 4096;

/// The `User-Agent` of every attempt.
pub const USER_AGENT: &str = concat!("hookline/", env!("CARGO_PKG_VERSION"));

/// What one request came to.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub outcome: AttemptOutcome,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response_body: String,
    /// The response's headers, bounded as `hookline_core::Exchange` says
    /// (empty when no response came).
    pub response_headers: Vec<(String, String)>,
    /// `Retry-After` of a 429 or 503.
    pub retry_after: Option<Duration>,
    pub duration: Duration,
}

/// A refused address: the resolver's error, found again in reqwest's error chain.
#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BlockedAddress {}

/// A host name that did not resolve, said plainly for the attempt log
/// (reqwest would bury it under "client error (Connect): dns error").
#[derive(Debug)]
struct UnresolvedHost(String);

impl std::fmt::Display for UnresolvedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnresolvedHost {}

struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| {
                    Box::new(UnresolvedHost(format!(
                        "could not resolve {host} ({e}); check the endpoint's host name"
                    ))) as Box<dyn std::error::Error + Send + Sync>
                })?
                .collect();
            let allowed = if allow_private {
                resolved
            } else {
                checked_addresses(&host, resolved)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
            };
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The addresses `host` resolved to that may be connected to; none left is
/// a `BlockedAddress` naming why the last one was refused.
fn checked_addresses(
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, BlockedAddress> {
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| match forbidden_reason(addr.ip()) {
            Some(reason) => {
                refused = Some(reason);
                false
            }
            None => true,
        })
        .collect();
    if allowed.is_empty() {
        let reason = refused.map_or_else(|| "no address".to_string(), |r| r.to_string());
        return Err(BlockedAddress(format!(
            "{host} resolves to {reason}; deliveries to private networks are refused \
             (HOOKLINE_ALLOW_PRIVATE_NETWORKS=true allows them)"
        )));
    }
    Ok(allowed)
}

/// Sends attempts. Clone it freely: clones share the connection pool.
#[derive(Clone)]
pub struct DeliveryClient {
    http: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl DeliveryClient {
    /// A client with the given per-attempt timeout and network policy.
    pub fn new(timeout: Duration, allow_private: bool) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .build()
            .expect("the TLS backend initialises");
        DeliveryClient {
            http,
            allow_private,
            timeout,
        }
    }

    /// POSTs `body` to `url` with `headers`; never fails, classifies instead.
    pub async fn post(&self, url: &reqwest::Url, headers: HeaderMap, body: Bytes) -> SendResult {
        let started = Instant::now();
        if let Some(reason) = self.literal_refusal(url) {
            return SendResult::failed(AttemptOutcome::Blocked, reason, started);
        }
        let request = self.http.post(url.clone()).headers(headers).body(body);
        let deadline = tokio::time::Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, send_and_read(request, deadline)).await {
            Ok(Ok(Answer {
                status,
                retry_after,
                body: response_body,
                headers: response_headers,
            })) => SendResult {
                outcome: if (200..300).contains(&status) {
                    AttemptOutcome::Succeeded
                } else {
                    AttemptOutcome::HttpError
                },
                status_code: Some(status),
                error: None,
                response_body,
                response_headers,
                retry_after,
                duration: started.elapsed(),
            },
            Ok(Err(err)) => {
                let (outcome, message) = classify(&err);
                SendResult::failed(outcome, message, started)
            }
            Err(_) => SendResult::failed(
                AttemptOutcome::Timeout,
                format!("no complete answer within {:?}", self.timeout),
                started,
            ),
        }
    }

    fn literal_refusal(&self, url: &reqwest::Url) -> Option<String> {
        if self.allow_private {
            return None;
        }
        let ip: IpAddr = match url.host()? {
            url::Host::Ipv4(ip) => ip.into(),
            url::Host::Ipv6(ip) => ip.into(),
            url::Host::Domain(_) => return None,
        };
        forbidden_reason(ip).map(|reason| {
            format!("{ip} is {reason}; deliveries to private networks are refused (HOOKLINE_ALLOW_PRIVATE_NETWORKS=true allows them)")
        })
    }
}

impl SendResult {
    fn failed(outcome: AttemptOutcome, error: String, started: Instant) -> Self {
        SendResult {
            outcome,
            status_code: None,
            error: Some(error),
            response_body: String::new(),
            response_headers: Vec::new(),
            retry_after: None,
            duration: started.elapsed(),
        }
    }
}

/// What a receiver answered, as far as it is kept.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
    headers: Vec<(String, String)>,
}

/// Sends and reads the status, then at most `MAX_RESPONSE_BODY` bytes of the
/// body until `deadline`: once the status is in, it decides the outcome, so
/// a body that never ends cannot turn a `200` into a timeout.
async fn send_and_read(
    request: reqwest::RequestBuilder,
    deadline: tokio::time::Instant,
) -> Result<Answer, reqwest::Error> {
    let mut response = request.send().await?;
    let status = response.status().as_u16();
    let headers = hookline_core::Exchange::bounded(response.headers().iter().map(|(n, v)| {
        (
            n.as_str().to_string(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        )
    }));
    let retry_after = if status == 429 || status == 503 {
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
    } else {
        None
    };
    // Read a little before the deadline so the outer timeout never races it.
    let body_deadline = deadline - (deadline - tokio::time::Instant::now()) / 10;
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE_BODY {
        match tokio::time::timeout_at(body_deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            // The status decided the outcome; a body cut short is still logged.
            Ok(Ok(None) | Err(_)) | Err(_) => break,
        }
    }
    body.truncate(MAX_RESPONSE_BODY);
    Ok(Answer {
        status,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers,
    })
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

fn classify(err: &reqwest::Error) -> (AttemptOutcome, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<BlockedAddress>() {
            return (AttemptOutcome::Blocked, blocked.0.clone());
        }
        if let Some(unresolved) = e.downcast_ref::<UnresolvedHost>() {
            return (AttemptOutcome::ConnectionError, unresolved.0.clone());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return (
                    AttemptOutcome::ConnectionError,
                    "connection refused: nothing is listening at the endpoint's host and port"
                        .into(),
                );
            }
        }
        source = e.source();
    }
    if err.is_timeout() {
        return (AttemptOutcome::Timeout, "the request timed out".into());
    }
    // reqwest's messages name the URL; keep only the cause chain.
    let mut message = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&e.to_string());
        source = e.source();
    }
    if message.is_empty() {
        message = "the connection failed".into();
    }
    (AttemptOutcome::ConnectionError, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc2822();
        let parsed = parse_retry_after(&later).unwrap();
        assert!(parsed > Duration::from_secs(50) && parsed <= Duration::from_secs(60));
        assert_eq!(parse_retry_after("soon"), None);
    }
}

#[cfg(test)]
mod ssrf_tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_before_connecting() {
        let client = DeliveryClient::new(Duration::from_secs(2), false);
        let url = reqwest::Url::parse("http://localhost:9/hook").unwrap();
        let sent = client
            .post(&url, HeaderMap::new(), Bytes::from_static(b"{}"))
            .await;
        assert_eq!(sent.outcome, AttemptOutcome::Blocked, "{:?}", sent.error);
        assert!(sent.error.unwrap().contains("loopback"));
        let literal = reqwest::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        let sent = client.post(&literal, HeaderMap::new(), Bytes::new()).await;
        assert_eq!(sent.outcome, AttemptOutcome::Blocked);
    }

    /// The SSRF table (hookline-core's), at connect time: every address
    /// refused or let through as a literal URL and as what a name resolves
    /// to, whatever was accepted when the endpoint was stored (an older
    /// classifier, another node's looser version). Nothing here connects.
    #[test]
    fn the_ssrf_table_holds_at_connect_time() {
        let client = DeliveryClient::new(Duration::from_secs(2), false);
        let table = include_str!("../../../hookline-core/src/net/ssrf_table.txt");
        let mut rows = 0;
        for line in table
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (address, expected) = line.split_once('\t').expect("address TAB expectation");
            let ip: IpAddr = address.parse().expect("table addresses parse");
            let literal = match ip {
                IpAddr::V4(v4) => format!("http://{v4}/hook"),
                IpAddr::V6(v6) => format!("http://[{v6}]/hook"),
            };
            let literal = client.literal_refusal(&reqwest::Url::parse(&literal).unwrap());
            let resolved = checked_addresses("receiver.example", vec![SocketAddr::new(ip, 443)]);
            if expected == "global" {
                assert_eq!(literal, None, "{address}");
                assert!(resolved.is_ok(), "{address}");
            } else {
                let literal = literal.unwrap_or_else(|| panic!("{address} let through"));
                assert!(literal.contains(expected), "{address}: {literal}");
                assert!(
                    literal.contains("private networks are refused"),
                    "{literal}"
                );
                let resolved = resolved.expect_err(address).0;
                assert!(resolved.contains(expected), "{address}: {resolved}");
            }
            rows += 1;
        }
        assert!(rows > 80, "the table is read whole");
        // A name with one refused and one public address keeps the public one only.
        let public: SocketAddr = "[2606:4700::1111]:443".parse().unwrap();
        let mixed = vec!["127.0.0.1:443".parse().unwrap(), public];
        assert_eq!(checked_addresses("x.example", mixed).unwrap(), vec![public]);
    }

    #[tokio::test]
    async fn connection_failures_say_what_went_wrong() {
        // Generous: a machine whose DNS server is far away still answers in time.
        let client = DeliveryClient::new(Duration::from_secs(60), true);
        let url = reqwest::Url::parse("http://hookline-test.invalid/hook").unwrap();
        let sent = client.post(&url, HeaderMap::new(), Bytes::new()).await;
        assert_eq!(sent.outcome, AttemptOutcome::ConnectionError);
        let error = sent.error.unwrap();
        assert!(
            error.starts_with("could not resolve hookline-test.invalid"),
            "{error}"
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let closed = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
        let sent = client.post(&closed, HeaderMap::new(), Bytes::new()).await;
        assert_eq!(sent.outcome, AttemptOutcome::ConnectionError);
        assert!(sent.error.unwrap().starts_with("connection refused"));
    }
}
