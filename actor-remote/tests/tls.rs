//! Mutual TLS under the node handshake: nodes with certificates from the
//! cluster's CA talk; a node with a foreign certificate, or none, is refused.
#![cfg(feature = "tls")]

use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{HandshakeError, Node, NodeError, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

const NAME: &str = "nodes.cluster.test";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    Ca { cert: params.self_signed(&key).unwrap(), key }
}

/// A node certificate signed by `ca`, as TLS settings.
fn tls(ca: &Ca) -> TlsConfig {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![NAME.to_owned()]).unwrap().signed_by(&key, &ca.cert, &ca.key).unwrap();
    TlsConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), ca.cert.pem().as_bytes(), NAME).unwrap()
}

struct Echoer;

#[actor]
impl Echoer {
    #[message(remote)]
    fn echo(&mut self, text: String) -> String {
        text
    }
}

async fn node(name: &str, tls: Option<TlsConfig>) -> Node {
    let builder = Node::builder(ActorSystem::new()).name(name).secret("cookie");
    let builder = match tls {
        Some(tls) => builder.tls(tls),
        None => builder,
    };
    builder.start().await.unwrap()
}

#[tokio::test]
async fn nodes_with_certificates_from_the_cluster_ca_talk_over_tls() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let ca = ca();
        let a = node("a", Some(tls(&ca))).await;
        let b = node("b", Some(tls(&ca))).await;
        let echo = a.system().spawn(Echoer);
        a.register("echo", &echo).unwrap();
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let remote: ActorRef<Echoer> = b.lookup(&peer, "echo").await.unwrap();
        assert_eq!(remote.echo("over tls".into()).await.unwrap(), "over tls");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_none_is_refused() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let ca = ca();
        let a = node("a", Some(tls(&ca))).await;

        let stranger = node("stranger", Some(tls(&self::ca()))).await;
        let err = stranger.connect(&a.address().to_string()).await.unwrap_err();
        assert!(matches!(err, NodeError::Handshake(HandshakeError::Tls(_))), "{err:?}");

        let plain = node("plain", None).await;
        let err = plain.connect(&a.address().to_string()).await.unwrap_err();
        assert!(matches!(err, NodeError::Handshake(_)), "{err:?}");
        assert!(a.peers().is_empty(), "neither became a peer");
    })
    .await
    .unwrap();
}
