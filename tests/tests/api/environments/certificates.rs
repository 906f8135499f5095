//! `POST /v1/environment/:id`: name, description and SSL certificates over multipart, the
//! certificate checked and described from the real file. Keys and certificates are generated
//! per test with rcgen.

use super::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use reqwest::multipart::{Form, Part};

struct Issued {
    key: KeyPair,
    certificate: rcgen::Certificate,
}

fn ca(name: &str) -> Issued {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Flowline Test CA");
    params.distinguished_name.push(DnType::CountryName, "NL");
    let certificate = params.self_signed(&key).unwrap();
    Issued { key, certificate }
}

fn leaf(issuer: &Issued, domain: &str, expired: bool) -> Issued {
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .unwrap_or_else(|_| KeyPair::generate().unwrap());
    let mut params = CertificateParams::new(vec![domain.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, domain);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let certificate = params
        .signed_by(&key, &issuer.certificate, &issuer.key)
        .unwrap();
    Issued { key, certificate }
}

fn file(bytes: impl Into<Vec<u8>>, name: &str) -> Part {
    Part::bytes(bytes.into()).file_name(name.to_owned())
}

async fn update(app: &TestApp, id: &str, form: Form) -> Response {
    as_org(
        app,
        &app.org,
        Method::POST,
        &format!("/v1/environment/{id}"),
    )
    .multipart(form)
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_certificate_with_its_chain_is_checked_and_described() {
    let (app, runner) = spawn().await;
    let id = ready_environment(&app, &app.org, "web").await;
    let root = ca("Test Root");
    let site = leaf(&root, "www.mydomain.com", false);
    let form = Form::new()
        .text("name", "New Environment name")
        .text("description", "New Environment description")
        .text("delete_certificate", "0")
        .part(
            "private_key_file",
            file(site.key.serialize_pem(), "site.key"),
        )
        .part("certificate_file", file(site.certificate.pem(), "site.crt"))
        .part("chain_files", file(root.certificate.pem(), "ca.crt"));
    let updated = ok_json(update(&app, &id, form).await, 200).await;
    assert_eq!(updated["name"], "New Environment name");
    assert_eq!(updated["description"], "New Environment description");
    assert!(updated.get("stats").is_some());
    let certificate = &updated["ssl_certificate"];
    assert_eq!(
        keys(certificate),
        [
            "name",
            "subject",
            "hash",
            "issuer",
            "version",
            "serial_number",
            "valid_from",
            "valid_to",
            "signature_type_SN",
            "signature_type_LN",
            "signature_type_NID",
            "purposes"
        ]
    );
    assert_eq!(certificate["name"], "/CN=www.mydomain.com");
    assert_eq!(certificate["subject"]["common_name"], "www.mydomain.com");
    assert_eq!(certificate["subject"]["country_name"], Value::Null);
    assert_eq!(
        keys(&certificate["subject"]),
        [
            "serial_number",
            "email_address",
            "common_name",
            "organization_name",
            "organizational_unit_name",
            "locality_name",
            "state_province_name",
            "country_name"
        ]
    );
    assert_eq!(certificate["issuer"]["common_name"], "Test Root");
    assert_eq!(
        certificate["issuer"]["organization_name"],
        "Flowline Test CA"
    );
    assert_eq!(certificate["issuer"]["country_name"], "NL");
    assert_eq!(certificate["version"], 2);
    assert!(
        certificate["serial_number"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );
    assert_eq!(certificate["hash"].as_str().unwrap().len(), 8);
    let valid_from = certificate["valid_from"].as_i64().unwrap();
    assert!(valid_from <= chrono::Utc::now().timestamp());
    assert!(certificate["valid_to"].as_i64().unwrap() > valid_from);
    assert_eq!(
        certificate["purposes"]["7"],
        json!([true, true, "Any Purpose"])
    );
    assert_eq!(certificate["purposes"]["2"][2], "SSL server");
    assert_eq!(certificate["purposes"]["2"][1], false, "a leaf is no CA");
    let signature = &certificate["signature_type_SN"];
    assert!(
        signature == "RSA-SHA256" || signature == "ecdsa-with-SHA256",
        "{certificate}"
    );

    // GET shows the same certificate; the key is stored for the site, never shown.
    let read = ok_json(
        as_org(
            &app,
            &app.org,
            Method::GET,
            &format!("/v1/environment/{id}"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["ssl_certificate"], *certificate);
    assert!(!read.to_string().contains("PRIVATE KEY"));

    // One PEM file with key, certificate and chain; other files are then ignored.
    let pem = format!(
        "{}{}{}",
        site.key.serialize_pem(),
        site.certificate.pem(),
        root.certificate.pem()
    );
    let form = Form::new()
        .part("pem_file", file(pem, "bundle.pem"))
        .part("certificate_file", file("ignored", "x.crt"));
    let updated = ok_json(update(&app, &id, form).await, 200).await;
    assert_eq!(updated["ssl_certificate"]["name"], "/CN=www.mydomain.com");
    assert_eq!(updated["name"], "New Environment name");

    let removed = ok_json(
        update(&app, &id, Form::new().text("delete_certificate", "1")).await,
        200,
    )
    .await;
    assert_eq!(removed["ssl_certificate"], Value::Null);
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT certificate_key_pem FROM environments WHERE environment_id = $1",
    )
    .bind(id.parse::<i64>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, None);
    runner.shutdown().await;
}

#[tokio::test]
async fn bad_certificates_and_bad_forms_are_refused_naming_the_field() {
    let (app, runner) = spawn().await;
    let id = ready_environment(&app, &app.org, "web").await;
    let root = ca("Test Root");
    let other_root = ca("Other Root");
    let intermediate = {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Test Intermediate");
        let certificate = params
            .signed_by(&key, &root.certificate, &root.key)
            .unwrap();
        Issued { key, certificate }
    };
    let site = leaf(&intermediate, "www.mydomain.com", false);
    let stranger = leaf(&root, "www.other.com", false);
    let expired = leaf(&root, "old.mydomain.com", true);
    let key_and = |key: &KeyPair, certificate: &rcgen::Certificate| {
        Form::new()
            .part("private_key_file", file(key.serialize_pem(), "k.pem"))
            .part("certificate_file", file(certificate.pem(), "c.pem"))
    };
    let cases: Vec<(Form, &str)> = vec![
        (
            key_and(&stranger.key, &site.certificate)
                .part("chain_files", file(intermediate.certificate.pem(), "i.pem")),
            "private_key_file: does not match the certificate's public key",
        ),
        (
            key_and(&site.key, &site.certificate)
                .part("chain_files", file(root.certificate.pem(), "r.pem"))
                .part("chain_files", file(intermediate.certificate.pem(), "i.pem")),
            "chain_files: certificate 1 (/CN=www.mydomain.com) is not issued by certificate 2",
        ),
        (
            key_and(&site.key, &site.certificate)
                .part("chain_files", file(other_root.certificate.pem(), "o.pem")),
            "chain_files: certificate 1",
        ),
        (
            key_and(&expired.key, &expired.certificate),
            "certificate_file: certificate /CN=old.mydomain.com expired on",
        ),
        (
            Form::new()
                .part("private_key_file", file("not a key at all", "k.txt"))
                .part("certificate_file", file(site.certificate.pem(), "c.pem")),
            "private_key_file: is not a PEM file",
        ),
        (
            Form::new()
                .part("private_key_file", file(site.key.serialize_pem(), "k.pem"))
                .part("certificate_file", file(vec![0u8, 159, 146, 150], "c.der")),
            "certificate_file: is not a PEM file",
        ),
        (
            Form::new()
                .part("private_key_file", file(site.certificate.pem(), "k.pem"))
                .part("certificate_file", file(site.certificate.pem(), "c.pem")),
            "private_key_file: holds no private key",
        ),
        (
            Form::new()
                .part("private_key_file", file(site.key.serialize_pem(), "k.pem"))
                .part("certificate_file", file(site.key.serialize_pem(), "c.pem")),
            "certificate_file: holds no certificate",
        ),
        (
            Form::new().part(
                "certificate_file",
                file(
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                    "c.pem",
                ),
            ),
            "private_key_file: is required",
        ),
        (
            Form::new().part("private_key_file", file(site.key.serialize_pem(), "k.pem")),
            "certificate_file: is required with private_key_file",
        ),
        (
            Form::new()
                .part("private_key_file", file(site.key.serialize_pem(), "k.pem"))
                .part(
                    "certificate_file",
                    file(
                        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                        "c.pem",
                    ),
                ),
            "certificate_file: holds a certificate that is not valid X.509",
        ),
        (
            Form::new().part("pem_file", file(vec![b'a'; 70 * 1024], "big.pem")),
            "pem_file: is larger than 65536 bytes",
        ),
        (
            Form::new().text("delete_certificate", "yes"),
            "delete_certificate: must be 0 or 1",
        ),
        (Form::new().text("name", ""), "name: must be 1 to 128"),
        (Form::new().text("owner", "me"), "owner: unknown field"),
        (
            Form::new().text("name'; DROP TABLE environments; --", "x"),
            "body: a part has no readable name",
        ),
    ];
    for (form, message) in cases {
        assert_error(update(&app, &id, form).await, 400, 400, message).await;
    }
    let broken = as_org(
        &app,
        &app.org,
        Method::POST,
        &format!("/v1/environment/{id}"),
    )
    .header("Content-Type", "multipart/form-data; boundary=XYZ")
    .body("--XYZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nunterminated")
    .send()
    .await
    .unwrap();
    assert_error(broken, 400, 400, "body: malformed multipart/form-data").await;
    let json_body = as_org(
        &app,
        &app.org,
        Method::POST,
        &format!("/v1/environment/{id}"),
    )
    .json(&json!({"name": "x"}))
    .send()
    .await
    .unwrap();
    assert_error(
        json_body,
        415,
        415,
        "Content-Type: send multipart/form-data",
    )
    .await;
    // Nothing changed.
    let read = ok_json(
        as_org(
            &app,
            &app.org,
            Method::GET,
            &format!("/v1/environment/{id}"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["name"], "web");
    assert_eq!(read["ssl_certificate"], Value::Null);
    // A name another environment of the organization has.
    let taken = update(&app, &id, Form::new().text("name", "production")).await;
    assert_error(
        taken,
        409,
        409,
        "an environment named 'production' already exists",
    )
    .await;
    runner.shutdown().await;
}
