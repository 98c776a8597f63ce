//! TLS for `https://` checks (rustls with the aws-lc-rs provider): the client
//! configuration a probe's `verify` and `ca_file` ask for, the server name
//! its `host` gives, and the words an operator reads when a handshake
//! fails.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::HttpProbe;

/// A `ca_file` is read up to this size (a bundle of a few hundred CAs).
const CA_FILE_LIMIT: u64 = 1 << 20;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The system's CA certificates (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else
/// the distribution's bundle), loaded once: a changed bundle is read at
/// the next start of tandemd.
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "the system has no CA certificates (install ca-certificates), so no \
                     certificate can be verified: give the server's CA in ca_file, or \
                     set verify = false"
                        .into(),
                );
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// The CA certificates in a PEM file.
fn file_roots(path: &Path) -> Result<RootCertStore, String> {
    let bytes = crate::file::read_limited(path, CA_FILE_LIMIT)
        .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| format!("ca_file {}: not PEM: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("ca_file {}: a certificate it holds: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(roots)
}

/// The client configuration for `p`: its `ca_file`'s CAs (read at every
/// run, so a renewed CA needs no reload), the system's, or with
/// `verify = false` none at all.
pub(super) fn client_config(p: &HttpProbe) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = if !p.verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let roots = match &p.ca_file {
            Some(path) => Arc::new(file_roots(path)?),
            None => system_roots()?,
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name the certificate must hold: `host` without its port (an IP
/// address literal is checked against the certificate's IP addresses).
pub(super) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split_once(']').map_or(v6, |(h, _)| h)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if !h.contains(':') && port.parse::<u16>().is_ok() => h,
            _ => host,
        }
    };
    ServerName::try_from(name.to_string()).map_err(|_| {
        format!("{name:?} is not a server name TLS can check: set host to the certificate's name")
    })
}

/// What a failed handshake means, for the check's detail.
pub(super) fn explain(e: &rustls::Error, host: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "the server's certificate is not trusted \
                (unknown issuer): give its CA in ca_file, or set verify = false"
                .into(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate is not valid for {host}: set host to a name it holds"
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check this unit's clock)".into()
            }
            other => format!("the server's certificate is refused: {other}"),
        },
        other => format!("TLS: {other}"),
    }
}

/// `verify = false`: any certificate is accepted, but the handshake's
/// signatures are still checked (the server must hold the key of the
/// certificate it shows).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_drop_the_port() {
        let n = |h: &str| server_name(h).map(|n| n.to_str().into_owned());
        assert_eq!(n("lb.example.net:8443").unwrap(), "lb.example.net");
        assert_eq!(n("lb.example.net").unwrap(), "lb.example.net");
        assert_eq!(n("192.0.2.10:443").unwrap(), "192.0.2.10");
        assert_eq!(n("[fd00::10]:443").unwrap(), "fd00::10");
        assert_eq!(n("fd00::10").unwrap(), "fd00::10");
        assert!(server_name("bad name!").is_err());
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("tandem-tls-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("ca.pem");
        std::fs::write(&f, "not a certificate\n").unwrap();
        let e = file_roots(&f).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = file_roots(&dir.join("missing.pem")).unwrap_err();
        assert!(e.starts_with("ca_file "), "{e}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        std::fs::write(&f, ca.cert.pem()).unwrap();
        assert_eq!(file_roots(&f).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
