//! JSON → [`Group`]: the one place where a where-rules document is checked. Every bound is
//! enforced here, before anything is evaluated or compiled, and every error names the field at
//! fault (`where.rules[2].operator`).

use serde_json::{Map, Value};

use super::ast::{
    Comparison, Condition, Entry, FieldPath, Group, LikePattern, Literal, Operand, Operator, Rule,
};
use super::{MAX_DEPTH, MAX_LIST_ITEMS, MAX_RULES, MAX_VALUE_BYTES};
use crate::{Error, Result};

/// How much of the client's text an error message may quote.
const MAX_QUOTED_CHARS: usize = 40;

pub(super) fn parse(document: &Value, origin: &str) -> Result<Group> {
    let mut rules_seen = 0;
    parse_group(document, origin, 1, &mut rules_seen)
}

fn parse_group(
    value: &Value,
    location: &str,
    depth: usize,
    rules_seen: &mut usize,
) -> Result<Group> {
    let Value::Object(object) = value else {
        return Err(Error::invalid_field(
            location,
            "expected an object with condition and rules",
        ));
    };
    if depth > MAX_DEPTH {
        return Err(Error::invalid_field(
            location,
            format!("groups may nest at most {MAX_DEPTH} deep"),
        ));
    }
    let condition = match object.get("condition") {
        None | Some(Value::Null) => Condition::And,
        Some(Value::String(name)) if name.eq_ignore_ascii_case("and") => Condition::And,
        Some(Value::String(name)) if name.eq_ignore_ascii_case("or") => Condition::Or,
        Some(other) => {
            return Err(Error::invalid_field(
                &format!("{location}.condition"),
                format!("unknown condition {}; expected AND or OR", quoted(other)),
            ));
        }
    };
    let Some(Value::Array(items)) = object.get("rules") else {
        return Err(Error::invalid_field(
            &format!("{location}.rules"),
            "expected an array of rules",
        ));
    };
    let mut entries = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_location = format!("{location}.rules[{index}]");
        *rules_seen += 1;
        if *rules_seen > MAX_RULES {
            return Err(Error::invalid_field(
                &item_location,
                format!("a where clause holds at most {MAX_RULES} rules and groups in all"),
            ));
        }
        entries.push(parse_entry(item, item_location, depth, rules_seen)?);
    }
    Ok(Group { condition, entries })
}

fn parse_entry(
    item: &Value,
    location: String,
    depth: usize,
    rules_seen: &mut usize,
) -> Result<Entry> {
    let Value::Object(object) = item else {
        return Err(Error::invalid_field(
            &location,
            "expected a rule {field, operator, value} or a group {condition, rules}",
        ));
    };
    match (object.contains_key("rules"), object.contains_key("field")) {
        (true, true) => Err(Error::invalid_field(
            &location,
            "an entry is either a rule (field) or a group (rules), not both",
        )),
        (true, false) => parse_group(item, &location, depth + 1, rules_seen).map(Entry::Group),
        (false, _) => parse_rule(object, location).map(|rule| Entry::Rule(Box::new(rule))),
    }
}

fn parse_rule(object: &Map<String, Value>, location: String) -> Result<Rule> {
    let field = match object.get("field") {
        Some(Value::String(text)) => FieldPath::parse(text)
            .map_err(|problem| Error::invalid_field(&format!("{location}.field"), problem))?,
        _ => {
            return Err(Error::invalid_field(
                &format!("{location}.field"),
                "expected the field's name or path as a string",
            ));
        }
    };
    let operator = match object.get("operator") {
        Some(Value::String(name)) => Operator::from_name(name).ok_or_else(|| {
            Error::invalid_field(
                &format!("{location}.operator"),
                format!("unknown operator {}", quoted_text(name)),
            )
        })?,
        _ => {
            return Err(Error::invalid_field(
                &format!("{location}.operator"),
                "expected an operator such as =, LIKE or in",
            ));
        }
    };
    let operand = parse_operand(operator, object.get("value"), &format!("{location}.value"))?;
    Ok(Rule {
        location,
        field,
        operator,
        operand,
    })
}

fn parse_operand(operator: Operator, value: Option<&Value>, location: &str) -> Result<Operand> {
    if matches!(operator, Operator::IsEmpty | Operator::IsNotEmpty) {
        return Ok(Operand::None);
    }
    let Some(value) = value else {
        return Err(Error::invalid_field(
            location,
            format!("operator '{operator}' needs a value"),
        ));
    };
    let ordered = |value: &Value, location: &str| {
        let literal = literal(value, location)?;
        if literal.number.is_none() && literal.text.is_none() {
            return Err(Error::invalid_field(
                location,
                format!("operator '{operator}' compares numbers or strings"),
            ));
        }
        Ok(literal)
    };
    let operand = match operator {
        Operator::Eq | Operator::Ne => Operand::Compare(Comparison::Eq, literal(value, location)?),
        Operator::Lt => Operand::Compare(Comparison::Lt, ordered(value, location)?),
        Operator::Gt => Operand::Compare(Comparison::Gt, ordered(value, location)?),
        Operator::Le => Operand::Compare(Comparison::Le, ordered(value, location)?),
        Operator::Ge => Operand::Compare(Comparison::Ge, ordered(value, location)?),
        Operator::Between | Operator::NotBetween => match value {
            Value::Array(bounds) if bounds.len() == 2 => Operand::Range(
                ordered(&bounds[0], &format!("{location}[0]"))?,
                ordered(&bounds[1], &format!("{location}[1]"))?,
            ),
            _ => {
                return Err(Error::invalid_field(
                    location,
                    format!("operator '{operator}' needs an array of two values, such as [18, 55]"),
                ));
            }
        },
        Operator::In | Operator::NotIn => {
            let Value::Array(items) = value else {
                return Err(Error::invalid_field(
                    location,
                    format!("operator '{operator}' needs an array of values"),
                ));
            };
            if items.len() > MAX_LIST_ITEMS {
                return Err(Error::invalid_field(
                    location,
                    format!("a list holds at most {MAX_LIST_ITEMS} values"),
                ));
            }
            let literals = items
                .iter()
                .enumerate()
                .map(|(index, item)| literal(item, &format!("{location}[{index}]")))
                .collect::<Result<Vec<_>>>()?;
            Operand::List(literals)
        }
        Operator::Like => {
            let source = text(operator, value, location)?;
            let pattern = LikePattern::parse(source).ok_or_else(|| {
                Error::invalid_field(
                    location,
                    "a LIKE pattern cannot end with a lone \\ (write \\\\ for a backslash)",
                )
            })?;
            Operand::Pattern(pattern)
        }
        Operator::BeginsWith | Operator::NotBeginsWith => Operand::Pattern(LikePattern::around(
            text(operator, value, location)?,
            false,
            true,
        )),
        Operator::EndsWith | Operator::NotEndsWith => Operand::Pattern(LikePattern::around(
            text(operator, value, location)?,
            true,
            false,
        )),
        Operator::Contains | Operator::NotContains => Operand::Pattern(LikePattern::around(
            text(operator, value, location)?,
            true,
            true,
        )),
        Operator::IsEmpty | Operator::IsNotEmpty => Operand::None,
    };
    Ok(operand)
}

/// A scalar literal with all its readings (see [`Literal`]).
fn literal(value: &Value, location: &str) -> Result<Literal> {
    let mut literal = Literal {
        json: value.clone(),
        number: None,
        text: None,
        boolean: None,
        null: false,
    };
    match value {
        Value::Null => literal.null = true,
        Value::Bool(boolean) => literal.boolean = Some(*boolean),
        Value::Number(number) => literal.number = number.as_f64().filter(|n| n.is_finite()),
        Value::String(text) => {
            check_text(text, location)?;
            literal.number = json_number(text);
            literal.boolean = match text.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            literal.text = Some(text.clone());
        }
        Value::Array(_) | Value::Object(_) => {
            return Err(Error::invalid_field(
                location,
                "expected a number, a string, a boolean or null",
            ));
        }
    }
    Ok(literal)
}

fn text<'a>(operator: Operator, value: &'a Value, location: &str) -> Result<&'a str> {
    let Value::String(text) = value else {
        return Err(Error::invalid_field(
            location,
            format!("operator '{operator}' needs a string"),
        ));
    };
    check_text(text, location)?;
    Ok(text)
}

/// A text value must fit the bounds and PostgreSQL's `text`, which holds no U+0000.
fn check_text(text: &str, location: &str) -> Result<()> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid_field(
            location,
            format!("a value is at most {MAX_VALUE_BYTES} bytes long"),
        ));
    }
    if text.contains('\0') {
        return Err(Error::invalid_field(
            location,
            "a value cannot hold the character U+0000",
        ));
    }
    Ok(())
}

/// The number a string spells, when it follows JSON's number grammar exactly (no sign `+`,
/// no leading zeros, no spaces, no `NaN`) and fits a finite double. One strict grammar keeps
/// the evaluator and PostgreSQL from disagreeing about what counts as a number.
fn json_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    let integer_start = at;
    let integer_digits = digits(&mut at);
    if integer_digits == 0 || (integer_digits > 1 && bytes[integer_start] == b'0') {
        return None;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        if digits(&mut at) == 0 {
            return None;
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return None;
        }
    }
    if at != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Quotes a value of the client's in a message (see [`quoted_text`]).
pub(super) fn quoted(value: &Value) -> String {
    match value {
        Value::String(text) => quoted_text(text),
        other => quoted_text(&other.to_string()),
    }
}

/// Quotes a piece of the client's text in a message, cut short so that a huge value is not
/// echoed back whole.
fn quoted_text(text: &str) -> String {
    let mut shown: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("'{shown}'")
}

#[cfg(test)]
mod tests {
    use super::json_number;

    #[test]
    fn only_json_number_spellings_are_numbers() {
        for (text, expected) in [
            ("25", Some(25.0)),
            ("-1.5e3", Some(-1500.0)),
            ("0", Some(0.0)),
            ("0.5", Some(0.5)),
            ("1E+2", Some(100.0)),
        ] {
            assert_eq!(json_number(text), expected, "{text}");
        }
        for text in [
            "", "-", "+1", "01", "1.", ".5", "1e", " 1", "1 ", "NaN", "inf", "1e999", "0x10",
        ] {
            assert_eq!(json_number(text), None, "{text}");
        }
    }
}
