//! Mutual TLS (feature `tls`): every connection is encrypted, and each side
//! proves its identity with a certificate signed by the cluster's CA.
//!
//! TLS runs first, on the raw TCP or Unix stream; the node handshake
//! (version, identity, shared secret) then runs inside it, so a peer needs
//! both a valid certificate and the secret. The crypto provider is ring,
//! chosen explicitly (never the process default), so that another rustls
//! user in the same program cannot make the setup ambiguous.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::connection::BoxStream;

/// The TLS settings of a node: its certificate and key, the CA that signs
/// every node's certificate, and the name all node certificates carry.
///
/// # Examples
///
/// ```
/// # fn pems() -> (String, String, String) {
/// #     let ca_key = rcgen::KeyPair::generate().unwrap();
/// #     let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
/// #     ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// #     let ca = ca.self_signed(&ca_key).unwrap();
/// #     let key = rcgen::KeyPair::generate().unwrap();
/// #     let cert = rcgen::CertificateParams::new(vec!["cluster.local".to_owned()]).unwrap()
/// #         .signed_by(&key, &ca, &ca_key).unwrap();
/// #     (cert.pem(), key.serialize_pem(), ca.pem())
/// # }
/// use actor_remote::TlsConfig;
///
/// let (cert_pem, key_pem, ca_pem) = pems();
/// let tls = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), ca_pem.as_bytes(), "cluster.local");
/// assert!(tls.is_ok());
/// assert!(TlsConfig::from_pem(b"not a pem", key_pem.as_bytes(), ca_pem.as_bytes(), "cluster.local").is_err());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    server: tokio_rustls::TlsAcceptor,
    client: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// Why a [`TlsConfig`] could not be built.
///
/// # Examples
///
/// ```
/// use actor_remote::TlsConfig;
///
/// let err = TlsConfig::from_pem(b"", b"", b"", "nodes.cluster").unwrap_err();
/// assert!(err.to_string().starts_with("TLS configuration"), "{err}");
/// assert!(err.to_string().contains("certificate chain"), "it says what was wrong: {err}");
/// ```
#[derive(Debug)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS configuration: {}", self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Builds the settings from PEM: this node's certificate chain and
    /// private key, the CA certificate(s) that sign node certificates, and
    /// `server_name`, the DNS name every node certificate carries (one name
    /// for the cluster, since nodes are found by address, not by name).
    ///
    /// # Errors
    ///
    /// [`TlsError`] when a PEM does not parse or rustls refuses the
    /// certificates or key.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::TlsConfig;
    /// # use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    /// # let ca_key = KeyPair::generate().unwrap();
    /// # let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    /// # ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    /// # let ca = ca.self_signed(&ca_key).unwrap();
    /// # let key = KeyPair::generate().unwrap();
    /// # let cert = CertificateParams::new(vec!["nodes.cluster".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    /// // A node certificate and key, and the CA that signed it, all in PEM.
    /// let (cert_pem, key_pem, ca_pem) = (cert.pem(), key.serialize_pem(), ca.pem());
    ///
    /// let tls = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), ca_pem.as_bytes(), "nodes.cluster");
    /// assert!(tls.is_ok());
    ///
    /// // Without a CA certificate, or with a name that is not a DNS name: refused.
    /// let err = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), b"", "nodes.cluster").unwrap_err();
    /// assert!(err.to_string().contains("CA certificate"), "{err}");
    /// let err = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), ca_pem.as_bytes(), "not a name").unwrap_err();
    /// assert!(err.to_string().contains("server name"), "{err}");
    /// ```
    pub fn from_pem(cert_chain: &[u8], key: &[u8], ca: &[u8], server_name: &str) -> Result<Self, TlsError> {
        let err = |what: &str, e: &dyn fmt::Display| TlsError(format!("{what}: {e}"));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<_, _>>()
            .map_err(|e| err("certificate chain", &e))?;
        if certs.is_empty() {
            return Err(TlsError("certificate chain: no certificate in the PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| err("private key", &e))?;
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(ca) {
            roots.add(ca.map_err(|e| err("CA certificate", &e))?).map_err(|e| err("CA certificate", &e))?;
        }
        if roots.is_empty() {
            return Err(TlsError("CA certificate: no certificate in the PEM".into()));
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| err("client verifier", &e))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("protocol versions", &e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| err("server certificate", &e))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("protocol versions", &e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| err("client certificate", &e))?;
        let server_name = ServerName::try_from(server_name.to_owned()).map_err(|e| err("server name", &e))?;
        Ok(TlsConfig {
            server: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            client: tokio_rustls::TlsConnector::from(Arc::new(client)),
            server_name,
        })
    }

    /// Runs the client side of TLS on a dialed stream.
    pub(crate) async fn connect(&self, stream: BoxStream) -> std::io::Result<BoxStream> {
        Ok(Box::pin(self.client.connect(self.server_name.clone(), stream).await?))
    }

    /// Runs the server side of TLS on an accepted stream.
    pub(crate) async fn accept(&self, stream: BoxStream) -> std::io::Result<BoxStream> {
        Ok(Box::pin(self.server.accept(stream).await?))
    }
}
