//! The SQL back-end against a real PostgreSQL: random rules over random JSONB rows must select
//! exactly the rows the evaluator accepts, typed columns must compare natively, and hostile
//! values must travel as parameters.

use flowline_core::rules::{FieldPath, Rules, SqlFilter, SqlParam};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection, Postgres, Row};

use super::rule;

/// How many random cases the agreement test runs: enough to meet every operator on every
/// type many times, few enough to stay within seconds on one connection.
const AGREEMENT_CASES: u32 = 200;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect() -> PgConnection {
    let options = flowline_db::throwaway::fresh_database().await.unwrap();
    PgConnection::connect_with(&options).await.unwrap()
}

fn bind_all<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &[SqlParam],
) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        query = match param {
            SqlParam::Text(text) => query.bind(text.clone()),
            SqlParam::TextArray(texts) => query.bind(texts.clone()),
            SqlParam::Float(number) => query.bind(*number),
            SqlParam::FloatArray(numbers) => query.bind(numbers.clone()),
            SqlParam::Int(integer) => query.bind(*integer),
            SqlParam::IntArray(integers) => query.bind(integers.clone()),
            SqlParam::Bool(boolean) => query.bind(*boolean),
        };
    }
    query
}

/// Each row's id with the filter's value for it (`None` would be a NULL, which must not happen).
async fn evaluate(
    conn: &mut PgConnection,
    table: &str,
    filter: &SqlFilter,
) -> Vec<(i32, Option<bool>)> {
    let sql = format!("SELECT id, {} FROM {table} ORDER BY id", filter.sql);
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &filter.params)
        .fetch_all(conn)
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}\n{:?}", filter.sql, filter.params));
    rows.iter()
        .map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap()))
        .collect()
}

// --- Random documents and rules, kept where both back-ends are exact: small integers and
// halves (exact in binary), short strings over an alphabet rich in LIKE's special characters
// and in numeric spellings, booleans, null, and shallow arrays and objects.

fn key() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("l"), Just("0")].prop_map(str::to_owned)
}

/// Mostly strings from a small pool, so that literals often equal stored values, and now and
/// then anything over an alphabet of LIKE's special characters, both cases of ASCII and
/// non-ASCII letters (LIKE folds the first and not the second), and `|`, which differs from `\`
/// by the bit that tells ASCII cases apart.
fn short_text() -> impl Strategy<Value = String> {
    let pool = vec![
        "", "a", "ab", "A", "aB", "Ab", "é", "É", "a%", "_", "\\", "|", "1", "10", "-2", "0.5",
        "true", "TRUE",
    ];
    prop_oneof![
        4 => proptest::sample::select(pool).prop_map(str::to_owned),
        1 => "[abB%_\\\\|AéÉ ]{0,3}",
    ]
}

/// Scalars drawn from a small pool, so that a literal often meets its equal in some row.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => (-2i64..=2).prop_map(|n| json!(n)),
        1 => (-2i64..=2).prop_map(|n| json!(n as f64 + 0.5)),
        4 => short_text().prop_map(Value::String),
    ]
}

fn object(members: std::collections::BTreeMap<String, Value>) -> Value {
    Value::Object(members.into_iter().collect::<Map<_, _>>())
}

fn array_of(item: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::vec(item, 0..3).prop_map(Value::Array)
}

fn object_of(member: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(key(), member, 0..3).prop_map(object)
}

/// Mostly scalars, with arrays and objects two levels deep for paths such as `n.a[0]`.
fn stored_value() -> impl Strategy<Value = Value> {
    let shallow = || {
        prop_oneof![
            6 => scalar(),
            1 => array_of(scalar()),
            1 => object_of(scalar()),
        ]
    };
    prop_oneof![
        5 => scalar(),
        1 => array_of(shallow()),
        1 => object_of(shallow()),
    ]
}

/// Objects whose usual fields are usually there (`l` usually an array, `n` usually an
/// object), so that most rules meet a value.
fn document() -> impl Strategy<Value = Value> {
    let present =
        |probability, value: BoxedStrategy<Value>| proptest::option::weighted(probability, value);
    let list = prop_oneof![3 => array_of(stored_value()), 1 => stored_value()].boxed();
    let nested = prop_oneof![3 => object_of(stored_value()), 1 => stored_value()].boxed();
    (
        present(0.9, stored_value().boxed()),
        present(0.9, stored_value().boxed()),
        present(0.8, list),
        present(0.8, nested),
    )
        .prop_map(|(a, b, l, n)| {
            let members = [("a", a), ("b", b), ("l", l), ("n", n)];
            object(
                members
                    .into_iter()
                    .filter_map(|(key, value)| Some((key.to_owned(), value?)))
                    .collect(),
            )
        })
}

/// Paths that usually lead somewhere in [`document`], and some that usually do not.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop_oneof![Just("a"), Just("b")],
        3 => prop_oneof![Just("l[0]"), Just("l[1]"), Just("n.a"), Just("n.b")],
        1 => prop_oneof![Just("n.l[0]"), Just("l[0].a"), Just("n[0]"), Just("a.b"), Just("b[0]")],
    ]
    .prop_map(str::to_owned)
}

fn like_pattern() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("a"),
        Just("b"),
        Just("A"),
        Just("B"),
        Just("é"),
        Just("É"),
        Just("|"),
        Just("1"),
        Just("%"),
        Just("_"),
        Just("\\%"),
        Just("\\_"),
        Just("\\\\"),
        Just("\\a"),
        Just("\\A"),
    ];
    proptest::collection::vec(token, 0..4).prop_map(|tokens| tokens.concat())
}

/// Either casing of an operator name, since names are case-insensitive.
fn spelled(name: &'static str) -> impl Strategy<Value = String> {
    any::<bool>().prop_map(move |upper| {
        if upper {
            name.to_uppercase()
        } else {
            name.to_owned()
        }
    })
}

fn ordered_literal() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..=3).prop_map(|n| json!(n)),
        (-3i64..=3).prop_map(|n| json!(n as f64 + 0.5)),
        short_text().prop_map(Value::String),
    ]
}

fn operator_and_value() -> impl Strategy<Value = (String, Option<Value>)> {
    let with = |value: Value| Some(value);
    prop_oneof![
        (
            prop_oneof![spelled("="), spelled("!="), spelled("<>")],
            scalar()
        )
            .prop_map(move |(operator, value)| (operator, with(value))),
        (
            prop_oneof![
                spelled("<"),
                spelled(">"),
                spelled("<="),
                spelled(">="),
                spelled("=>")
            ],
            ordered_literal()
        )
            .prop_map(move |(operator, value)| (operator, with(value))),
        (
            prop_oneof![spelled("between"), spelled("not_between")],
            ordered_literal(),
            ordered_literal()
        )
            .prop_map(|(operator, low, high)| (operator, Some(json!([low, high])))),
        (
            prop_oneof![spelled("in"), spelled("not_in")],
            proptest::collection::vec(scalar(), 0..4)
        )
            .prop_map(|(operator, items)| (operator, Some(Value::Array(items)))),
        (spelled("like"), like_pattern())
            .prop_map(|(operator, pattern)| (operator, Some(json!(pattern)))),
        (
            prop_oneof![
                spelled("begins_with"),
                spelled("not_begins_with"),
                spelled("ends_with"),
                spelled("not_ends_with"),
                spelled("contains"),
                spelled("not_contains"),
            ],
            short_text()
        )
            .prop_map(|(operator, text)| (operator, Some(json!(text)))),
        prop_oneof![spelled("is_empty"), spelled("is_not_empty")]
            .prop_map(|operator| (operator, None)),
    ]
}

fn rule_document() -> impl Strategy<Value = Value> {
    (path(), operator_and_value()).prop_map(|(field, (operator, value))| {
        let mut rule = json!({"field": field, "operator": operator});
        if let Some(value) = value {
            rule["value"] = value;
        }
        rule
    })
}

fn group_document() -> impl Strategy<Value = Value> {
    let group = |entries: BoxedStrategy<Value>| {
        (
            prop_oneof![Just("AND"), Just("OR"), Just("or")],
            prop_oneof![
                1 => Just(Vec::new()),
                10 => proptest::collection::vec(entries.clone(), 1..=1),
                8 => proptest::collection::vec(entries, 2..4),
            ],
        )
            .prop_map(|(condition, rules)| json!({"condition": condition, "rules": rules}))
    };
    let entry = rule_document().prop_recursive(2, 10, 4, move |inner| group(inner).boxed());
    group(entry.boxed())
}

#[test]
fn sql_over_jsonb_selects_exactly_what_the_evaluator_matches() {
    let runtime = runtime();
    let conn = std::cell::RefCell::new(runtime.block_on(async {
        let mut conn = connect().await;
        sqlx::query("CREATE TABLE rows (id int PRIMARY KEY, doc jsonb NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }));
    // PROPTEST_CASES, proptest's own knob, runs more cases when hunting for a disagreement.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(AGREEMENT_CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (
        group_document(),
        proptest::collection::vec(document(), 0..10),
    );
    let result = TestRunner::new(config).run(&strategy, |(rules_json, documents)| {
        let rules = Rules::parse(&rules_json, "where")
            .map_err(|error| TestCaseError::fail(format!("generated rules refused: {error}")))?;
        let filter = rules.to_jsonb_sql("doc", 1).unwrap();
        let expected: Vec<(i32, Option<bool>)> = (1..)
            .zip(&documents)
            .map(|(id, document)| (id, Some(rules.matches(document))))
            .collect();
        let conn: &mut PgConnection = &mut conn.borrow_mut();
        let actual = runtime.block_on(async {
            sqlx::query("TRUNCATE rows")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO rows (id, doc) \
                 SELECT ordinality::int, value FROM jsonb_array_elements($1) WITH ORDINALITY",
            )
            .bind(sqlx::types::Json(Value::Array(documents.clone())))
            .execute(&mut *conn)
            .await
            .unwrap();
            evaluate(conn, "rows", &filter).await
        });
        prop_assert_eq!(
            &actual,
            &expected,
            "rules {}\nrows {}\nsql {}\nparams {:?}",
            rules_json,
            Value::Array(documents.clone()),
            filter.sql,
            filter.params
        );
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn typed_columns_compare_natively() {
    let runtime = runtime();
    runtime.block_on(async {
        let mut conn = connect().await;
        sqlx::query(
            "CREATE TABLE people (id int PRIMARY KEY, name text, age int8, price float8, \
             active bool, born date, seen timestamptz, extra jsonb)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO people VALUES \
             (1, 'Ann', 35, 9.5, true, '1990-01-02', '2016-05-03 11:47:38+00', '{\"vip\": true}'), \
             (2, 'bob', 17, 20, false, '2008-06-30', '2020-01-01 00:00:00+00', '[]'), \
             (3, '', NULL, NULL, NULL, NULL, NULL, NULL), \
             (4, 'Zoë 50%', 60, 0.5, true, '1960-12-31', '2016-05-03 11:47:39+00', 'null')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let catalog = |field: &FieldPath| super::typed_columns(field, "");
        let cases = [
            (rule("age", ">", json!("35")), vec![4]),
            (rule("age", ">=", json!(35)), vec![1, 4]),
            (rule("age", "!=", json!(35)), vec![2, 3, 4]),
            (rule("age", "between", json!([17, 35])), vec![1, 2]),
            (rule("age", "not_between", json!([17, 35])), vec![3, 4]),
            (rule("age", "in", json!([17, "60"])), vec![2, 4]),
            (rule("age", "in", json!([17.5, 60])), vec![4]),
            (rule("age", "not_in", json!([])), vec![1, 2, 3, 4]),
            (rule("price", "<", json!(10)), vec![1, 4]),
            (rule("active", "=", json!("true")), vec![1, 4]),
            (rule("active", "not_in", json!([false])), vec![1, 3, 4]),
            (rule("born", "<", json!("1990-01-02")), vec![4]),
            (
                rule("born", "in", json!(["2008-06-30", "1960-12-31"])),
                vec![2, 4],
            ),
            (
                rule("seen", ">", json!("2016-05-03T13:47:38+02:00")),
                vec![2, 4],
            ),
            (rule("seen", "=", json!("2016-05-03 11:47:38")), vec![1]),
            (rule("name", "<", json!("a")), vec![1, 3, 4]),
            (rule("name", "LIKE", json!("%50\\%")), vec![4]),
            (rule("name", "LIKE", json!("ANN")), vec![1]),
            (rule("name", "LIKE", json!("B%")), vec![2]),
            (rule("name", "LIKE", json!("zOë%")), vec![4]),
            (rule("name", "LIKE", json!("ZOË%")), vec![]),
            (rule("name", "begins_with", json!("B")), vec![]),
            (rule("name", "contains", json!("%")), vec![4]),
            (rule("name", "begins_with", json!("b")), vec![2]),
            (rule("name", "not_ends_with", json!("n")), vec![2, 3, 4]),
            (rule("name", "=", json!(12)), vec![]),
            (rule("name", "is_empty", Value::Null), vec![3]),
            (rule("age", "is_not_empty", Value::Null), vec![1, 2, 4]),
            (rule("extra", "is_empty", Value::Null), vec![2, 3, 4]),
            (rule("extra", "=", json!(null)), vec![4]),
        ];
        for (rules, expected) in cases {
            let filter = rules.to_sql(1, catalog).unwrap();
            let rows = evaluate(&mut conn, "people", &filter).await;
            assert!(
                rows.iter().all(|(_, matched)| matched.is_some()),
                "NULL from {}",
                filter.sql
            );
            let matched: Vec<i32> = rows
                .into_iter()
                .filter(|(_, m)| *m == Some(true))
                .map(|(id, _)| id)
                .collect();
            assert_eq!(matched, expected, "{rules:?}\n{}", filter.sql);
        }
    });
}

#[test]
fn hostile_values_are_data_not_sql() {
    let runtime = runtime();
    runtime.block_on(async {
        let mut conn = connect().await;
        sqlx::query("CREATE TABLE rows (id int PRIMARY KEY, doc jsonb NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let hostile = "x'); DROP TABLE rows; --";
        sqlx::query("INSERT INTO rows VALUES (1, $1), (2, '{\"name\": \"plain\"}')")
            .bind(sqlx::types::Json(json!({"name": hostile, "pct": "100%"})))
            .execute(&mut conn)
            .await
            .unwrap();
        for (rules, expected) in [
            (rule("name", "=", json!(hostile)), vec![1]),
            (rule("name", "contains", json!("'); DROP")), vec![1]),
            (rule("name", "in", json!([hostile, "\"; --"])), vec![1]),
            (rule("name", "LIKE", json!("x''%")), vec![]),
            (rule("pct", "ends_with", json!("0%")), vec![1]),
            (rule("name", "contains", json!("%")), vec![]),
        ] {
            let filter = rules.to_jsonb_sql("doc", 1).unwrap();
            let matched: Vec<i32> = evaluate(&mut conn, "rows", &filter)
                .await
                .into_iter()
                .filter(|(_, m)| *m == Some(true))
                .map(|(id, _)| id)
                .collect();
            assert_eq!(matched, expected, "{rules:?}");
        }
        let still_there: i64 = sqlx::query_scalar("SELECT count(*) FROM rows")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(still_there, 2);
    });
}
