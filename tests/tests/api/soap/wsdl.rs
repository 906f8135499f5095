//! The two WSDLs: served with the server's own address, and every operation they describe is
//! routed.

use super::*;

async fn wsdl(app: &TestApp, query: &str) -> (u16, String, String) {
    let response = app
        .anonymous(Method::GET, &format!("/v1/soap{query}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The `name` of every `<operation>` of the WSDL's `portType`.
fn port_type_operations(wsdl: &str) -> Vec<String> {
    let start = wsdl.find("<portType").expect("a portType");
    let end = wsdl.find("</portType>").expect("the portType's end");
    wsdl[start..end]
        .split("<operation name=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn both_wsdls_carry_the_servers_address_and_every_operation_they_name_is_routed() {
    let app = spawn_app().await;
    let address = format!("http://{}/v1/soap", app.address);
    let auth = authentication(&app.org, &app.app);
    for query in ["?wsdl", "?WSDL", "?wsdl=literal"] {
        let (status, content_type, text) = wsdl(&app, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(content_type, "text/xml; charset=utf-8");
        assert!(
            text.contains(&format!("<soap:address location=\"{address}\"/>")),
            "{query}: {text}"
        );
        let operations = port_type_operations(&text);
        assert_eq!(operations.len(), 11, "{query}: {operations:?}");
        for operation in operations {
            let answer = post11(
                &app,
                format!(
                    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize"><soapenv:Body><mym:{operation}><input>{auth}</input></mym:{operation}></soapenv:Body></soapenv:Envelope>"#
                )
                .replace(" xsi:type=\"mym:AuthenticationObject\"", "")
                .replace(" xsi:type=\"xsd:string\"", ""),
            )
            .await;
            assert!(
                !answer.text.contains("unknown operation"),
                "{query}: {operation} is not routed: {}",
                answer.text
            );
        }
    }
    let (rpc, literal) = (
        wsdl(&app, "?wsdl").await.2,
        wsdl(&app, "?wsdl=literal").await.2,
    );
    assert!(rpc.contains("use=\"encoded\"") && !rpc.contains("use=\"literal\""));
    assert!(literal.contains("use=\"literal\"") && !literal.contains("use=\"encoded\""));
    assert_eq!(port_type_operations(&rpc), port_type_operations(&literal));
}

#[tokio::test]
async fn the_address_follows_the_host_and_refuses_to_echo_markup() {
    let app = spawn_app().await;
    let served = |host: &'static str, proto: Option<&'static str>| {
        let mut request = app
            .anonymous(Method::GET, "/v1/soap?wsdl=literal")
            .header("Host", host);
        if let Some(proto) = proto {
            request = request.header("X-Forwarded-Proto", proto);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert!(
        served("api.example.org", Some("https"))
            .await
            .contains("location=\"https://api.example.org/v1/soap\"")
    );
    let hostile = served("x\"/><evil", None).await;
    assert!(
        hostile.contains("location=\"http://localhost/v1/soap\""),
        "{hostile}"
    );
    assert!(!hostile.contains("<evil"));
}

#[tokio::test]
async fn a_get_without_wsdl_is_told_what_to_ask_for() {
    let app = spawn_app().await;
    let response = app.anonymous(Method::GET, "/v1/soap").send().await.unwrap();
    assert_error(response, 400, 400, "wsdl: is required").await;
    let response = app
        .anonymous(Method::GET, "/v1/soap?wsdl=soap99")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, 400, "'soap99'").await;
    let options = app
        .anonymous(Method::OPTIONS, "/v1/soap")
        .send()
        .await
        .unwrap();
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS, POST");
    assert!(options.headers().contains_key("x-ratelimit-limit"));
    let put = app.anonymous(Method::PUT, "/v1/soap").send().await.unwrap();
    assert!(put.headers().contains_key("x-ratelimit-limit"));
    assert_error(put, 405, 405, "not allowed").await;
    let head = app
        .anonymous(Method::HEAD, "/v1/soap?wsdl")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("x-ratelimit-limit"));
}
