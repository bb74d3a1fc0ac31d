//! Reversible encoding of arbitrary keys (image references, cache keys) into
//! single, safe file names. A reference string is never used as a path: it
//! may contain `/`, `..`, `:` or NUL.
//!
//! Bytes in `[A-Za-z0-9_.-]` stay as they are, except a leading `.` (so no
//! name is `.`, `..` or hidden); every other byte becomes `%XX` (uppercase
//! hex). The empty key is written `%`, which no other key encodes to.

use super::error::StoreError;

/// File names are limited to 255 bytes on common Linux filesystems.
pub const MAX_NAME: usize = 255;

/// Encode `key` into a file name. Infallible; see [`check_len`] for length.
pub fn encode(key: &str) -> String {
    if key.is_empty() {
        return "%".to_string();
    }
    let mut out = String::with_capacity(key.len());
    for (i, b) in key.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode a file name made by [`encode`]; `None` if it is not one.
pub fn decode(name: &str) -> Option<String> {
    if name == "%" {
        return Some(String::new());
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    // Only canonical encodings count: this rejects stray files like `a%2f`.
    (encode(&decoded) == name).then_some(decoded)
}

/// Encode `key` and fail if the result cannot be a file name.
pub fn encode_checked(kind: &'static str, key: &str) -> Result<String, StoreError> {
    let name = encode(key);
    if name.len() > MAX_NAME {
        return Err(StoreError::NameTooLong {
            kind,
            name: key.to_string(),
            len: name.len(),
            max: MAX_NAME,
        });
    }
    Ok(name)
}

/// A record namespace is a plain directory name chosen by rbuild's code.
pub fn valid_namespace(namespace: &str) -> Result<(), StoreError> {
    let ok = !namespace.is_empty()
        && namespace.len() <= 64
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidNamespace {
            namespace: namespace.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_safe() {
        for key in [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "alpine:3.19",
            "registry.example.com:5000/team/app@sha256:abc",
            "a%b",
            "ünïcode",
            ".hidden",
            "a\0b",
        ] {
            let name = encode(key);
            assert!(!name.is_empty() && !name.contains('/') && !name.contains('\0'));
            assert!(name != "." && name != ".." && !name.starts_with('.'));
            assert_eq!(decode(&name).as_deref(), Some(key), "{name}");
        }
        assert_eq!(encode("alpine:3.19"), "alpine%3A3.19");
    }

    #[test]
    fn rejects_non_canonical_names() {
        assert_eq!(decode("a%2f"), None);
        assert_eq!(decode("a:b"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
    }

    #[test]
    fn namespaces() {
        assert!(valid_namespace("cache").is_ok());
        assert!(valid_namespace("layer-index_2").is_ok());
        for bad in ["", "..", "a/b", "Cache", "a b"] {
            assert!(valid_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_keys_are_rejected() {
        assert!(encode_checked("tag", &"a".repeat(255)).is_ok());
        assert!(matches!(
            encode_checked("tag", &"/".repeat(100)),
            Err(StoreError::NameTooLong { len: 300, .. })
        ));
    }
}
