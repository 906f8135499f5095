//! SSL certificates uploaded for an environment's public site: PEM files parsed with
//! `x509-parser`, the private key checked against the certificate's public key, the chain
//! checked link by link (issuer names and signatures), every certificate's dates checked, and
//! the API's `ssl_certificate` object built from the real certificate.
//!
//! Private keys are read with RustCrypto's `rsa`, `p256` and `p384` (PKCS#8, PKCS#1, SEC1),
//! which derive the public key to compare; nothing here logs a key.

use chrono::{DateTime, Utc};
use flowline_core::Error;
use serde_json::{Value, json};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

/// The largest PEM file accepted, per part.
pub const MAX_PEM_BYTES: usize = 64 * 1024;
/// Certificates in a chain, leaf included.
const MAX_CHAIN: usize = 10;

/// The files of `POST /v1/environment/:id`, as received.
#[derive(Debug, Default)]
pub struct CertificateUpload {
    pub pem_file: Option<Vec<u8>>,
    pub private_key_file: Option<Vec<u8>>,
    pub certificate_file: Option<Vec<u8>>,
    pub chain_files: Vec<Vec<u8>>,
}

/// A checked certificate, ready to store.
#[derive(Debug, Clone)]
pub struct InstalledCertificate {
    /// The certificates, leaf first, as PEM.
    pub chain_pem: String,
    /// The private key, as PEM.
    pub key_pem: String,
    /// The `ssl_certificate` object of the API.
    pub info: Value,
}

struct Block {
    label: String,
    der: Vec<u8>,
}

impl CertificateUpload {
    pub fn is_empty(&self) -> bool {
        self.pem_file.is_none()
            && self.private_key_file.is_none()
            && self.certificate_file.is_none()
            && self.chain_files.is_empty()
    }

    /// Checks the upload at `now`; `None` when it holds no certificate.
    pub fn install(&self, now: DateTime<Utc>) -> Result<Option<InstalledCertificate>, Error> {
        // The reference: "If you provide a PEM file, other files will be ignored".
        let (key, certificates) = if let Some(pem_file) = &self.pem_file {
            let blocks = pem_blocks("pem_file", pem_file)?;
            let key = single_key("pem_file", &blocks)?;
            let certificates = certificates_of("pem_file", &blocks)?;
            (key, certificates)
        } else {
            match (&self.private_key_file, &self.certificate_file) {
                (None, None) if self.chain_files.is_empty() => return Ok(None),
                (None, _) => {
                    return Err(Error::invalid_field(
                        "private_key_file",
                        "is required with certificate_file and chain_files",
                    ));
                }
                (Some(_), None) => {
                    return Err(Error::invalid_field(
                        "certificate_file",
                        "is required with private_key_file",
                    ));
                }
                (Some(key_file), Some(certificate_file)) => {
                    let key = single_key(
                        "private_key_file",
                        &pem_blocks("private_key_file", key_file)?,
                    )?;
                    let mut certificates = certificates_of(
                        "certificate_file",
                        &pem_blocks("certificate_file", certificate_file)?,
                    )?;
                    for chain_file in &self.chain_files {
                        let blocks = pem_blocks("chain_files", chain_file)?;
                        certificates.extend(certificates_of("chain_files", &blocks)?);
                    }
                    (key, certificates)
                }
            }
        };
        if certificates.len() > MAX_CHAIN {
            return Err(Error::invalid_field(
                "chain_files",
                format!("at most {MAX_CHAIN} certificates"),
            ));
        }
        let parsed = parse_all(&certificates)?;
        let leaf = &parsed[0];
        check_key_matches(&key, leaf.public_key())?;
        check_chain(&parsed)?;
        check_dates(&parsed, now)?;
        Ok(Some(InstalledCertificate {
            chain_pem: certificates
                .iter()
                .map(|der| to_pem("CERTIFICATE", der))
                .collect(),
            key_pem: to_pem(&key.label, &key.der),
            info: ssl_certificate(leaf),
        }))
    }
}

fn pem_blocks(field: &str, bytes: &[u8]) -> Result<Vec<Block>, Error> {
    if bytes.len() > MAX_PEM_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("is larger than {MAX_PEM_BYTES} bytes"),
        ));
    }
    let not_pem = || Error::invalid_field(field, "is not a PEM file (-----BEGIN …----- blocks)");
    let mut blocks = Vec::new();
    for pem in Pem::iter_from_buffer(bytes) {
        let pem: Pem = pem.map_err(|_| not_pem())?;
        blocks.push(Block {
            label: pem.label,
            der: pem.contents,
        });
    }
    if blocks.is_empty() {
        return Err(not_pem());
    }
    Ok(blocks)
}

const KEY_LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

fn single_key(field: &str, blocks: &[Block]) -> Result<Block, Error> {
    if blocks
        .iter()
        .any(|block| block.label == "ENCRYPTED PRIVATE KEY")
    {
        return Err(Error::invalid_field(
            field,
            "the private key is encrypted: upload it without a passphrase",
        ));
    }
    let mut keys = blocks
        .iter()
        .filter(|block| KEY_LABELS.contains(&block.label.as_str()));
    match (keys.next(), keys.next()) {
        (Some(key), None) => Ok(Block {
            label: key.label.clone(),
            der: key.der.clone(),
        }),
        (None, _) => Err(Error::invalid_field(field, "holds no private key")),
        (Some(_), Some(_)) => Err(Error::invalid_field(
            field,
            "holds more than one private key",
        )),
    }
}

fn certificates_of(field: &str, blocks: &[Block]) -> Result<Vec<Vec<u8>>, Error> {
    let certificates: Vec<Vec<u8>> = blocks
        .iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.der.clone())
        .collect();
    if certificates.is_empty() {
        return Err(Error::invalid_field(field, "holds no certificate"));
    }
    for der in &certificates {
        X509Certificate::from_der(der).map_err(|_| {
            Error::invalid_field(field, "holds a certificate that is not valid X.509")
        })?;
    }
    Ok(certificates)
}

fn parse_all(certificates: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, Error> {
    certificates
        .iter()
        .map(|der| {
            X509Certificate::from_der(der)
                .map(|(_, certificate)| certificate)
                .map_err(|_| Error::invalid_field("certificate_file", "is not valid X.509"))
        })
        .collect()
}

/// The public key of a private key, as SubjectPublicKeyInfo DER.
fn public_key_of(key: &Block) -> Result<Vec<u8>, Error> {
    use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let unreadable = || {
        Error::invalid_field(
            "private_key_file",
            "is not an RSA or EC (P-256, P-384) private key",
        )
    };
    let spki = match key.label.as_str() {
        "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(&key.der)
            .map_err(|_| unreadable())?
            .to_public_key()
            .to_public_key_der(),
        "EC PRIVATE KEY" => match p256::SecretKey::from_sec1_der(&key.der) {
            Ok(secret) => secret.public_key().to_public_key_der(),
            Err(_) => p384::SecretKey::from_sec1_der(&key.der)
                .map_err(|_| unreadable())?
                .public_key()
                .to_public_key_der(),
        },
        _ => {
            if let Ok(secret) = rsa::RsaPrivateKey::from_pkcs8_der(&key.der) {
                secret.to_public_key().to_public_key_der()
            } else if let Ok(secret) = p256::SecretKey::from_pkcs8_der(&key.der) {
                secret.public_key().to_public_key_der()
            } else {
                p384::SecretKey::from_pkcs8_der(&key.der)
                    .map_err(|_| unreadable())?
                    .public_key()
                    .to_public_key_der()
            }
        }
    };
    spki.map(|document| document.as_bytes().to_vec())
        .map_err(|_| unreadable())
}

fn check_key_matches(key: &Block, certificate_key: &SubjectPublicKeyInfo<'_>) -> Result<(), Error> {
    let derived = public_key_of(key)?;
    let (_, derived) = SubjectPublicKeyInfo::from_der(&derived)
        .map_err(|_| Error::internal("re-reading a derived public key"))?;
    let same = derived.algorithm.algorithm == certificate_key.algorithm.algorithm
        && derived.subject_public_key.data == certificate_key.subject_public_key.data;
    if same {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "private_key_file",
            "does not match the certificate's public key",
        ))
    }
}

/// Each certificate must be issued by the next one: its issuer is the next one's subject, and
/// the next one's key verifies its signature.
fn check_chain(chain: &[X509Certificate<'_>]) -> Result<(), Error> {
    for (position, pair) in chain.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        let linked = child.issuer().as_raw() == parent.subject().as_raw()
            && child.verify_signature(Some(parent.public_key())).is_ok();
        if !linked {
            return Err(Error::invalid_field(
                "chain_files",
                format!(
                    "certificate {} ({}) is not issued by certificate {} ({}): the chain must \
                     go from the domain certificate up to the root, in order",
                    position + 1,
                    one_line(child.subject()),
                    position + 2,
                    one_line(parent.subject())
                ),
            ));
        }
    }
    Ok(())
}

fn check_dates(chain: &[X509Certificate<'_>], now: DateTime<Utc>) -> Result<(), Error> {
    let now = now.timestamp();
    for (position, certificate) in chain.iter().enumerate() {
        let field = if position == 0 {
            "certificate_file"
        } else {
            "chain_files"
        };
        let validity = certificate.validity();
        let subject = one_line(certificate.subject());
        if now < validity.not_before.timestamp() {
            return Err(Error::invalid_field(
                field,
                format!(
                    "certificate {subject} is not valid before {}",
                    validity.not_before
                ),
            ));
        }
        if now > validity.not_after.timestamp() {
            return Err(Error::invalid_field(
                field,
                format!("certificate {subject} expired on {}", validity.not_after),
            ));
        }
    }
    Ok(())
}

fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Attribute OIDs and their OpenSSL short names, in the order `name` lists them.
const ATTRIBUTES: [(&str, &str); 8] = [
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "serialNumber"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
];

/// OpenSSL's one-line form of a name, `/C=US/O=Let's Encrypt/CN=R3`, in the name's own order.
fn one_line(name: &X509Name<'_>) -> String {
    name.iter_attributes()
        .map(|attribute| {
            let oid = attribute.attr_type().to_id_string();
            let short = ATTRIBUTES
                .iter()
                .find(|(known, _)| *known == oid)
                .map_or(oid.as_str(), |(_, short)| short);
            format!("/{short}={}", attribute.as_str().unwrap_or("?"))
        })
        .collect()
}

fn attribute(name: &X509Name<'_>, oid: &str) -> Value {
    name.iter_attributes()
        .find(|attribute| attribute.attr_type().to_id_string() == oid)
        .and_then(|attribute| attribute.as_str().ok())
        .map_or(Value::Null, |text| Value::String(text.to_owned()))
}

/// The signature algorithm as OpenSSL names it: short name, long name, NID.
fn signature_type(oid: &str) -> (String, String, u32) {
    let known = [
        (
            "1.2.840.113549.1.1.5",
            "RSA-SHA1",
            "sha1WithRSAEncryption",
            65,
        ),
        (
            "1.2.840.113549.1.1.11",
            "RSA-SHA256",
            "sha256WithRSAEncryption",
            668,
        ),
        (
            "1.2.840.113549.1.1.12",
            "RSA-SHA384",
            "sha384WithRSAEncryption",
            669,
        ),
        (
            "1.2.840.113549.1.1.13",
            "RSA-SHA512",
            "sha512WithRSAEncryption",
            670,
        ),
        ("1.2.840.113549.1.1.10", "RSASSA-PSS", "rsassaPss", 912),
        (
            "1.2.840.10045.4.3.2",
            "ecdsa-with-SHA256",
            "ecdsa-with-SHA256",
            794,
        ),
        (
            "1.2.840.10045.4.3.3",
            "ecdsa-with-SHA384",
            "ecdsa-with-SHA384",
            795,
        ),
        (
            "1.2.840.10045.4.3.4",
            "ecdsa-with-SHA512",
            "ecdsa-with-SHA512",
            796,
        ),
        ("1.3.101.112", "ED25519", "ED25519", 1087),
    ];
    known.iter().find(|(known, ..)| *known == oid).map_or(
        (oid.to_owned(), oid.to_owned(), 0),
        |(_, short, long, nid)| ((*short).to_owned(), (*long).to_owned(), *nid),
    )
}

/// The API's `ssl_certificate` object, as PHP's `openssl_x509_parse` shapes it.
fn ssl_certificate(certificate: &X509Certificate<'_>) -> Value {
    use sha2::{Digest, Sha256};
    let subject = certificate.subject();
    let issuer = certificate.issuer();
    let (short, long, nid) =
        signature_type(&certificate.signature_algorithm.algorithm.to_id_string());
    let digest = Sha256::digest(subject.as_raw());
    let serial: String = hex_upper(certificate.raw_serial());
    json!({
        "name": one_line(subject),
        "subject": {
            "serial_number": attribute(subject, "2.5.4.5"),
            "email_address": attribute(subject, "1.2.840.113549.1.9.1"),
            "common_name": attribute(subject, "2.5.4.3"),
            "organization_name": attribute(subject, "2.5.4.10"),
            "organizational_unit_name": attribute(subject, "2.5.4.11"),
            "locality_name": attribute(subject, "2.5.4.7"),
            "state_province_name": attribute(subject, "2.5.4.8"),
            "country_name": attribute(subject, "2.5.4.6"),
        },
        "hash": hex_lower(&digest[..4]),
        "issuer": {
            "country_name": attribute(issuer, "2.5.4.6"),
            "state_province_name": attribute(issuer, "2.5.4.8"),
            "organization_name": attribute(issuer, "2.5.4.10"),
            "organizational_unit_name": attribute(issuer, "2.5.4.11"),
            "common_name": attribute(issuer, "2.5.4.3"),
            "email_address": attribute(issuer, "1.2.840.113549.1.9.1"),
        },
        "version": certificate.version().0,
        "serial_number": format!("0x{serial}"),
        "valid_from": certificate.validity().not_before.timestamp(),
        "valid_to": certificate.validity().not_after.timestamp(),
        "signature_type_SN": short,
        "signature_type_LN": long,
        "signature_type_NID": nid,
        "purposes": purposes(certificate),
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    let text: String = bytes.iter().map(|byte| format!("{byte:02X}")).collect();
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What the certificate may be used for, as OpenSSL's `X509_check_purpose` answers for each
/// purpose: `[usable, usable as a CA, name]`, from its key usage, extended key usage and basic
/// constraints.
fn purposes(certificate: &X509Certificate<'_>) -> Value {
    let key_usage = certificate.key_usage().ok().flatten().map(|ext| *ext.value);
    let extended = certificate
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|ext| ext.value.clone());
    let is_ca = certificate
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|ext| ext.value.ca);
    let ku = |check: fn(&x509_parser::extensions::KeyUsage) -> bool| {
        key_usage.as_ref().is_none_or(check)
    };
    let eku = |check: fn(&x509_parser::extensions::ExtendedKeyUsage<'_>) -> bool| {
        extended
            .as_ref()
            .is_none_or(|usage| usage.any || check(usage))
    };
    let can_sign_certificates = is_ca && ku(|usage| usage.key_cert_sign());
    let client = eku(|usage| usage.client_auth)
        && ku(|usage| usage.digital_signature() || usage.key_agreement());
    let server = eku(|usage| usage.server_auth)
        && ku(|usage| {
            usage.digital_signature() || usage.key_encipherment() || usage.key_agreement()
        });
    let netscape_server = eku(|usage| usage.server_auth) && ku(|usage| usage.key_encipherment());
    let smime_sign = eku(|usage| usage.email_protection)
        && ku(|usage| usage.digital_signature() || usage.non_repudiation());
    let smime_encrypt = eku(|usage| usage.email_protection) && ku(|usage| usage.key_encipherment());
    let crl_sign = key_usage.as_ref().is_some_and(|usage| usage.crl_sign());
    let time_stamp = extended.as_ref().is_some_and(|usage| usage.time_stamping);
    let entries = [
        (client, "SSL client"),
        (server, "SSL server"),
        (netscape_server, "Netscape SSL server"),
        (smime_sign, "S/MIME signing"),
        (smime_encrypt, "S/MIME encryption"),
        (crl_sign, "CRL signing"),
        (true, "Any Purpose"),
        (true, "OCSP helper"),
        (time_stamp, "Time Stamp signing"),
    ];
    let mut purposes = serde_json::Map::new();
    for (index, (usable, name)) in entries.into_iter().enumerate() {
        let as_ca = match name {
            "Any Purpose" => true,
            "Time Stamp signing" => false,
            _ => can_sign_certificates && usable,
        };
        purposes.insert((index + 1).to_string(), json!([usable, as_ca, name]));
    }
    Value::Object(purposes)
}
