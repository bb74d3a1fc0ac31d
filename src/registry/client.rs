//! The distribution API's transport: one `ureq` agent per registry host
//! (its TLS roots: the system's, `--tls-ca` files, and the host's directory
//! in `/etc/containers/certs.d` or `/etc/docker/certs.d`), the scheme chosen
//! once per host (HTTPS, or plain HTTP for loopback and `--insecure-registry`
//! hosts that do not speak TLS), and authentication on a 401: a bearer token
//! fetched from the challenge's realm (cached per host and scope) or basic
//! auth. Transient failures (5xx, 429, broken connections) are retried with
//! jittered exponential backoff.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{Request as HttpRequest, Response};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, Body as HttpBody};

use super::auth::{self, Challenge, Credential};
use super::error::{io_at, RegistryError};

/// How rbuild reaches registries (from the command line).
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `--insecure-registry HOST`: plain HTTP allowed (after HTTPS fails).
    pub insecure: Vec<String>,
    /// `--tls-ca FILE`: extra trusted CA certificates (PEM).
    pub ca_files: Vec<PathBuf>,
    /// Where credentials come from; `None` reads docker's and podman's files.
    pub credential: Option<Credential>,
    /// `--registry-mirror`: hosts tried, in order, before Docker Hub.
    pub mirrors: Vec<String>,
}

impl RegistryConfig {
    /// Adds `--registry-mirror URL`: an `http://` mirror may use plain HTTP.
    pub fn add_mirror(&mut self, url: &str) {
        let (plain, rest) = match url.strip_prefix("http://") {
            Some(rest) => (true, rest),
            None => (false, url.strip_prefix("https://").unwrap_or(url)),
        };
        let host = rest.trim_end_matches('/').to_string();
        if plain && !self.insecure.contains(&host) {
            self.insecure.push(host.clone());
        }
        if !self.mirrors.contains(&host) {
            self.mirrors.push(host);
        }
    }
}

/// A request body that can be sent again after an authentication retry.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// A whole file, sent with its length.
    File(PathBuf),
    /// `len` bytes of a file from `offset` (a chunk of an upload).
    FileRange {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One request to a repository of a registry.
pub struct Request<'a> {
    pub method: &'static str,
    pub registry: &'a str,
    pub repository: &'a str,
    /// A path below `https://HOST` (`/v2/...`) or an absolute URL (upload
    /// locations).
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// Token scopes this request needs (`repository:a/b:pull`).
    pub scopes: Vec<String>,
    /// For messages: `manifest latest`, `blob sha256:...`.
    pub what: String,
}

struct Endpoint {
    agent: Agent,
    base: String,
}

/// What pull, push and the remote cache need from a registry: requests sent
/// with authentication and retries, and the mirrors to try. [`Client`] is
/// the real one; the transfers take this trait so a test can stand in a fake.
pub trait Registry: Sync {
    fn send(&self, req: &Request) -> Result<Response<HttpBody>, RegistryError>;
    fn mirrors(&self) -> &[String];
}

impl Registry for Client {
    fn send(&self, req: &Request) -> Result<Response<HttpBody>, RegistryError> {
        Client::send(self, req)
    }

    fn mirrors(&self) -> &[String] {
        Client::mirrors(self)
    }
}

pub struct Client {
    config: RegistryConfig,
    endpoints: Mutex<HashMap<String, std::sync::Arc<Endpoint>>>,
    /// `Authorization` header values by (host, scopes).
    tokens: Mutex<HashMap<(String, String), String>>,
    /// Hosts that asked for basic auth.
    basic_hosts: Mutex<Vec<String>>,
    credentials: Mutex<HashMap<String, Option<Credential>>>,
}

const ATTEMPTS: u32 = 5;
const USER_AGENT: &str = concat!("rbuild/", env!("CARGO_PKG_VERSION"));
const SYSTEM_CA_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Loopback hosts may speak plain HTTP, as docker allows.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']') => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn pem_certificates(path: &Path) -> Result<Vec<Certificate<'static>>, RegistryError> {
    let bytes = std::fs::read(path).map_err(io_at(path))?;
    Ok(ureq::tls::parse_pem(&bytes)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect())
}

fn host_ca_files(host: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["/etc/containers/certs.d", "/etc/docker/certs.d"] {
        let Ok(entries) = std::fs::read_dir(Path::new(dir).join(host)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "crt") {
                files.push(path);
            }
        }
    }
    files
}

impl Client {
    pub fn new(config: RegistryConfig) -> Client {
        Client {
            config,
            endpoints: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            basic_hosts: Mutex::new(Vec::new()),
            credentials: Mutex::new(HashMap::new()),
        }
    }

    pub fn mirrors(&self) -> &[String] {
        &self.config.mirrors
    }

    fn agent_for(&self, host: &str) -> Result<Agent, RegistryError> {
        let mut extra = self.config.ca_files.clone();
        extra.extend(host_ca_files(host));
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(120)));
        if !extra.is_empty() {
            let mut certs = Vec::new();
            for bundle in SYSTEM_CA_BUNDLES {
                if Path::new(bundle).exists() {
                    certs.extend(pem_certificates(Path::new(bundle))?);
                    break;
                }
            }
            for file in &extra {
                certs.extend(pem_certificates(file)?);
            }
            let tls = TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&certs))
                .build();
            builder = builder.tls_config(tls);
        } else if let Some(bundle) = SYSTEM_CA_BUNDLES.iter().find(|b| Path::new(b).exists()) {
            let certs = pem_certificates(Path::new(bundle))?;
            let tls = TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&certs))
                .build();
            builder = builder.tls_config(tls);
        }
        Ok(builder.build().new_agent())
    }

    /// The agent and base URL for `host`: HTTPS, or HTTP for a loopback or
    /// insecure host whose HTTPS does not answer.
    fn endpoint(&self, host: &str) -> Result<std::sync::Arc<Endpoint>, RegistryError> {
        if let Some(e) = self.endpoints.lock().expect("endpoints").get(host) {
            return Ok(e.clone());
        }
        let agent = self.agent_for(host)?;
        let may_be_plain = is_loopback(host) || self.config.insecure.iter().any(|h| h == host);
        let https = format!("https://{host}");
        let base = if may_be_plain {
            // Plain HTTP only when the host speaks no TLS at all: a
            // certificate it presents must still be trusted.
            match agent.get(format!("{https}/v2/")).call() {
                Ok(_) => https,
                Err(ureq::Error::Rustls(rustls::Error::InvalidCertificate(_))) => https,
                Err(_) => format!("http://{host}"),
            }
        } else {
            https
        };
        let endpoint = std::sync::Arc::new(Endpoint { agent, base });
        self.endpoints
            .lock()
            .expect("endpoints")
            .insert(host.to_string(), endpoint.clone());
        Ok(endpoint)
    }

    fn credential(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        if let Some(c) = &self.config.credential {
            return Ok(Some(c.clone()));
        }
        let mut cache = self.credentials.lock().expect("credentials");
        if let Some(c) = cache.get(registry) {
            return Ok(c.clone());
        }
        let found = auth::lookup(registry)?;
        cache.insert(registry.to_string(), found.clone());
        Ok(found)
    }

    /// Sends `req`, authenticating and retrying as needed; any status but
    /// 401 is returned for the caller to judge.
    pub fn send(&self, req: &Request) -> Result<Response<HttpBody>, RegistryError> {
        let mut attempt = 0;
        loop {
            match self.send_once(req) {
                Err(e) if e.is_transient() && attempt + 1 < ATTEMPTS => {}
                Ok(r) if is_retryable_status(r.status().as_u16()) && attempt + 1 < ATTEMPTS => {}
                other => return other,
            }
            attempt += 1;
            std::thread::sleep(backoff(attempt));
        }
    }

    fn send_once(&self, req: &Request) -> Result<Response<HttpBody>, RegistryError> {
        let host = api_host(req.registry);
        let endpoint = self.endpoint(&host)?;
        let scope_key = (host.clone(), req.scopes.join(" "));
        let cached = self.tokens.lock().expect("tokens").get(&scope_key).cloned();
        let authorization = match cached {
            Some(a) => Some(a),
            None if self.basic_hosts.lock().expect("basic").contains(&host) => self
                .credential(req.registry)?
                .and_then(|c| c.basic_header()),
            None => None,
        };
        let response = self.raw(&endpoint, req, authorization.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge);
        let credential = self.credential(req.registry)?;
        let unauthorized = || RegistryError::Unauthorized {
            registry: req.registry.to_string(),
            repository: req.repository.to_string(),
            had_credentials: credential.is_some(),
        };
        let header = match challenge {
            Some(Challenge::Basic) => {
                self.basic_hosts.lock().expect("basic").push(host.clone());
                credential
                    .as_ref()
                    .and_then(|c| c.basic_header())
                    .ok_or_else(unauthorized)?
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token =
                    self.fetch_token(req, &endpoint, &realm, service.as_deref(), &credential)?;
                format!("Bearer {token}")
            }
            None => return Err(unauthorized()),
        };
        if authorization.as_deref() == Some(header.as_str()) {
            return Err(unauthorized());
        }
        let retried = self.raw(&endpoint, req, Some(&header))?;
        if retried.status().as_u16() == 401 {
            return Err(unauthorized());
        }
        self.tokens
            .lock()
            .expect("tokens")
            .insert(scope_key, header);
        Ok(retried)
    }

    /// Asks the challenge's realm for a token covering the request's scopes.
    fn fetch_token(
        &self,
        req: &Request,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        credential: &Option<Credential>,
    ) -> Result<String, RegistryError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for scope in &req.scopes {
            query.push(("scope", scope));
        }
        let failed = |reason: String| RegistryError::Status {
            registry: req.registry.to_string(),
            repository: req.repository.to_string(),
            what: "token request".into(),
            status: 0,
            detail: Some(reason),
        };
        let response = match credential {
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = query.clone();
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", "rbuild"),
                ]);
                endpoint.agent.post(realm).send_form(form)
            }
            other => {
                let mut request = endpoint.agent.get(realm).query_pairs(query);
                if let Some(basic) = other.as_ref().and_then(|c| c.basic_header()) {
                    request = request.header("Authorization", basic);
                }
                request.call()
            }
        }
        .map_err(|e| failed(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            return Err(RegistryError::Unauthorized {
                registry: req.registry.to_string(),
                repository: req.repository.to_string(),
                had_credentials: credential.is_some(),
            });
        }
        if status != 200 {
            return Err(failed(format!("HTTP {status}")));
        }
        let json: serde_json::Value = serde_json::from_slice(&read_small(response)?)
            .map_err(|e| failed(format!("not JSON: {e}")))?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| failed("no token in the answer".into()))
    }

    fn raw(
        &self,
        endpoint: &Endpoint,
        req: &Request,
        authorization: Option<&str>,
    ) -> Result<Response<HttpBody>, RegistryError> {
        let url = if req.path.starts_with("http://") || req.path.starts_with("https://") {
            req.path.clone()
        } else {
            format!("{}{}", endpoint.base, req.path)
        };
        let mut builder = HttpRequest::builder().method(req.method).uri(&url);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(a) = authorization {
            builder = builder.header("Authorization", a);
        }
        let connect = |e: ureq::Error| RegistryError::Connect {
            registry: req.registry.to_string(),
            reason: e.to_string(),
        };
        let built = |e: ureq::http::Error| RegistryError::Malformed {
            registry: req.registry.to_string(),
            repository: req.repository.to_string(),
            what: req.what.clone(),
            reason: e.to_string(),
        };
        match &req.body {
            Body::Empty => endpoint
                .agent
                .run(builder.body(()).map_err(built)?)
                .map_err(connect),
            Body::Bytes(bytes) => endpoint
                .agent
                .run(builder.body(bytes.as_slice()).map_err(built)?)
                .map_err(connect),
            Body::File(path) => {
                let file = std::fs::File::open(path).map_err(io_at(path))?;
                endpoint
                    .agent
                    .run(builder.body(file).map_err(built)?)
                    .map_err(connect)
            }
            Body::FileRange { path, offset, len } => {
                use std::io::Seek;
                let mut file = std::fs::File::open(path).map_err(io_at(path))?;
                file.seek(std::io::SeekFrom::Start(*offset))
                    .map_err(io_at(path))?;
                let body = ureq::SendBody::from_owned_reader(file.take(*len));
                let builder = builder.header("Content-Length", len.to_string());
                endpoint
                    .agent
                    .run(builder.body(body).map_err(built)?)
                    .map_err(connect)
            }
        }
    }
}

fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status) && status != 501
}

/// 100 ms doubling per attempt, with up to half again of jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    Duration::from_millis(base + nanos % (base / 2 + 1))
}

fn api_host(registry: &str) -> String {
    super::reference::Reference {
        registry: registry.to_string(),
        repository: String::new(),
        tag: None,
        digest: None,
    }
    .api_host()
    .to_string()
}

/// Reads a small response body (JSON documents, error bodies): 8 MiB at most.
pub fn read_small(response: Response<HttpBody>) -> Result<Vec<u8>, RegistryError> {
    let mut out = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(8 << 20)
        .read_to_end(&mut out)
        .map_err(|e| RegistryError::Connect {
            registry: String::new(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

/// Turns a non-success answer into an error naming what was asked.
pub fn check(
    response: Response<HttpBody>,
    req: &Request,
    ok: &[u16],
) -> Result<Response<HttpBody>, RegistryError> {
    let status = response.status().as_u16();
    if ok.contains(&status) {
        return Ok(response);
    }
    let body = read_small(response).unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/errors/0/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        });
    if status == 404 {
        return Err(RegistryError::NotFound {
            registry: req.registry.to_string(),
            repository: req.repository.to_string(),
            what: req.what.clone(),
        });
    }
    Err(RegistryError::Status {
        registry: req.registry.to_string(),
        repository: req.repository.to_string(),
        what: req.what.clone(),
        status,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:80",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1:5000", "localhost.example"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_bounded() {
        for attempt in 1..6 {
            let d = backoff(attempt).as_millis() as u64;
            let base = 100u64 << attempt;
            assert!(d >= base && d <= base + base / 2, "{attempt}: {d}");
        }
    }
}
