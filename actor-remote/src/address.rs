//! Where a node listens: TCP, a Unix domain socket for processes on one
//! machine, or a name on a NATS server (feature `nats`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::NodeError;

/// A node's address: `tcp://127.0.0.1:4000`, `unix:/tmp/node.sock`, or
/// `nats://127.0.0.1:4222/node-a` (the node named `node-a` on that NATS
/// server; dialing and listening on it need the `nats` feature).
///
/// A NATS node name becomes a token of NATS subjects, so it may only hold
/// ASCII letters, digits, `-` and `_` (1 to 64 of them). Credentials never
/// go in the address (it is logged and sent to peers): give them to
/// `NodeBuilder::nats`.
///
/// # Examples
///
/// ```
/// use actor_remote::Address;
///
/// let tcp: Address = "tcp://127.0.0.1:0".parse().unwrap();
/// assert_eq!(tcp.to_string(), "tcp://127.0.0.1:0");
/// let unix: Address = "unix:/tmp/a.sock".parse().unwrap();
/// assert!(matches!(unix, Address::Unix(_)));
/// let nats: Address = "nats://127.0.0.1:4222/node-a".parse().unwrap();
/// assert_eq!(nats, Address::Nats { server: "nats://127.0.0.1:4222".into(), node: "node-a".into() });
/// assert_eq!(nats.to_string(), "nats://127.0.0.1:4222/node-a");
/// assert!("nats://127.0.0.1:4222/a.b".parse::<Address>().is_err(), "a dot would split the subject");
/// assert!("nats://user:pw@127.0.0.1:4222/a".parse::<Address>().is_err(), "no credentials in addresses");
/// assert!("ftp://x".parse::<Address>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A node of a simulated network (`sim:<network>/<node>`): see
    /// `testkit::SimNet` (feature `test-util`). For tests only.
    #[doc(hidden)]
    Sim(String),
    /// A node reached through a NATS server.
    Nats {
        /// The server's URL, `nats://host:port`.
        server: String,
        /// The node's name on it.
        node: String,
    },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "tcp://{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Sim(node) => write!(f, "sim:{node}"),
            Address::Nats { server, node } => write!(f, "{server}/{node}"),
        }
    }
}

/// Whether `token` may be one token of a NATS subject (a node name, a
/// group name, a prefix): ASCII letters, digits, `-` and `_`, 1 to 64.
pub(crate) fn is_subject_token(token: &str) -> bool {
    (1..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_nats(s: &str, rest: &str) -> Result<Address, NodeError> {
    let bad = || NodeError::Address(s.to_owned());
    let (host, node) = rest.split_once('/').ok_or_else(bad)?;
    if host.is_empty() || host.contains('@') || !is_subject_token(node) {
        return Err(bad());
    }
    let port_ok = match host.rsplit_once(':') {
        Some((name, port)) => !name.is_empty() && port.parse::<u16>().is_ok(),
        None => !host.contains(['/', ' ']),
    };
    if !port_ok {
        return Err(bad());
    }
    Ok(Address::Nats { server: format!("nats://{host}"), node: node.to_owned() })
}

impl FromStr for Address {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<Self, NodeError> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            rest.parse().map(Address::Tcp).map_err(|_| NodeError::Address(s.to_owned()))
        } else if let Some(rest) = s.strip_prefix("unix:") {
            if rest.is_empty() {
                return Err(NodeError::Address(s.to_owned()));
            }
            Ok(Address::Unix(PathBuf::from(rest)))
        } else if let Some(rest) = s.strip_prefix("sim:")
            && !rest.is_empty()
        {
            Ok(Address::Sim(rest.to_owned()))
        } else if let Some(rest) = s.strip_prefix("nats://") {
            parse_nats(s, rest)
        } else {
            Err(NodeError::Address(s.to_owned()))
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tcp(addr)
    }
}
