//! The `http` step over TLS: a local HTTPS server whose certificate a fresh test CA issued.
//! The call succeeds when the operator trusts that CA (`FLOWLINE_HTTP_CA_FILE`), and fails with
//! a certificate error when nothing vouches for the server.

use super::*;
use axum::Json;
use axum::routing::get;
use flowline_scheduler::HttpRoots;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::sync::Arc;

/// A CA and a certificate it issued for 127.0.0.1 and localhost: (CA PEM, server config).
fn issue_server_certificate() -> (String, rustls::ServerConfig) {
    flowline_scheduler::install_tls_provider();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Flowline test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
    (ca.pem(), config)
}

/// Serves `GET /hello` over TLS on 127.0.0.1; the base URL and the CA's PEM.
async fn serve_tls_target() -> (String, String) {
    let (ca_pem, config) = issue_server_certificate();
    let router = axum::Router::new().route("/hello", get(|| async { Json(json!({"hi": "tls"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", address.port()), ca_pem)
}

fn tls_flow(base: &str) -> Value {
    json!({
        "name": "secure", "start": "call",
        "steps": {
            "call": {"type": "http", "method": "GET", "url": format!("{base}/hello"),
                     "save_as": "reply", "next": "use"},
            "use": {"type": "set", "fields": {"hi": "{{ steps.reply.body.hi }}"}, "next": "done"},
            "done": {"type": "end"}
        }
    })
}

fn allowing_loopback(roots: HttpRoots) -> SchedulerConfig {
    let mut config = SchedulerConfig::new(2);
    config.poll = Duration::from_millis(200);
    config.http_allow = vec!["127.0.0.1/32".parse().unwrap()];
    config.http_roots = roots;
    config
}

#[tokio::test]
async fn an_https_call_to_a_server_of_a_trusted_ca_succeeds() {
    let app = spawn_app().await;
    let (base, ca_pem) = serve_tls_target().await;
    publish_flow(&app, tls_flow(&base)).await;
    let roots = HttpRoots::from_pem(ca_pem.as_bytes()).unwrap();
    assert!(!roots.is_empty());
    let scheduler = Scheduler::start(app.pool.clone(), allowing_loopback(roots));
    let uuid = push_one(&app, "secure", &json!({})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["data_record"]["hi"], "tls", "{view}");
}

#[tokio::test]
async fn an_https_call_to_an_untrusted_server_fails_the_step() {
    let app = spawn_app().await;
    let (base, _) = serve_tls_target().await;
    publish_flow(&app, tls_flow(&base)).await;
    let scheduler = Scheduler::start(app.pool.clone(), allowing_loopback(HttpRoots::default()));
    let uuid = push_one(&app, "secure", &json!({})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "3", "{view}");
    let log = step_log(&app, &uuid).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].0.as_str(), log[0].1.as_str()), ("call", "error"));
    let error = log[0].2.clone().unwrap_or_default().to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
}

#[test]
fn a_pem_without_certificates_is_refused() {
    assert!(HttpRoots::from_pem(b"not a certificate").is_err());
    assert!(HttpRoots::from_pem(b"").is_err());
}
