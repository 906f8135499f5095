//! `GET /v1/record/search`: the reference's answer, every filter alone and together, headers
//! against URL parameters, paging, bad parameters, scopes, isolation between organizations,
//! and the query plans and answers at tens of thousands of records.

use crate::support::*;
use flowline_core::Tenant;
use flowline_core::rules::FieldPath;
use flowline_records::{DataFieldMatch, DateColumn, DateRange, RecordStatus, SearchQuery};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

/// A published flow whose first step is a condition and whose last is an end.
pub fn two_step_flow(name: &str) -> Value {
    json!({
        "name": name,
        "start": "check",
        "steps": {
            "check": {
                "type": "condition",
                "where": {"condition": "AND", "rules": [
                    {"field": "client.age", "operator": ">=", "value": 18}]},
                "then": "done",
                "else": "done"
            },
            "done": {"type": "end"}
        }
    })
}

/// Pushes one record into `flow` through the API; returns its uuid.
pub async fn push(app: &TestApp, flow: &str, data: &Value) -> String {
    let created = push_record(app, flow, data).await;
    created["resource"]["uuid"].as_str().unwrap().to_owned()
}

/// Puts a record where only the scheduler could: finished (or failed) at `step`, out of the
/// queue, after `runs` runs.
pub async fn finish(app: &TestApp, uuid: &str, status: i16, step: &str, runs: i32) {
    sqlx::query(
        "UPDATE records SET status = $2, current_step = $3, num_runs = $4, \
         started_at = created_at + interval '1 minute', \
         last_run_at = created_at + interval '2 minutes' WHERE uuid = $1::uuid",
    )
    .bind(uuid)
    .bind(status)
    .bind(step)
    .bind(runs)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "DELETE FROM record_queue q USING records r \
         WHERE q.org_id = r.org_id AND q.record_id = r.record_id AND r.uuid = $1::uuid",
    )
    .bind(uuid)
    .execute(&app.pool)
    .await
    .unwrap();
}

pub async fn set_created(app: &TestApp, uuid: &str, created_at: &str) {
    sqlx::query("UPDATE records SET created_at = $2::timestamptz WHERE uuid = $1::uuid")
        .bind(uuid)
        .bind(created_at)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// `/v1/record/search` with these URL parameters, encoded.
pub fn search_path<K: AsRef<str>, V: AsRef<str>>(query: &[(K, V)]) -> String {
    let mut url = reqwest::Url::parse("http://localhost/v1/record/search").unwrap();
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    }
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// `GET /v1/record/search` with these headers and URL parameters; asserts a 200 and the long
/// envelope, and returns the resource.
pub async fn search(app: &TestApp, headers: &[(&str, &str)], query: &[(&str, &str)]) -> Value {
    let mut request = app.request(Method::GET, &search_path(query));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let answer = body(response).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], "ok", "{answer}");
    assert_eq!(answer["code"], 200);
    assert!(answer["request-ip"].is_string());
    assert_eq!(answer["error"], Value::Null);
    assert_eq!(
        answer["message"],
        "The query has been executed successfully."
    );
    answer["resource"].clone()
}

/// The uuids of a search's records, in order.
pub fn uuids(resource: &Value) -> Vec<String> {
    resource["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["uuid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn answers_in_the_reference_shape_newest_first() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, two_step_flow("onboarding")).await;
    let finished = push(&app, "onboarding", &json!({"client": [{"name": "Ada"}]})).await;
    let queued = push(&app, "onboarding", &json!({"client": [{"name": "Bob"}]})).await;
    finish(&app, &finished, 2, "done", 2).await;

    let resource = search(&app, &[], &[]).await;
    assert_eq!(resource["total"], 2);
    assert_eq!(resource["offset"], 0);
    assert_eq!(resource["limit"], 10);
    assert_eq!(resource.as_object().unwrap().len(), 4, "{resource}");
    assert_eq!(uuids(&resource), vec![queued.clone(), finished.clone()]);

    let records = resource["records"].as_array().unwrap();
    let keys: Vec<&str> = records[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "uuid",
        "flow_id",
        "flow_name",
        "flow_version",
        "date_created",
        "date_started",
        "date_last_run",
        "date_next_run",
        "queue_status",
        "dynamic_value",
        "current_step",
        "num_runs",
        "flow_status",
        "flow_status_name",
    ];
    let mut sorted_keys = keys.clone();
    sorted_keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted_keys, expected);

    let new = &records[0];
    let id: i64 = sqlx::query_scalar("SELECT record_id FROM records WHERE uuid = $1::uuid")
        .bind(&queued)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(new["id"], id.to_string());
    assert_eq!(new["flow_id"], flow_id.to_string());
    assert_eq!(new["flow_name"], "onboarding");
    assert_eq!(new["flow_version"], "1");
    assert!(flowline_core::time::parse_api_date(new["date_created"].as_str().unwrap()).is_some());
    assert_eq!(new["date_started"], "");
    assert_eq!(new["date_last_run"], "");
    assert!(flowline_core::time::parse_api_date(new["date_next_run"].as_str().unwrap()).is_some());
    assert_eq!(new["queue_status"], "queued");
    assert_eq!(new["dynamic_value"], "");
    assert_eq!(new["current_step"], json!({"type": "", "text": ""}));
    assert_eq!(new["num_runs"], "0");
    assert_eq!(new["flow_status"], "0");
    assert_eq!(new["flow_status_name"], "New");

    let done = &records[1];
    assert_eq!(done["current_step"], json!({"type": "end", "text": "done"}));
    assert_eq!(done["num_runs"], "2");
    assert_eq!(done["flow_status"], "2");
    assert_eq!(done["flow_status_name"], "Finished");
    assert_eq!(done["queue_status"], "");
    assert_eq!(done["date_next_run"], "");
    let started = done["date_started"].as_str().unwrap();
    let last_run = done["date_last_run"].as_str().unwrap();
    assert!(
        flowline_core::time::parse_api_date(started).is_some(),
        "{done}"
    );
    assert!(started < last_run, "{done}");

    // HEAD and XML come with the endpoint, as for every GET.
    let xml = app
        .request(Method::GET, "/v1/record/search")
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    let text = xml.text().await.unwrap();
    assert!(text.contains(&format!("<uuid>{finished}</uuid>")), "{text}");
}

/// Three records in two flows, with dates, statuses and data to tell them apart.
struct Fixture {
    app: TestApp,
    onboarding: i64,
    ada: String,
    bob: String,
    cyd: String,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let onboarding = publish_flow(&app, two_step_flow("onboarding")).await;
    publish_flow(&app, two_step_flow("billing")).await;
    let ada = push(
        &app,
        "onboarding",
        &json!({"client": [
            {"name": "Ada", "age": 36, "vip": true,
             "accounts": [{"iban": "NL01", "invoices": [{"amount": "10.50"}]}]},
            {"name": "Zoë", "age": "41"}
        ], "note": "say \"hi\" \\ now"}),
    )
    .await;
    let bob = push(
        &app,
        "onboarding",
        &json!({"client": {"name": "Bob", "age": 17, "vip": false}}),
    )
    .await;
    let cyd = push(
        &app,
        "billing",
        &json!({"client": [{"name": "Cyd", "age": 36}], "empty": ""}),
    )
    .await;
    set_created(&app, &ada, "2017-07-21 16:45:17+00").await;
    set_created(&app, &bob, "2017-12-31 12:00:00+00").await;
    set_created(&app, &cyd, "2018-01-01 00:00:00+00").await;
    finish(&app, &ada, 2, "done", 1).await;
    finish(&app, &cyd, 3, "check", 1).await;
    Fixture {
        app,
        onboarding,
        ada,
        bob,
        cyd,
    }
}

#[tokio::test]
async fn each_filter_alone_and_together() {
    let Fixture {
        app,
        onboarding,
        ada,
        bob,
        cyd,
    } = fixture().await;
    let found = |resource: Value| uuids(&resource);
    let all = vec![cyd.clone(), bob.clone(), ada.clone()];
    assert_eq!(found(search(&app, &[], &[]).await), all);

    // By uuid.
    assert_eq!(
        found(search(&app, &[("X-uuid", &bob)], &[]).await),
        [bob.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("uuid", &ada)]).await),
        [ada.as_str()]
    );
    let nobody = uuid::Uuid::new_v4().to_string();
    let none = search(&app, &[], &[("uuid", &nobody)]).await;
    assert_eq!(none["records"], json!([]));
    assert_eq!(none["total"], 0);

    // By flow: name or id.
    assert_eq!(
        found(search(&app, &[("X-flow", "onboarding")], &[]).await),
        [bob.as_str(), ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("flow_name", &onboarding.to_string())]).await),
        [bob.as_str(), ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("flow_name", "billing")]).await),
        [cyd.as_str()]
    );

    // By status.
    assert_eq!(
        found(search(&app, &[("X-Datarecord-status", "2")], &[]).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("datarecord_status", "3")]).await),
        [cyd.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("datarecord_status", "0")]).await),
        [bob.as_str()]
    );
    assert!(found(search(&app, &[], &[("datarecord_status", "6")]).await).is_empty());

    // By a data field: through arrays, as strings and as typed values.
    let field = |name: &'static str, value: &'static str| {
        [("datafield_name", name), ("datafield_value", value)]
    };
    assert_eq!(
        found(search(&app, &[], &field("client.name", "Ada")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.name", "Bob")).await),
        [bob.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.age", "36")).await),
        [cyd.as_str(), ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.age", "41")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.vip", "true")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.vip", "false")).await),
        [bob.as_str()]
    );
    assert_eq!(
        found(
            search(
                &app,
                &[],
                &field("client.accounts.invoices.amount", "10.50")
            )
            .await
        ),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client.accounts.iban", "NL01")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("client[1].name", "Zoë")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("note", "say \"hi\" \\ now")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &field("empty", "")).await),
        [cyd.as_str()]
    );
    assert!(found(search(&app, &[], &field("client.name", "ada")).await).is_empty());
    assert!(
        found(search(&app, &[], &field("client.name", "Ada\" || @ == \"Bob")).await).is_empty()
    );
    // UTF-8 in a header.
    let mut request = app
        .request(Method::GET, "/v1/record/search")
        .header("X-datafield-name", "client.name");
    request = request.header(
        "X-datafield-value",
        HeaderValue::from_bytes("Zoë".as_bytes()).unwrap(),
    );
    let response = body(request.send().await.unwrap()).await;
    assert_eq!(uuids(&response["resource"]), [ada.as_str()]);

    // By date: created (the default type), started, last run; both reference formats and
    // 24:00:00 for the end of a day.
    let dates = |date_type: &'static str, from: &'static str, to: &'static str| {
        let mut query = vec![("date_type", date_type)];
        if !from.is_empty() {
            query.push(("date_from", from));
        }
        if !to.is_empty() {
            query.push(("date_to", to));
        }
        query
    };
    assert_eq!(
        found(search(&app, &[], &dates("date_created", "31-12-2017 12:00:00", "")).await),
        [cyd.as_str(), bob.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &dates("date_created", "", "2017-12-31 24:00:00")).await),
        [bob.as_str(), ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &dates("date_created", "", "2017-12-31 11:59:59")).await),
        [ada.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &[("date_from", "2017-12-31 12:00:01")]).await),
        [cyd.as_str()]
    );
    assert_eq!(
        found(search(&app, &[], &dates("date_started", "2017-01-01 00:00:00", "")).await),
        [cyd.as_str(), ada.as_str()],
        "only started records have a start date"
    );
    assert_eq!(
        found(
            search(
                &app,
                &[],
                &dates(
                    "date_last_run",
                    "2017-07-21 16:47:17",
                    "2017-07-21 16:47:17"
                )
            )
            .await
        ),
        [ada.as_str()]
    );
    assert!(
        found(
            search(
                &app,
                &[],
                &dates("date_last_run", "2017-07-21 16:47:18", "2017-12-31")
            )
            .await
        )
        .is_empty()
    );

    // Together.
    assert_eq!(
        found(
            search(
                &app,
                &[("X-flow", "onboarding"), ("X-datarecord-status", "2")],
                &field("client.age", "36"),
            )
            .await
        ),
        [ada.as_str()]
    );
    assert!(
        found(
            search(
                &app,
                &[("X-flow", "billing"), ("X-datarecord-status", "2")],
                &field("client.age", "36"),
            )
            .await
        )
        .is_empty()
    );
    let mut combined = dates("date_created", "2017-01-01", "2017-12-31");
    combined.push(("flow_name", "onboarding"));
    combined.push(("uuid", &bob));
    assert_eq!(found(search(&app, &[], &combined).await), [bob.as_str()]);
}

#[tokio::test]
async fn headers_win_over_url_parameters_one_by_one() {
    let Fixture {
        app, ada, bob, cyd, ..
    } = fixture().await;
    let resource = search(
        &app,
        &[("X-limit", "1"), ("X-flow", "onboarding")],
        &[
            ("limit", "5"),
            ("flow_name", "billing"),
            ("datarecord_status", "0"),
        ],
    )
    .await;
    assert_eq!(resource["limit"], 1);
    assert_eq!(
        uuids(&resource),
        [bob.as_str()],
        "the header flow, the URL status"
    );
    assert_eq!(resource["total"], 1);
    let resource = search(&app, &[("X-uuid", &cyd)], &[("uuid", &ada)]).await;
    assert_eq!(uuids(&resource), [cyd.as_str()]);
    let resource = search(
        &app,
        &[("X-datafield-name", "client.name")],
        &[("datafield_name", "nope"), ("datafield_value", "Ada")],
    )
    .await;
    assert_eq!(uuids(&resource), [ada.as_str()]);
}

#[tokio::test]
async fn pages_with_limit_offset_and_a_total() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let mut pushed = Vec::new();
    for index in 0..25 {
        pushed.push(push(&app, "onboarding", &json!({"n": index})).await);
    }
    pushed.reverse();

    let first = search(&app, &[], &[]).await;
    assert_eq!(uuids(&first), pushed[..10]);
    assert_eq!(
        (first["total"].clone(), first["limit"].clone()),
        (json!(25), json!(10))
    );
    let second = search(&app, &[("X-offset", "10"), ("X-limit", "10")], &[]).await;
    assert_eq!(uuids(&second), pushed[10..20]);
    assert_eq!(second["offset"], 10);
    let last = search(&app, &[], &[("offset", "20"), ("limit", "10")]).await;
    assert_eq!(uuids(&last), pushed[20..]);
    assert_eq!(last["total"], 25);
    let past = search(&app, &[], &[("offset", "30")]).await;
    assert_eq!(past["records"], json!([]));
    assert_eq!(past["total"], 25);
    let all = search(&app, &[], &[("limit", "100")]).await;
    assert_eq!(uuids(&all), pushed);
    let filtered = search(
        &app,
        &[("X-limit", "2")],
        &[("datafield_name", "n"), ("datafield_value", "7")],
    )
    .await;
    assert_eq!(filtered["total"], 1);
    assert_eq!(uuids(&filtered), [pushed[17].as_str()]);
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_them() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    type Pairs = Vec<(&'static str, &'static str)>;
    let cases: Vec<(Pairs, Pairs, &str)> = vec![
        (vec![("X-limit", "ten")], vec![], "X-limit: 'ten'"),
        (vec![], vec![("limit", "0")], "limit: '0'"),
        (
            vec![],
            vec![("limit", "101")],
            "limit: '101' is not an integer from 1 to 100",
        ),
        (vec![("X-offset", "-1")], vec![], "X-offset"),
        (vec![], vec![("offset", "x")], "offset"),
        (
            vec![("X-datarecord-status", "7")],
            vec![],
            "X-datarecord-status: '7'",
        ),
        (
            vec![],
            vec![("datarecord_status", "finished")],
            "datarecord_status",
        ),
        (vec![("X-uuid", "not-a-uuid")], vec![], "X-uuid"),
        (
            vec![],
            vec![("uuid", "42")],
            "uuid: '42' is not a valid UUID",
        ),
        (
            vec![],
            vec![("date_type", "date_modified")],
            "date_type: 'date_modified'",
        ),
        (
            vec![],
            vec![("date_from", "yesterday")],
            "date_from: 'yesterday'",
        ),
        (
            vec![("X-date-to", "2017-02-30 10:00:00")],
            vec![],
            "X-date-to",
        ),
        (
            vec![],
            vec![
                ("date_from", "2018-01-01 00:00:00"),
                ("date_to", "2017-01-01 00:00:00"),
            ],
            "date_from: is not before date_to",
        ),
        (
            vec![],
            vec![("datafield_value", "Ada")],
            "datafield_value: needs",
        ),
        (
            vec![("X-datafield-value", "Ada")],
            vec![],
            "X-datafield-value: needs",
        ),
        (
            vec![],
            vec![("datafield_name", "client.name")],
            "datafield_name: needs",
        ),
        (
            vec![],
            vec![("datafield_name", "client..name"), ("datafield_value", "x")],
            "datafield_name: invalid field path",
        ),
        (
            vec![],
            vec![("datafield_name", "$.client"), ("datafield_value", "x")],
            "datafield_name",
        ),
    ];
    for (headers, query, needle) in cases {
        let mut request = app.request(Method::GET, &search_path(&query));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        assert_error(request.send().await.unwrap(), 400, 400, needle).await;
    }
    let nul = app
        .request(
            Method::GET,
            &search_path(&[("datafield_name", "a"), ("datafield_value", "x\u{0}y")]),
        )
        .send()
        .await
        .unwrap();
    assert_error(nul, 400, 400, "datafield_value").await;
    let unknown_flow = app
        .request(Method::GET, "/v1/record/search")
        .header("X-flow", "nope")
        .send()
        .await
        .unwrap();
    assert_error(unknown_flow, 404, 404, "'nope' does not exist").await;
}

#[tokio::test]
async fn search_needs_the_record_read_scope() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"a": 1})).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "record.read"),
    )
    .await;
    let found = app
        .as_app(&app.org, &reader, Method::GET, "/v1/record/search")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(uuids(&body(found).await["resource"]), [uuid.as_str()]);
    let schema_only = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("schemas"), "schema"),
    )
    .await;
    let refused = app
        .as_app(&app.org, &schema_only, Method::GET, "/v1/record/search")
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, 403, "record.read").await;
    let anonymous = app
        .anonymous(Method::GET, "/v1/record/search")
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials").await;
    // The URL form of the credentials.
    let by_url = app
        .anonymous(
            Method::GET,
            &search_path(&[
                ("api_key", app.org.api_key.as_str()),
                ("app_key", app.app.app_key.as_str()),
                ("datarecord_status", "0"),
            ]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 200);
    assert_eq!(uuids(&body(by_url).await["resource"]), [uuid.as_str()]);
}

#[tokio::test]
async fn another_organization_finds_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"client": {"name": "Ada"}})).await;
    let other = create_org(&app.pool, "Globex").await;
    let other_app = create_app(&app.pool, &other, application("crm")).await;
    let search_as_other = |query: Vec<(&'static str, String)>| {
        app.as_app(&other, &other_app, Method::GET, &search_path(&query))
            .send()
    };
    let everything = body(search_as_other(vec![]).await.unwrap()).await;
    assert_eq!(everything["resource"]["records"], json!([]));
    assert_eq!(everything["resource"]["total"], 0);
    let by_uuid = body(search_as_other(vec![("uuid", uuid.clone())]).await.unwrap()).await;
    assert_eq!(by_uuid["resource"]["total"], 0);
    let by_field = body(
        search_as_other(vec![
            ("datafield_name", "client.name".into()),
            ("datafield_value", "Ada".into()),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(by_field["resource"]["total"], 0);
    // The other organization's flow of the same name is its own: unknown to it.
    let by_flow = search_as_other(vec![("flow_name", "onboarding".into())])
        .await
        .unwrap();
    assert_error(by_flow, 404, 404, "onboarding").await;
}

/// The records of the plan tests: `TENANT_RECORDS` in the tenant's environment, one every
/// `SPACING` seconds from 2020-01-01 (a year of them), among `OTHER_RECORDS` of another
/// organization. Each holds about 1.2 KB of data, as real records do, which matters: ANALYZE
/// leaves values over 1 KB out of a column's statistics, so the planner knows nothing of what
/// `data @? …` matches and assumes 1 % of the records — as it does in production.
const TENANT_RECORDS: i64 = 50_000;
const OTHER_RECORDS: i64 = 15_000;
const SPACING: i64 = 631;

/// `$1` org, `$2` environment, `$3` the flow ids to spread the records over, `$4` how many.
/// Record `i`: client `n<i>`, `e<i>@example.org`, age `i % 90`, in one of 20 cities (5 % each),
/// of kind even or odd (50 %); status `i % 7`; started when `i % 10 = 0`, last run when
/// `i % 20 = 0`.
const LOAD_RECORDS_SQL: &str = concat!(
    "INSERT INTO records (org_id, environment_id, uuid, flow_id, flow_version, data, status,",
    " created_at, started_at, last_run_at)",
    " SELECT $1, $2, gen_random_uuid(), ($3::bigint[])[1 + (i % cardinality($3::bigint[]))::int], 1,",
    " jsonb_build_object('client', jsonb_build_array(jsonb_build_object(",
    "   'name', 'n' || i, 'age', i % 90, 'email', 'e' || i || '@example.org',",
    "   'city', 'city' || (i * 7919 % 20))),",
    "  'kind', CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,",
    "  'invoices', (SELECT jsonb_agg(jsonb_build_object('ref', md5((i * 31 + k)::text),",
    "     'amount', (i * k) % 1000)) FROM generate_series(1, 20) AS k)),",
    " (i % 7)::smallint, c.at,",
    " CASE WHEN i % 10 = 0 THEN c.at + interval '1 minute' END,",
    " CASE WHEN i % 20 = 0 THEN c.at + interval '2 minutes' END",
    " FROM generate_series(1, $4::bigint) AS i",
    " CROSS JOIN LATERAL (SELECT timestamptz '2020-01-01 00:00:00+00'",
    "   + i * $5::bigint * interval '1 second' AS at) c"
);

/// `VACUUM ANALYZE records`, vacuuming again until every page is all-visible, as it is in a
/// table whose records have settled: a snapshot taken meanwhile (by autovacuum's analyze of the
/// new rows, or the app's scheduler) can keep a vacuum from marking pages all-visible, and then
/// the planner prices index-only scans as heap reads.
async fn vacuum_analyze_records(app: &TestApp) {
    for _ in 0..20 {
        sqlx::raw_sql("VACUUM records")
            .execute(&app.pool)
            .await
            .unwrap();
        let (pages, all_visible): (i32, i32) = sqlx::query_as(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'records'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if all_visible >= pages {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sqlx::raw_sql("ANALYZE records")
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The search's answer by the plainest plan — every record of the environment read and sorted,
/// no index — through the same conditions; and its total counted to the same bound.
async fn plainly(
    conn: &mut sqlx::PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
    flow_id: Option<i64>,
) -> (Vec<uuid::Uuid>, i64) {
    use sqlx::Connection;
    let range = |column| {
        query
            .dates
            .filter(|range| range.column == column)
            .map_or((None, None), |range| (range.from, range.until))
    };
    let (created_from, created_until) = range(DateColumn::Created);
    let (started_from, started_until) = range(DateColumn::Started);
    let (last_run_from, last_run_until) = range(DateColumn::LastRun);
    let mut transaction = conn.begin().await.unwrap();
    sqlx::raw_sql(
        "SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; \
         SET LOCAL enable_bitmapscan = off",
    )
    .execute(&mut *transaction)
    .await
    .unwrap();
    let all: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT uuid FROM records WHERE org_id = $1 AND environment_id = $2 \
         AND ($3::uuid IS NULL OR uuid = $3) AND ($4::bigint IS NULL OR flow_id = $4) \
         AND ($5::smallint IS NULL OR status = $5) \
         AND ($6::text IS NULL OR data @? $6::text::jsonpath) \
         AND ($7::timestamptz IS NULL OR created_at >= $7) \
         AND ($8::timestamptz IS NULL OR created_at < $8) \
         AND ($9::timestamptz IS NULL OR started_at >= $9) \
         AND ($10::timestamptz IS NULL OR started_at < $10) \
         AND ($11::timestamptz IS NULL OR last_run_at >= $11) \
         AND ($12::timestamptz IS NULL OR last_run_at < $12) \
         ORDER BY record_id DESC",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(query.uuid)
    .bind(flow_id)
    .bind(query.status.map(RecordStatus::code))
    .bind(query.data_field.as_ref().map(DataFieldMatch::jsonpath))
    .bind(created_from)
    .bind(created_until)
    .bind(started_from)
    .bind(started_until)
    .bind(last_run_from)
    .bind(last_run_until)
    .fetch_all(&mut *transaction)
    .await
    .unwrap();
    transaction.rollback().await.unwrap();
    let bound = query.offset + query.limit + flowline_records::TOTAL_LOOKAHEAD;
    let total = i64::try_from(all.len()).unwrap().min(bound);
    let page = all
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap())
        .take(usize::try_from(query.limit).unwrap())
        .collect();
    (page, total)
}

/// At tens of thousands of records, each filter reaches its index — never a sequential scan of
/// `records` — and the page is read the way its number of matches calls for (see
/// `PageStrategy` in `flowline_records::search`): a rare data value or a narrow date range
/// through its index, not by walking the newest records until the page is full; common values
/// and open ranges by that walk, which soon fills the page. The answers are those of the
/// plainest plan, whichever way is taken.
#[tokio::test]
async fn each_search_reads_its_matches_through_the_right_index() {
    let app = spawn_app().await;
    let mut flows = Vec::new();
    for name in ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"] {
        flows.push(publish_flow(&app, two_step_flow(name)).await);
    }
    let tenant = Tenant {
        org_id: app.org.org_id,
        environment_id: app.org.environment_id,
    };
    let other = create_org(&app.pool, "Globex").await;
    sqlx::query(
        "INSERT INTO flows (org_id, environment_id, name, status, current_version) \
         VALUES ($1, $2, 'g', 'public', 1)",
    )
    .bind(other.org_id)
    .bind(other.environment_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let other_flow: i64 = sqlx::query_scalar(
        "INSERT INTO flow_versions (org_id, flow_id, version, environment_id, definition) \
         SELECT org_id, flow_id, 1, environment_id, '{}' FROM flows WHERE org_id = $1 \
         RETURNING flow_id",
    )
    .bind(other.org_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for (org, environment, flow_ids, count) in [
        (
            other.org_id.0,
            other.environment_id.0,
            vec![other_flow],
            OTHER_RECORDS,
        ),
        (
            tenant.org_id.0,
            tenant.environment_id.0,
            flows.clone(),
            TENANT_RECORDS,
        ),
    ] {
        sqlx::query(LOAD_RECORDS_SQL)
            .bind(org)
            .bind(environment)
            .bind(&flow_ids)
            .bind(count)
            .bind(SPACING)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    vacuum_analyze_records(&app).await;
    let uuid: uuid::Uuid = sqlx::query_scalar(
        "SELECT uuid FROM records WHERE org_id = $1 ORDER BY record_id LIMIT 1 OFFSET 500",
    )
    .bind(tenant.org_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let at = |text: &str| flowline_core::time::parse_api_date(text).unwrap();
    let data_field = |path: &str, value: &str| {
        Some(DataFieldMatch::new(FieldPath::parse(path).unwrap(), value).unwrap())
    };
    let range = |column, from: &str, to: &str| {
        let date = |text: &str| (!text.is_empty()).then(|| at(text));
        Some(DateRange {
            column,
            from: date(from),
            until: date(to),
        })
    };
    // The inner scan of a walk: the newest records in order, on the primary key or the recent
    // index.
    const WALKS: [&str; 2] = [
        "Index Scan Backward using records_pkey on records m",
        "using records_recent_idx on records m",
    ];
    struct Case {
        name: &'static str,
        query: SearchQuery,
        /// How the page is read: "walk" or "sort".
        strategy: &'static str,
        /// One of these in the page's plan.
        page: &'static [&'static str],
        /// One of these in the total's plan.
        total: &'static [&'static str],
    }
    let case = |name, query, strategy, page, total| Case {
        name,
        query,
        strategy,
        page,
        total,
    };
    // Whichever of the tenant's indexes is smallest serves a count of all its records.
    const ANY: &[&str] = &[
        "records_uuid_key",
        "records_recent_idx",
        "records_pkey",
        "records_created_idx",
        "records_status_idx",
        "records_flow_idx",
    ];
    let cases = vec![
        case("no filter", SearchQuery::default(), "walk", &WALKS, ANY),
        case(
            "uuid",
            SearchQuery {
                uuid: Some(uuid),
                ..SearchQuery::default()
            },
            "walk",
            &["records_uuid_key"],
            &["records_uuid_key"],
        ),
        case(
            "flow",
            SearchQuery {
                flow: Some("f3".into()),
                ..SearchQuery::default()
            },
            "walk",
            &["records_flow_idx"],
            &["records_flow_idx"],
        ),
        case(
            "status",
            SearchQuery {
                status: Some(RecordStatus::FinishedWithErrors),
                ..SearchQuery::default()
            },
            "walk",
            &["records_status_idx"],
            &["records_status_idx"],
        ),
        case(
            "rare data value",
            SearchQuery {
                data_field: data_field("client.email", "e777@example.org"),
                ..SearchQuery::default()
            },
            "sort",
            &["Bitmap Index Scan on records_data_idx"],
            &["records_data_idx"],
        ),
        case(
            "another rare data value",
            SearchQuery {
                data_field: data_field("client.name", "n11111"),
                ..SearchQuery::default()
            },
            "sort",
            &["Bitmap Index Scan on records_data_idx"],
            &["records_data_idx"],
        ),
        case(
            "data value of 5 % of the records",
            SearchQuery {
                data_field: data_field("client.city", "city7"),
                ..SearchQuery::default()
            },
            "sort",
            &["Bitmap Index Scan on records_data_idx"],
            &["records_data_idx"],
        ),
        case(
            "data value of half the records",
            SearchQuery {
                data_field: data_field("kind", "even"),
                ..SearchQuery::default()
            },
            "walk",
            &WALKS,
            &["records_data_idx", "Seq Scan on records"],
        ),
        case(
            "one week of creation dates, months ago",
            SearchQuery {
                dates: range(
                    DateColumn::Created,
                    "2020-05-01 00:00:00",
                    "2020-05-08 00:00:00",
                ),
                ..SearchQuery::default()
            },
            "sort",
            &["Index Only Scan using records_created_idx on records m"],
            &["records_created_idx"],
        ),
        case(
            "half a year of creation dates, ending months ago",
            SearchQuery {
                dates: range(DateColumn::Created, "", "2020-07-01 00:00:00"),
                ..SearchQuery::default()
            },
            "sort",
            &["Index Only Scan using records_created_idx on records m"],
            &["records_created_idx"],
        ),
        case(
            "creation dates ending a day before the newest record",
            SearchQuery {
                dates: range(DateColumn::Created, "", "2020-12-30 00:00:00"),
                ..SearchQuery::default()
            },
            "walk",
            &WALKS,
            &["records_created_idx"],
        ),
        case(
            "creation dates of the last half year",
            SearchQuery {
                dates: range(DateColumn::Created, "2020-07-01 00:00:00", ""),
                ..SearchQuery::default()
            },
            "walk",
            &WALKS,
            &["records_created_idx"],
        ),
        case(
            "one week of start dates",
            SearchQuery {
                dates: range(
                    DateColumn::Started,
                    "2020-05-01 00:00:00",
                    "2020-05-08 00:00:00",
                ),
                ..SearchQuery::default()
            },
            "sort",
            &["Index Only Scan using records_started_idx on records m"],
            &["records_started_idx"],
        ),
        case(
            "one week of last runs",
            SearchQuery {
                dates: range(
                    DateColumn::LastRun,
                    "2020-05-01 00:00:00",
                    "2020-05-08 00:00:00",
                ),
                ..SearchQuery::default()
            },
            "sort",
            &["Index Only Scan using records_last_run_idx on records m"],
            &["records_last_run_idx"],
        ),
        case(
            "flow, status and 30 days",
            SearchQuery {
                flow: Some("f1".into()),
                status: Some(RecordStatus::FinishedWithErrors),
                dates: range(
                    DateColumn::Created,
                    "2020-05-01 00:00:00",
                    "2020-05-31 00:00:00",
                ),
                ..SearchQuery::default()
            },
            "sort",
            &[
                "records_created_idx",
                "records_flow_idx",
                "records_status_idx",
            ],
            &[
                "records_created_idx",
                "records_flow_idx",
                "records_status_idx",
            ],
        ),
        case(
            "flow, status and data value",
            SearchQuery {
                flow: Some("f1".into()),
                status: Some(RecordStatus::Finished),
                data_field: data_field("client.name", "n9"),
                ..SearchQuery::default()
            },
            "sort",
            &["records_data_idx", "records_flow_idx", "records_status_idx"],
            &["records_data_idx", "records_flow_idx", "records_status_idx"],
        ),
    ];
    let flow_ids: std::collections::HashMap<String, i64> =
        sqlx::query_as("SELECT name, flow_id FROM flows WHERE org_id = $1 AND environment_id = $2")
            .bind(tenant.org_id)
            .bind(tenant.environment_id)
            .fetch_all(&app.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let mut conn = app.pool.acquire().await.unwrap();
    for Case {
        name,
        query,
        strategy,
        page,
        total,
    } in cases
    {
        let plans = flowline_records::explain_search(&mut conn, tenant, &query, false)
            .await
            .unwrap();
        let first_line = plans.page.lines().next().unwrap_or_default();
        assert!(
            first_line.starts_with(&format!("Page strategy: {strategy}:")),
            "{name}: not a {strategy}:\n{}",
            plans.page
        );
        assert!(
            !plans.page.contains("Seq Scan on records"),
            "{name} (page) scans records:\n{}",
            plans.page
        );
        assert!(
            page.iter().any(|index| plans.page.contains(index)),
            "{name} (page) uses none of {page:?}:\n{}",
            plans.page
        );
        if strategy == "sort" {
            assert!(
                !WALKS.iter().any(|walk| plans.page.contains(walk)),
                "{name} (page) walks the newest records:\n{}",
                plans.page
            );
        }
        assert!(
            total.iter().any(|index| plans.total.contains(index)),
            "{name} (total) uses none of {total:?}:\n{}",
            plans.total
        );
        if !total.contains(&"Seq Scan on records") {
            assert!(
                !plans.total.contains("Seq Scan on records"),
                "{name} (total) scans records:\n{}",
                plans.total
            );
        }
        // The same answer as the plainest plan, on the first page and deeper.
        let flow_id = query.flow.as_ref().map(|name| flow_ids[name]);
        for (offset, limit) in [(0, 10), (7, 3), (10_000, 100)] {
            let query = SearchQuery {
                offset,
                limit,
                ..query.clone()
            };
            let found = flowline_records::search(&mut conn, tenant, &query)
                .await
                .unwrap();
            let uuids: Vec<uuid::Uuid> = found.records.iter().map(|record| record.uuid).collect();
            assert_eq!(
                (uuids, found.total),
                plainly(&mut conn, tenant, &query, flow_id).await,
                "{name}, offset {offset}, limit {limit}"
            );
        }
    }
    // A page past the last match is not read at all.
    let past = SearchQuery {
        offset: 5,
        data_field: data_field("client.name", "n11111"),
        ..SearchQuery::default()
    };
    let plans = flowline_records::explain_search(&mut conn, tenant, &past, false)
        .await
        .unwrap();
    assert!(
        plans.page.starts_with("Page strategy: none:") && !plans.page.contains('\n'),
        "{}",
        plans.page
    );
    let found = flowline_records::search(&mut conn, tenant, &past)
        .await
        .unwrap();
    assert_eq!((found.records.len(), found.total), (0, 1));
    let analyzed = flowline_records::explain_search(
        &mut conn,
        tenant,
        &SearchQuery {
            data_field: data_field("client.name", "n11111"),
            ..SearchQuery::default()
        },
        true,
    )
    .await
    .unwrap();
    assert!(analyzed.page.contains("actual time"), "{}", analyzed.page);
    assert!(analyzed.total.contains("actual time"), "{}", analyzed.total);
    let everything = flowline_records::search(&mut conn, tenant, &SearchQuery::default())
        .await
        .unwrap();
    assert_eq!(everything.records.len(), 10);
    assert_eq!(
        everything.total,
        10 + flowline_records::TOTAL_LOOKAHEAD,
        "the total is counted up to a bound"
    );
}
