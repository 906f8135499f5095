//! The evaluator: rules over a `serde_json::Value`, for the flow `condition` and `switch`
//! steps. It is the reference semantics that the SQL back-end must reproduce (the module
//! documentation of [`super`] states them).

use serde_json::Value;

use super::ast::{
    Comparison, Condition, Entry, Group, LikePattern, LikeToken, Literal, Operand, Rule, Segment,
};

pub(super) fn group_matches(group: &Group, document: &Value) -> bool {
    let mut results = group.entries.iter().map(|entry| match entry {
        Entry::Rule(rule) => rule_matches(rule, document),
        Entry::Group(group) => group_matches(group, document),
    });
    match group.condition {
        Condition::And => results.all(|matched| matched),
        Condition::Or => results.any(|matched| matched),
    }
}

fn rule_matches(rule: &Rule, document: &Value) -> bool {
    let value = resolve(document, rule.field.segments());
    operand_matches(&rule.operand, value) != rule.operator.is_negated()
}

/// The value a path selects, or `None` when the field is missing. This mirrors PostgreSQL's
/// `#>`: an index on an object selects the member named by its digits, and a key on an array
/// selects nothing (keys never spell a number).
fn resolve<'a>(document: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    segments
        .iter()
        .try_fold(document, |current, segment| match (current, segment) {
            (Value::Object(members), Segment::Key(key)) => members.get(key),
            (Value::Object(members), Segment::Index(index)) => members.get(&index.to_string()),
            (Value::Array(items), Segment::Index(index)) => usize::try_from(*index)
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        })
}

/// The positive form of an operator: whether the selected value satisfies the operand.
fn operand_matches(operand: &Operand, value: Option<&Value>) -> bool {
    if let Operand::None = operand {
        return is_empty(value);
    }
    let Some(value) = value else {
        return false;
    };
    match operand {
        Operand::None => false,
        Operand::Compare(comparison, literal) => compare(*comparison, value, literal),
        Operand::Range(low, high) => {
            compare(Comparison::Ge, value, low) && compare(Comparison::Le, value, high)
        }
        Operand::List(items) => items
            .iter()
            .any(|item| compare(Comparison::Eq, value, item)),
        Operand::Pattern(pattern) => {
            matches!(value, Value::String(text) if like(pattern, text))
        }
    }
}

/// Compares a stored value with the reading of the literal that has the stored value's type;
/// without such a reading nothing holds.
fn compare(comparison: Comparison, stored: &Value, literal: &Literal) -> bool {
    match stored {
        Value::Number(number) => match (number.as_f64(), literal.number) {
            (Some(stored), Some(wanted)) => stored
                .partial_cmp(&wanted)
                .is_some_and(|ordering| comparison.holds(ordering)),
            _ => false,
        },
        Value::String(stored) => literal
            .text
            .as_deref()
            .is_some_and(|wanted| comparison.holds(stored.as_str().cmp(wanted))),
        Value::Bool(stored) => comparison == Comparison::Eq && literal.boolean == Some(*stored),
        Value::Null => comparison == Comparison::Eq && literal.null,
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(members)) => members.is_empty(),
        Some(Value::Bool(_) | Value::Number(_)) => false,
    }
}

/// LIKE by the classic wildcard walk: on a mismatch, go back to the last `%` and let it take
/// one more character. Linear in practice, O(pattern × text) at worst, and both are bounded.
fn like(pattern: &LikePattern, text: &str) -> bool {
    let tokens = pattern.tokens.as_slice();
    let chars: Vec<char> = text.chars().collect();
    let (mut token, mut at) = (0, 0);
    // Where to resume after the last `%`: the token after it and the character it stopped at.
    let mut resume: Option<(usize, usize)> = None;
    while at < chars.len() {
        match tokens.get(token) {
            Some(LikeToken::AnyRun) => {
                token += 1;
                resume = Some((token, at));
            }
            Some(LikeToken::AnyChar) => {
                token += 1;
                at += 1;
            }
            Some(LikeToken::Char(wanted)) if pattern.char_matches(*wanted, chars[at]) => {
                token += 1;
                at += 1;
            }
            _ => match resume {
                Some((after_run, run_end)) => {
                    token = after_run;
                    at = run_end + 1;
                    resume = Some((after_run, run_end + 1));
                }
                None => return false,
            },
        }
    }
    tokens[token..]
        .iter()
        .all(|remaining| *remaining == LikeToken::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::like;
    use crate::rules::LikePattern;

    fn matches(pattern: &str, text: &str) -> bool {
        let Some(pattern) = LikePattern::parse(pattern) else {
            panic!("valid pattern {pattern:?}")
        };
        like(&pattern, text)
    }

    #[test]
    fn like_follows_postgresql() {
        assert!(matches("lond%", "london"));
        assert!(matches("lond%", "London"), "LIKE ignores ASCII case");
        assert!(matches("LOND_N", "london"));
        assert!(!matches("é%", "É"), "only ASCII letters fold");
        assert!(!matches("\\%", "|"), "folding never touches the escape");
        assert!(matches("%", ""));
        assert!(matches("%%", "abc"));
        assert!(!matches("_", ""));
        assert!(matches("_", "é"), "_ is one character, not one byte");
        assert!(matches("a%b%c", "aXbYbZc"));
        assert!(!matches("a%b%c", "aXbYbZ"));
        assert!(matches("%a_c", "abcaxc"));
        assert!(matches("100\\%", "100%"));
        assert!(!matches("100\\%", "1000"));
        assert!(matches("a\\_b", "a_b"));
        assert!(!matches("a\\_b", "axb"));
        assert!(matches("back\\\\slash", "back\\slash"));
        assert!(
            matches("\\q", "q"),
            "an escaped ordinary character is itself"
        );
        assert!(LikePattern::parse("ends in \\").is_none());
    }

    #[test]
    fn begins_ends_contains_escape_wildcards() {
        let pattern = LikePattern::around("5%_\\", true, true);
        assert_eq!(pattern.source, "%5\\%\\_\\\\%");
        assert!(like(&pattern, "x5%_\\y"));
        assert!(!like(&pattern, "x5abc\\y"));
        let begins = LikePattern::around("Lon", false, true);
        assert!(like(&begins, "London"));
        assert!(!like(&begins, "london"), "begins_with stays case-sensitive");
    }
}
