//! `ADD <url>`: the file is downloaded over HTTP(S) into a temp dir of the
//! store, streamed to disk and hashed on the way, as BuildKit's HTTP source
//! does: saved under the URL path's base name (`__unnamed__` when there is
//! none), mtime from `Last-Modified` (the epoch without one), checked against
//! `--checksum` when given. The sha256 of the content goes into the step's
//! cache key, so every build downloads again and a changed remote file
//! rebuilds the step (BuildKit revalidates too).

use crate::solver::BuildError;
use crate::store::{Store, TempDir};
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The name BuildKit gives a download whose URL path has no base name.
const UNNAMED: &str = "__unnamed__";

/// Whether an ADD source is a URL rather than a context path.
/// A git source as BuildKit recognises one: `git@`, `git://`, an `https://`
/// URL ending in `.git` (with an optional `#ref[:subdir]`).
pub fn is_git(source: &str) -> bool {
    let without_fragment = source.split('#').next().unwrap_or(source);
    source.starts_with("git@")
        || source.starts_with("git://")
        || (is_url(source) && without_fragment.ends_with(".git"))
}

pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// A `--checksum` value: `sha256:` and 64 lowercase hex digits, as BuildKit
/// (go-digest) accepts for HTTP sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum(String);

impl Checksum {
    pub fn parse(text: &str) -> Result<Checksum, BuildError> {
        let invalid =
            |why: &str| BuildError::Invalid(format!("invalid --checksum {text:?}: {why}"));
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(invalid("expected <algorithm>:<hex digest>, e.g. sha256:…"));
        };
        if algorithm != "sha256" {
            return Err(invalid(&format!(
                "unsupported digest algorithm {algorithm:?} (only sha256 is supported)"
            )));
        }
        if hex.len() != 64 || !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid(
                "a sha256 digest is 64 lowercase hexadecimal digits",
            ));
        }
        Ok(Checksum(text.to_string()))
    }
}

/// A downloaded file, kept in a temp dir until the layer is written.
#[derive(Debug)]
pub struct Download {
    /// The file's name when the destination is a directory.
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// Seconds since the epoch, from `Last-Modified`.
    pub mtime: i64,
}

/// Downloads `url` into a new temp dir of the store (returned with it; the
/// file lives as long as the guard) and checks it against `checksum`.
pub fn download(
    store: &Store,
    url: &str,
    checksum: Option<&Checksum>,
) -> Result<(Download, TempDir), BuildError> {
    let failed = |why: String| BuildError::Invalid(format!("failed to download {url}: {why}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .user_agent(format!("rbuild/{}", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let mtime = response
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or(0);
    let temp = store.temp_dir()?;
    let path = temp.path().join("download");
    let file = std::fs::File::create(&path).map_err(BuildError::io(&path))?;
    let mut out = std::io::BufWriter::new(file);
    let mut body = response.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(e.to_string())),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(BuildError::io(&path))?;
        size += n as u64;
    }
    out.flush().map_err(BuildError::io(&path))?;
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(Checksum(expected)) = checksum {
        if *expected != digest {
            return Err(BuildError::Invalid(format!(
                "checksum mismatch for {url}: --checksum is {expected}, the downloaded content is {digest}"
            )));
        }
    }
    let download = Download {
        name: base_name(url),
        path,
        size,
        digest,
        mtime,
    };
    Ok((download, temp))
}

/// The base name of the URL's (percent-decoded) path, as Go's `path.Base`
/// gives it, or `__unnamed__` when there is none.
fn base_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let decoded = percent_decode(path);
    match decoded.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." && name != ".." => name.to_string(),
        _ => UNNAMED.to_string(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses an HTTP date in any of the three forms HTTP allows (IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37
/// GMT`, asctime `Sun Nov  6 08:49:37 1994`) to seconds since the epoch.
fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut numbers = Vec::new();
    let (mut month, mut clock) = (None, None);
    for token in text.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        if token.contains(':') {
            clock = Some(token);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            numbers.push((token.len(), token.parse::<i64>().ok()?));
        } else if let Some(m) = MONTHS.iter().position(|m| token.eq_ignore_ascii_case(m)) {
            month = Some(m as i64 + 1);
        }
    }
    let [(_, day), (year_digits, year)] = numbers[..] else {
        return None;
    };
    let year = match (year_digits, year) {
        (2, y) if y >= 69 => 1900 + y,
        (2, y) => 2000 + y,
        (_, y) => y,
    };
    let mut hms = clock?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month?, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// (year, month, day), proleptic Gregorian → days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_follow_buildkit() {
        assert_eq!(
            base_name("https://example.com/a/b/foo.tar.gz"),
            "foo.tar.gz"
        );
        assert_eq!(base_name("https://example.com/a/dir/"), "dir");
        assert_eq!(base_name("https://example.com/x?y=/z#w"), "x");
        assert_eq!(base_name("https://example.com/my%20file"), "my file");
        assert_eq!(base_name("https://example.com/"), UNNAMED);
        assert_eq!(base_name("https://example.com"), UNNAMED);
        assert_eq!(base_name("https://example.com/?q=1"), UNNAMED);
        assert_eq!(base_name("http://example.com/a/.."), UNNAMED);
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let t = 784_111_777; // 1994-11-06T08:49:37Z
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(
            parse_http_date("Wed, 29 Feb 2040 23:59:59 GMT"),
            Some(2_214_172_799)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }

    #[test]
    fn checksums_are_sha256_hex() {
        let hex = "a".repeat(64);
        assert!(Checksum::parse(&format!("sha256:{hex}")).is_ok());
        for bad in [
            format!("md5:{}", "a".repeat(32)),
            format!("unknown:{hex}"),
            "sha256:abc".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            hex.clone(),
        ] {
            assert!(Checksum::parse(&bad).is_err(), "{bad} accepted");
        }
    }
}
