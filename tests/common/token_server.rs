//! A bearer-token server for `docker-registry`'s `auth: token` mode: it
//! answers `GET /token?service=..&scope=..` with a JWT signed (RS256, by the
//! `openssl` command) with a key whose self-signed certificate the registry
//! trusts, granting the scopes asked for to a client that sent the right
//! basic credentials. It records every scope list it was asked for.
#![allow(dead_code)]

use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

pub const SERVICE: &str = "rbuild-test-registry";
pub const ISSUER: &str = "rbuild-test-issuer";

pub struct TokenServer {
    pub port: u16,
    pub cert: PathBuf,
    /// The `scope` parameters of each token request.
    pub requests: Arc<Mutex<Vec<Vec<String>>>>,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unescape(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JWT for `scopes` (`repository:NAME:ACTIONS`), signed with `key`.
fn token(dir: &Path, key: &Path, cert_der_b64: &str, scopes: &[String]) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64]});
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({
                "type": kind, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "tester", "aud": SERVICE, "exp": now + 600,
        "nbf": now - 60, "iat": now, "jti": format!("{now}-{}", scopes.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let input = dir.join(format!("jwt-input-{now}-{}", rand_suffix()));
    std::fs::write(&input, &signing_input).expect("input");
    let signature = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&input));
    let _ = std::fs::remove_file(&input);
    format!("{signing_input}.{}", b64url(&signature))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64)
}

impl TokenServer {
    /// Starts serving in a thread; `basic` is the expected Authorization value.
    pub fn start(dir: &Path, basic: &str) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.pem");
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", "/CN=rbuild token signer"]));
        let der = run(Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert));
        let der_b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, dir, basic) = (requests.clone(), dir.to_path_buf(), basic.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut authorized = false;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") && value.trim() == basic {
                            authorized = true;
                        }
                    }
                }
                let query = line.split_whitespace().nth(1).unwrap_or("");
                let scopes: Vec<String> = query
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or("")
                    .split('&')
                    .filter_map(|p| p.strip_prefix("scope="))
                    .map(unescape)
                    .collect();
                seen.lock().expect("seen").push(scopes.clone());
                let mut out = stream;
                let response = if authorized {
                    let body = serde_json::json!({"token": token(&dir, &key, &der_b64, &scopes)})
                        .to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = out.write_all(response.as_bytes());
            }
        });
        TokenServer {
            port,
            cert,
            requests,
        }
    }
}
