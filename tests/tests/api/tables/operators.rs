//! Every operator the reference lists, over typed columns of every type, against rows with
//! NULLs, empty strings, non-ASCII text and LIKE wildcards (see `people_rows`).

use super::*;

/// `(field, operator, value, ids of the matching people)`.
fn cases() -> Vec<(&'static str, &'static str, Value, Vec<i64>)> {
    vec![
        // string (indexed), ordered by bytes: "Ada" < "Bob" < "Carla" < "Dan_%" < "bob" < "Éva"
        ("name", "=", json!("Bob"), vec![2]),
        ("name", "!=", json!("Bob"), vec![1, 3, 4, 5, 6]),
        ("name", "<>", json!("Bob"), vec![1, 3, 4, 5, 6]),
        ("name", "<", json!("C"), vec![1, 2]),
        ("name", ">", json!("Carla"), vec![4, 5, 6]),
        ("name", "<=", json!("Bob"), vec![1, 2]),
        ("name", ">=", json!("Dan_%"), vec![4, 5, 6]),
        ("name", "=>", json!("Dan_%"), vec![4, 5, 6]),
        ("name", "between", json!(["B", "D"]), vec![2, 3]),
        ("name", "not_between", json!(["B", "D"]), vec![1, 4, 5, 6]),
        ("name", "in", json!(["Ada", "bob", "zzz"]), vec![1, 4]),
        ("name", "not_in", json!(["Ada", "bob"]), vec![2, 3, 5, 6]),
        ("name", "begins_with", json!("B"), vec![2]),
        ("name", "not_begins_with", json!("B"), vec![1, 3, 4, 5, 6]),
        ("name", "ends_with", json!("a"), vec![1, 3, 6]),
        ("name", "not_ends_with", json!("a"), vec![2, 4, 5]),
        ("name", "contains", json!("_%"), vec![5]),
        ("name", "contains", json!("_"), vec![5]),
        ("name", "not_contains", json!("o"), vec![1, 3, 5, 6]),
        ("name", "begins_with", json!("É"), vec![6]),
        ("name", "is_empty", Value::Null, vec![]),
        ("name", "is_not_empty", Value::Null, vec![1, 2, 3, 4, 5, 6]),
        // string (not indexed), with NULL (Bob) and "" (Carla)
        ("nick", "is_empty", Value::Null, vec![2, 3]),
        ("nick", "is_not_empty", Value::Null, vec![1, 4, 5, 6]),
        ("nick", "=", json!(""), vec![3]),
        ("nick", "!=", json!("ada"), vec![2, 3, 4, 5, 6]),
        ("nick", "contains", json!("%"), vec![5]),
        ("nick", "not_contains", json!("b"), vec![1, 2, 3, 5, 6]),
        // integer (indexed), NULL for bob (4)
        ("age", "=", json!(36), vec![1, 6]),
        ("age", "=", json!("36"), vec![1, 6]),
        ("age", "!=", json!(36), vec![2, 3, 4, 5]),
        ("age", "<", json!(25), vec![2]),
        ("age", ">", json!(36), vec![3]),
        ("age", ">", json!(35.5), vec![1, 3, 6]),
        ("age", "<=", json!(25), vec![2, 5]),
        ("age", ">=", json!("36"), vec![1, 3, 6]),
        ("age", "between", json!([17, 36]), vec![1, 2, 5, 6]),
        ("age", "not_between", json!([17, 36]), vec![3, 4]),
        ("age", "in", json!([17, "52"]), vec![2, 3]),
        ("age", "not_in", json!([17, 52]), vec![1, 4, 5, 6]),
        ("age", "is_empty", Value::Null, vec![4]),
        ("age", "is_not_empty", Value::Null, vec![1, 2, 3, 5, 6]),
        // number
        ("score", "=", json!(7), vec![3]),
        ("score", "!=", json!(7), vec![1, 2, 4, 5, 6]),
        ("score", ">", json!("4.25"), vec![1, 3]),
        ("score", "<", json!(0), vec![5]),
        ("score", "<=", json!(0), vec![5, 6]),
        ("score", ">=", json!(9.5), vec![1]),
        ("score", "between", json!([-2, 0]), vec![5, 6]),
        ("score", "not_between", json!([-2, 0]), vec![1, 2, 3, 4]),
        ("score", "in", json!([9.5, 0]), vec![1, 6]),
        ("score", "not_in", json!([9.5, 0]), vec![2, 3, 4, 5]),
        ("score", "is_empty", Value::Null, vec![4]),
        // boolean
        ("active", "=", json!(true), vec![1, 3, 6]),
        ("active", "=", json!("false"), vec![2, 5]),
        ("active", "!=", json!(true), vec![2, 4, 5]),
        ("active", "<>", json!(false), vec![1, 3, 4, 6]),
        ("active", "in", json!([false]), vec![2, 5]),
        ("active", "not_in", json!([true]), vec![2, 4, 5]),
        ("active", "is_empty", Value::Null, vec![4]),
        ("active", "is_not_empty", Value::Null, vec![1, 2, 3, 5, 6]),
        // date
        ("born", "=", json!("2000-02-29"), vec![5]),
        ("born", "!=", json!("2000-02-29"), vec![1, 2, 3, 4, 6]),
        ("born", "<", json!("1900-01-01"), vec![1]),
        ("born", ">", json!("1990-01-01"), vec![2, 5]),
        ("born", "<=", json!("1990-01-01"), vec![1, 3, 6]),
        ("born", ">=", json!("2000-01-01"), vec![2, 5]),
        (
            "born",
            "between",
            json!(["1970-01-01", "2000-12-31"]),
            vec![3, 5, 6],
        ),
        (
            "born",
            "not_between",
            json!(["1970-01-01", "2000-12-31"]),
            vec![1, 2, 4],
        ),
        (
            "born",
            "in",
            json!(["1815-12-10", "1990-01-01"]),
            vec![1, 6],
        ),
        ("born", "not_in", json!(["1815-12-10"]), vec![2, 3, 4, 5, 6]),
        ("born", "is_empty", Value::Null, vec![4]),
        // datetime, in the API's format or RFC 3339
        ("seen", "=", json!("2024-01-01 10:00:00"), vec![1]),
        ("seen", "=", json!("2024-01-01T11:00:00+01:00"), vec![1]),
        (
            "seen",
            "!=",
            json!("2024-01-01 10:00:00"),
            vec![2, 3, 4, 5, 6],
        ),
        ("seen", ">", json!("2024-01-01 10:00:00"), vec![2, 5, 6]),
        ("seen", "<", json!("2024-01-01T10:00:00Z"), vec![4]),
        ("seen", "<=", json!("2024-01-01 10:00:00"), vec![1, 4]),
        ("seen", ">=", json!("2024-02-01 12:30:00"), vec![2, 6]),
        (
            "seen",
            "between",
            json!(["2024-01-01 00:00:00", "2024-01-31 23:59:59"]),
            vec![1, 5],
        ),
        (
            "seen",
            "not_between",
            json!(["2024-01-01 00:00:00", "2024-01-31 23:59:59"]),
            vec![2, 3, 4, 6],
        ),
        (
            "seen",
            "in",
            json!(["2024-06-30 00:00:00", "2024-01-01 10:00:01"]),
            vec![5, 6],
        ),
        (
            "seen",
            "not_in",
            json!(["2024-06-30 00:00:00"]),
            vec![1, 2, 3, 4, 5],
        ),
        ("seen", "is_empty", Value::Null, vec![3]),
        ("seen", "is_not_empty", Value::Null, vec![1, 2, 4, 5, 6]),
        // json: the whole value, with JSON's types
        ("meta", "=", json!("x"), vec![3]),
        ("meta", "!=", json!("x"), vec![1, 2, 4, 5, 6]),
        ("meta", "is_empty", Value::Null, vec![4, 5]),
        ("meta", "is_not_empty", Value::Null, vec![1, 2, 3, 6]),
        ("meta", "in", json!(["x", "y"]), vec![3]),
        ("meta", "begins_with", json!("x"), vec![3]),
        // the system columns
        ("id", "=", json!(3), vec![3]),
        ("id", "in", json!(["1", 2]), vec![1, 2]),
        ("id", ">", json!(4), vec![5, 6]),
        ("id", "not_between", json!([2, 5]), vec![1, 6]),
        (
            "date_created",
            "is_not_empty",
            Value::Null,
            vec![1, 2, 3, 4, 5, 6],
        ),
        ("date_updated", "<", json!("2000-01-01 00:00:00"), vec![]),
    ]
}

#[tokio::test]
async fn every_operator_works_on_every_column_type() {
    let app = spawn_app().await;
    people(&app).await;
    let mut failures = Vec::new();
    for (field, operator, value, expected) in cases() {
        let request = json!({"where": rule(field, operator, value.clone())});
        let answer = search(&app, "people", request).await;
        let found = ids(&answer);
        if found != expected {
            failures.push(format!(
                "{field} {operator} {value}: {found:?}, expected {expected:?}"
            ));
        }
        assert_eq!(
            answer["max_results"],
            json!(expected.len()),
            "{field} {operator} {value}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn rules_combine_in_nested_and_or_groups() {
    let app = spawn_app().await;
    people(&app).await;
    let either = json!({"condition": "OR", "rules": [
        {"field": "age", "operator": "=", "value": 17},
        {"condition": "AND", "rules": [
            {"field": "active", "operator": "=", "value": true},
            {"field": "score", "operator": ">", "value": 8},
        ]},
    ]});
    assert_eq!(
        ids(&search(&app, "people", json!({"where": either})).await),
        [1, 2]
    );
    let both = json!({"rules": [
        {"field": "age", "operator": ">=", "value": 25},
        {"field": "name", "operator": "not_begins_with", "value": "D"},
        {"field": "born", "operator": "is_not_empty"},
    ]});
    assert_eq!(
        ids(&search(&app, "people", json!({"where": both})).await),
        [1, 3, 6]
    );
    let nothing = json!({"condition": "or", "rules": []});
    assert_eq!(
        ids(&search(&app, "people", json!({"where": nothing})).await),
        Vec::<i64>::new()
    );
    let everything = json!({"condition": "AND", "rules": []});
    assert_eq!(
        ids(&search(&app, "people", json!({"where": everything})).await).len(),
        6
    );
}

#[tokio::test]
async fn values_that_do_not_fit_a_column_are_400s_naming_the_rule() {
    let app = spawn_app().await;
    people(&app).await;
    let cases = [
        (
            rule("age", "=", json!("abc")),
            "where.rules[0].value: 'abc' is not a number",
        ),
        (
            rule("active", "<", json!("true")),
            "where.rules[0].value: operator '<' does not order booleans",
        ),
        (
            rule("age", "begins_with", json!("3")),
            "where.rules[0].value: operator 'begins_with' works on text columns only",
        ),
        (
            rule("born", "=", json!("2020-13-01")),
            "where.rules[0].value: '2020-13-01' is not a date",
        ),
        (
            rule("seen", ">", json!("soon")),
            "where.rules[0].value: 'soon' is not a date and time",
        ),
        (rule("age", "between", json!([1])), "where.rules[0].value: "),
        (rule("age", "in", json!(5)), "where.rules[0].value: "),
        (
            rule("nosuch", "=", json!(1)),
            "where.rules[0].field: unknown column 'nosuch' in table 'people'",
        ),
        (
            rule("meta.k", "=", json!(1)),
            "where.rules[0].field: unknown column 'meta.k'",
        ),
        (
            rule("age", "~", json!(1)),
            "where.rules[0].operator: unknown operator '~'",
        ),
        (
            json!({"condition": "XOR", "rules": []}),
            "where.condition: unknown condition",
        ),
        (
            json!({"condition": "AND"}),
            "where.rules: expected an array",
        ),
        (json!("age > 5"), "where: expected an object"),
    ];
    for (document, message) in cases {
        let response = post(
            &app,
            "/v1/tables/people/search",
            &json!({"where": document}),
        )
        .await;
        assert_error(response, 400, 400, message).await;
    }
}
