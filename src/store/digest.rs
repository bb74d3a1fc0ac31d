//! `Digest`: a sha256 content address, written `sha256:<64 lowercase hex>`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::error::DigestParseError;

/// A sha256 digest. Only sha256 is supported: it is what OCI images use in
/// practice, and a single algorithm keeps the blob layout (`blobs/sha256/`)
/// and the comparison of digests trivial.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    bytes: [u8; 32],
}

impl Digest {
    pub const ALGORITHM: &'static str = "sha256";

    /// The digest of `content`.
    pub fn of(content: &[u8]) -> Digest {
        Digest::from_bytes(Sha256::digest(content).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest { bytes }
    }

    /// Parse the bare 64-character lowercase hex part.
    pub fn from_hex(text: &str) -> Result<Digest, DigestParseError> {
        let bad = |reason: &str| DigestParseError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        if text.len() != 64 {
            return Err(bad(&format!(
                "expected 64 hex characters, found {}",
                text.len()
            )));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("expected only lowercase hex characters (0-9, a-f)"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| bad(&e.to_string()))?;
        Ok(Digest { bytes })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The 64-character lowercase hex form, without the algorithm.
    pub fn hex(&self) -> String {
        hex::encode(self.bytes)
    }

    pub fn algorithm(&self) -> &'static str {
        Self::ALGORITHM
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(text: &str) -> Result<Digest, DigestParseError> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(DigestParseError {
                text: text.to_string(),
                reason: "expected <algorithm>:<hex>, e.g. sha256:<64 hex characters>".into(),
            });
        };
        if algorithm != Self::ALGORITHM {
            return Err(DigestParseError {
                text: text.to_string(),
                reason: format!("unsupported algorithm {algorithm:?}, only sha256 is supported"),
            });
        }
        Digest::from_hex(hex).map_err(|e| DigestParseError {
            text: text.to_string(),
            reason: e.reason,
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental sha256, used by writers that hash while they write.
#[derive(Default, Clone)]
pub struct Hasher {
    inner: Sha256,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    pub fn finish(self) -> Digest {
        Digest::from_bytes(self.inner.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_content_digest() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_display_round_trip() {
        let d = Digest::of(b"hello");
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert_eq!(Digest::from_hex(&d.hex()).unwrap(), d);
    }

    #[test]
    fn serde_is_a_string() {
        let d = Digest::of(b"x");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }

    #[test]
    fn parse_errors_name_the_text() {
        let err = "md5:abc".parse::<Digest>().unwrap_err();
        assert_eq!(err.text, "md5:abc");
        assert!(err.to_string().contains("md5:abc"), "{err}");
        assert!("abc".parse::<Digest>().is_err());
    }
}
