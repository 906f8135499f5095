//! The `http` step's outbound call. It runs outside any transaction (the run commits its state
//! first and holds only its lease), so a slow server never holds a record's locks.
//!
//! Requests to loopback, private, link-local and other internal addresses are refused unless
//! the operator allow-lists them (`FLOWLINE_HTTP_ALLOW`): every address a host name resolves to
//! is checked by the client's resolver (so redirects to a host name are checked too), and
//! address literals are checked before the request and at every redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use flowline_flows::HttpStep;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::render::Scope;

/// How long a call may take when the step names no `timeout_ms`.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The largest response body kept; a larger one fails the step.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// The outbound client shared by a scheduler's runs.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    client: reqwest::Client,
    guard: Arc<Guard>,
}

/// Which addresses calls may reach.
#[derive(Debug)]
struct Guard {
    allow: Vec<IpNet>,
}

impl Guard {
    fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    fn refusal(&self, host: &str, ip: IpAddr) -> String {
        format!(
            "refused to call {host}: it resolves to {ip}, a loopback, private or link-local \
             address (the operator may allow it with FLOWLINE_HTTP_ALLOW)"
        )
    }
}

/// Loopback, private, link-local, shared, unspecified, broadcast and multicast addresses,
/// IPv4 ones embedded in IPv6 included.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible or NAT64 IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = v6.segments();
    let tail = || Ipv4Addr::from((u128::from(v6) & 0xffff_ffff) as u32);
    let compatible = segments[..6].iter().all(|segment| *segment == 0) && !v6.is_loopback();
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (compatible && !v6.is_unspecified() || nat64).then(tail)
}

/// A refused address, from the resolver: reported as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// Resolves with the system resolver and refuses a name when any of its addresses is refused.
struct GuardedResolver(Arc<Guard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(refused) = addresses.iter().find(|at| !guard.permits(at.ip())) {
                return Err(Box::new(Refused(guard.refusal(&host, refused.ip())))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// A call, rendered from the step and the run's state.
#[derive(Debug)]
pub(crate) struct Request {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

/// Certificate authorities `https` calls trust besides the platform's (an operator's internal
/// CA), parsed from PEM.
#[derive(Debug, Clone, Default)]
pub struct HttpRoots(Vec<reqwest::Certificate>);

impl HttpRoots {
    /// Every certificate of a PEM bundle; an error when there is none or one is not valid.
    pub fn from_pem(pem: &[u8]) -> Result<HttpRoots, crate::SchedulerError> {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|error| crate::SchedulerError::HttpRoots(error.to_string()))?;
        if certificates.is_empty() {
            return Err(crate::SchedulerError::HttpRoots(
                "no PEM certificate found".to_owned(),
            ));
        }
        Ok(HttpRoots(certificates))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Makes ring the process's TLS crypto provider. rustls needs one chosen before any HTTPS
/// client is built; every program that builds reqwest clients calls this first. Harmless when
/// a provider is installed already.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Outbound {
    /// A client that reaches internal addresses only within `allow`, and trusts `roots` as
    /// well as the platform's certificate authorities.
    pub(crate) fn new(allow: Vec<IpNet>, roots: HttpRoots) -> Result<Outbound, reqwest::Error> {
        install_tls_provider();
        let guard = Arc::new(Guard { allow });
        let redirect_guard = guard.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                let message = format!("more than {MAX_REDIRECTS} redirects");
                return attempt.error(Refused(message));
            }
            if let Some(refusal) = literal_refusal(&redirect_guard, attempt.url()) {
                return attempt.error(Refused(refusal));
            }
            attempt.follow()
        });
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver(guard.clone()))
            .redirect(redirects)
            .no_proxy()
            .user_agent(concat!("Flowline/", env!("CARGO_PKG_VERSION")))
            .tls_certs_merge(roots.0)
            .build()?;
        Ok(Outbound { client, guard })
    }

    /// Renders the step's request against the run's state; `key` is the idempotency key.
    pub(crate) fn prepare(
        &self,
        step: &HttpStep,
        scope: &Scope<'_>,
        key: &str,
    ) -> Result<Request, String> {
        let text = scope
            .render_text(&step.url)
            .map_err(|error| error.to_string())?;
        let url = reqwest::Url::parse(text.trim())
            .map_err(|error| format!("url: '{text}' is not a valid URL ({error})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url: '{text}' must be an http or https URL"));
        }
        let mut headers = HeaderMap::new();
        for (name, template) in &step.headers {
            let value = scope
                .render_text(template)
                .map_err(|error| error.to_string())?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: '{name}' is not a valid header name"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("headers.{name}: the value is not a valid header value"))?;
            headers.insert(name, value);
        }
        let key = HeaderValue::from_str(key).map_err(|error| error.to_string())?;
        headers.insert(HeaderName::from_static("idempotency-key"), key);
        let body = match &step.body {
            None => None,
            Some(template) => {
                let (bytes, content_type) = match scope
                    .render_json(template)
                    .map_err(|error| error.to_string())?
                {
                    Value::String(text) => (text.into_bytes(), "text/plain; charset=utf-8"),
                    other => (other.to_string().into_bytes(), "application/json"),
                };
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                }
                Some(bytes)
            }
        };
        let method = reqwest::Method::from_bytes(step.method.as_str().as_bytes())
            .map_err(|error| error.to_string())?;
        Ok(Request {
            method,
            url,
            headers,
            body,
            timeout: Duration::from_millis(step.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
        })
    }

    /// Makes the call: the response as `{status, headers, body}` (the body parsed when it is
    /// JSON), or why the step failed (a refused address, a timeout, a status other than 2xx).
    pub(crate) async fn call(&self, request: Request) -> Result<Value, String> {
        if let Some(refusal) = literal_refusal(&self.guard, &request.url) {
            return Err(refusal);
        }
        let timeout = request.timeout;
        let mut builder = self
            .client
            .request(request.method, request.url.clone())
            .headers(request.headers)
            .timeout(timeout);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let outcome = async {
            let response = builder.send().await?;
            let status = response.status();
            let headers = response_headers(response.headers());
            let is_json = content_is_json(response.headers());
            let body = read_body(response).await?;
            Ok::<_, CallError>((status, headers, is_json, body))
        }
        .await;
        let (status, headers, is_json, body) =
            outcome.map_err(|error| error.describe(&request.url, timeout))?;
        let body = match (is_json, String::from_utf8(body)) {
            (_, Err(_)) => Value::Null,
            (true, Ok(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            (false, Ok(text)) => Value::String(text),
        };
        if !status.is_success() {
            return Err(format!(
                "{} answered {status}",
                request.url.host_str().unwrap_or_default()
            ));
        }
        Ok(json!({"status": status.as_u16(), "headers": headers, "body": body}))
    }
}

/// The refusal of a URL whose host is an address literal outside the allow-list.
fn literal_refusal(guard: &Guard, url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (!guard.permits(ip)).then(|| guard.refusal(url.host_str().unwrap_or_default(), ip))
}

fn response_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            map.insert(name.as_str().to_owned(), Value::String(value.to_owned()));
        }
    }
    map
}

fn content_is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(CallError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

enum CallError {
    Http(reqwest::Error),
    TooLarge,
}

impl From<reqwest::Error> for CallError {
    fn from(error: reqwest::Error) -> CallError {
        CallError::Http(error)
    }
}

impl CallError {
    fn describe(self, url: &reqwest::Url, timeout: Duration) -> String {
        let error = match self {
            CallError::TooLarge => {
                return format!("the response is larger than {MAX_RESPONSE_BYTES} bytes");
            }
            CallError::Http(error) => error,
        };
        if error.is_timeout() {
            return format!(
                "no complete answer from {} within {} ms (timeout_ms)",
                url.host_str().unwrap_or_default(),
                timeout.as_millis()
            );
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source {
            if let Some(refused) = current.downcast_ref::<Refused>() {
                return refused.0.clone();
            }
            source = current.source();
        }
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(current) = source {
            message = format!("{message}: {current}");
            source = current.source();
        }
        message
    }
}

/// The `Idempotency-Key` of a call: the same for the same record, step and attempt, so that a
/// call repeated after a crash carries the key of the call it repeats.
pub(crate) fn idempotency_key(record: uuid::Uuid, step: &str, attempt: i32) -> String {
    let digest = Sha256::digest(format!("{record}/{step}/{attempt}").as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_allow_list_opens_internal_addresses() {
        let guard = Guard {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(guard.permits("127.0.0.1".parse().unwrap()));
        assert!(!guard.permits("127.0.0.2".parse().unwrap()));
        assert!(guard.permits("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn keys_differ_by_record_step_and_attempt() {
        let record = uuid::Uuid::new_v4();
        let key = idempotency_key(record, "notify", 1);
        assert_eq!(key, idempotency_key(record, "notify", 1));
        assert_eq!(key.len(), 32);
        assert_ne!(key, idempotency_key(record, "notify", 2));
        assert_ne!(key, idempotency_key(record, "other", 1));
        assert_ne!(key, idempotency_key(uuid::Uuid::new_v4(), "notify", 1));
    }
}
