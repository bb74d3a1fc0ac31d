//! EXPOSE port specs as BuildKit splits them (`[ip:][hostPort:]port[/proto]`),
//! for ExposeProtoCasing and ExposeInvalidFormat.

/// The parts of one port spec.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct PortSpec<'a> {
    pub ip: &'a str,
    pub host_port: &'a str,
    pub proto: &'a str,
}

impl PortSpec<'_> {
    /// The protocol is written in capitals somewhere (`80/TCP`).
    pub fn proto_not_lowercase(&self) -> bool {
        self.proto != self.proto.to_lowercase()
    }

    /// An IP address or host port: publishing syntax, meaningless in EXPOSE.
    pub fn maps_host(&self) -> bool {
        !self.ip.is_empty() || !self.host_port.is_empty()
    }
}

/// Splits `raw`, or `None` when BuildKit rejects the spec before its checks
/// run (no port, unknown protocol): that is a build error, not a warning.
pub(super) fn split_port(raw: &str) -> Option<PortSpec<'_>> {
    let (ip, host_port, container) = match raw.rsplitn(3, ':').collect::<Vec<_>>()[..] {
        [port] => ("", "", port),
        [port, host] => ("", host, port),
        [port, host, ip] => (ip, host, port),
        _ => return None,
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    let known = matches!(proto.to_lowercase().as_str(), "" | "tcp" | "udp" | "sctp");
    (!port.is_empty() && known).then_some(PortSpec {
        ip,
        host_port,
        proto,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_buildkit() {
        let spec = split_port("127.0.0.1:80:8080/TCP").expect("valid");
        assert_eq!(
            (spec.ip, spec.host_port, spec.proto),
            ("127.0.0.1", "80", "TCP")
        );
        assert!(spec.proto_not_lowercase() && spec.maps_host());
        let ipv6 = split_port("[::1]:80:80").expect("valid");
        assert_eq!(ipv6.ip, "[::1]");
        let plain = split_port("8080").expect("valid");
        assert!(!plain.proto_not_lowercase() && !plain.maps_host());
        assert_eq!(split_port("80/http"), None);
        assert_eq!(split_port("/tcp"), None);
    }
}
