//! The validated form of a where-rules document. Every value here has passed the bounds and
//! the syntax checks of [`super::parse`], so the back-ends never meet a malformed rule.

use std::fmt;

use super::MAX_FIELD_LENGTH;

/// How the entries of a group combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    And,
    Or,
}

/// `{"condition": …, "rules": […]}`: a list of rules and nested groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub condition: Condition,
    pub entries: Vec<Entry>,
}

/// One entry of a group's `rules` array.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Rule(Box<Rule>),
    Group(Group),
}

/// `{"field": …, "operator": …, "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Where the rule sits in the request (`where.rules[2]`), so that errors found after
    /// parsing (an unknown column, a value of the wrong type for it) can name it.
    pub location: String,
    pub field: FieldPath,
    pub operator: Operator,
    pub operand: Operand,
}

/// The closed set of operators: the union of the reference's keystore and tables lists.
/// Negated operators are kept as such (rather than as `Not(…)`) so that an error message can
/// name the operator the client wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    Between,
    NotBetween,
    In,
    NotIn,
    BeginsWith,
    NotBeginsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
    IsEmpty,
    IsNotEmpty,
}

impl Operator {
    /// Parses an operator name, case-insensitively. `<>` is `!=`; `=>` is `>=`, because the
    /// reference's tables section lists it that way and clients copy it from there.
    pub fn from_name(name: &str) -> Option<Operator> {
        let operator = match name.to_ascii_lowercase().as_str() {
            "=" => Operator::Eq,
            "!=" | "<>" => Operator::Ne,
            "<" => Operator::Lt,
            ">" => Operator::Gt,
            "<=" => Operator::Le,
            ">=" | "=>" => Operator::Ge,
            "like" => Operator::Like,
            "between" => Operator::Between,
            "not_between" => Operator::NotBetween,
            "in" => Operator::In,
            "not_in" => Operator::NotIn,
            "begins_with" => Operator::BeginsWith,
            "not_begins_with" => Operator::NotBeginsWith,
            "ends_with" => Operator::EndsWith,
            "not_ends_with" => Operator::NotEndsWith,
            "contains" => Operator::Contains,
            "not_contains" => Operator::NotContains,
            "is_empty" => Operator::IsEmpty,
            "is_not_empty" => Operator::IsNotEmpty,
            _ => return None,
        };
        Some(operator)
    }

    /// The canonical name, as the reference spells it.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Gt => ">",
            Operator::Le => "<=",
            Operator::Ge => ">=",
            Operator::Like => "LIKE",
            Operator::Between => "between",
            Operator::NotBetween => "not_between",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::BeginsWith => "begins_with",
            Operator::NotBeginsWith => "not_begins_with",
            Operator::EndsWith => "ends_with",
            Operator::NotEndsWith => "not_ends_with",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::IsEmpty => "is_empty",
            Operator::IsNotEmpty => "is_not_empty",
        }
    }

    /// Whether this operator is the complement of another one. A negated operator matches
    /// exactly the values its positive form does not match, missing fields included.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::Ne
                | Operator::NotBetween
                | Operator::NotIn
                | Operator::NotBeginsWith
                | Operator::NotEndsWith
                | Operator::NotContains
                | Operator::IsNotEmpty
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison that orders or equates a stored value with a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Comparison {
    /// The SQL spelling; it comes from this enum, never from the request.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Lt => "<",
            Comparison::Gt => ">",
            Comparison::Le => "<=",
            Comparison::Ge => ">=",
        }
    }

    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Comparison::Eq => ordering == Equal,
            Comparison::Lt => ordering == Less,
            Comparison::Gt => ordering == Greater,
            Comparison::Le => ordering != Greater,
            Comparison::Ge => ordering != Less,
        }
    }
}

/// The checked value of a rule, shaped by its operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `is_empty` / `is_not_empty` take no value.
    None,
    /// `= != < > <= >=`. Only `=` and `!=` accept booleans and null.
    Compare(Comparison, Literal),
    /// `between` / `not_between`: inclusive bounds, in the order given.
    Range(Literal, Literal),
    /// `in` / `not_in`.
    List(Vec<Literal>),
    /// `LIKE` and the begins/ends/contains family, all as one LIKE pattern.
    Pattern(LikePattern),
}

/// A literal from the request, with every reading it admits. A string that spells a JSON
/// number or a boolean can also be compared with stored numbers or booleans: the reference's
/// own examples quote numbers (`"value": "25"`), and requests made in XML carry only text.
/// Stored values keep their JSON type: a stored `"25"` is a string, never a number.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The value as the client wrote it, for messages and typed columns.
    pub json: serde_json::Value,
    pub number: Option<f64>,
    pub text: Option<String>,
    pub boolean: Option<bool>,
    pub null: bool,
}

/// A LIKE pattern: `%` any run of characters, `_` exactly one character, `\` makes the next
/// character literal. Characters are compared by Unicode scalar value, as PostgreSQL's
/// `LIKE … ESCAPE '\'` does in a UTF-8 database; a pattern that ignores case folds only the
/// ASCII letters `A`–`Z` (so `é` never matches `É`), which both back-ends can do identically
/// whatever the database's locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    /// The pattern as the client wrote it (for the case-sensitive operators, with their
    /// wildcards escaped).
    pub source: String,
    pub tokens: Vec<LikeToken>,
    /// Whether ASCII letters match either case: true for `LIKE`, false for `begins_with`,
    /// `ends_with`, `contains` and their negations.
    pub ascii_case_insensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeToken {
    Char(char),
    AnyChar,
    AnyRun,
}

impl LikePattern {
    /// Reads a client's LIKE pattern, which ignores ASCII case; `None` when it ends in a lone
    /// `\`, which PostgreSQL refuses too.
    pub(crate) fn parse(source: &str) -> Option<LikePattern> {
        let mut tokens = Vec::new();
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '\\' => LikeToken::Char(chars.next()?),
                '%' => LikeToken::AnyRun,
                '_' => LikeToken::AnyChar,
                other => LikeToken::Char(other),
            });
        }
        Some(LikePattern {
            source: source.to_owned(),
            tokens,
            ascii_case_insensitive: true,
        })
    }

    /// The pattern PostgreSQL receives: the source, with ASCII letters lowered when the pattern
    /// ignores case (the compared text is lowered the same way). Lowering leaves `%`, `_` and
    /// `\` alone, so the escapes keep their meaning.
    pub fn sql_pattern(&self) -> String {
        if self.ascii_case_insensitive {
            self.source.to_ascii_lowercase()
        } else {
            self.source.clone()
        }
    }

    /// Whether a pattern character accepts a text character.
    pub(crate) fn char_matches(&self, wanted: char, found: char) -> bool {
        if self.ascii_case_insensitive {
            wanted.eq_ignore_ascii_case(&found)
        } else {
            wanted == found
        }
    }

    /// A pattern for `begins_with`, `ends_with` or `contains`: the text with its wildcards
    /// and escapes made literal, then `%` where the operator allows anything.
    pub(crate) fn around(text: &str, any_before: bool, any_after: bool) -> LikePattern {
        let mut source = String::with_capacity(text.len() + 2);
        let mut tokens = Vec::with_capacity(text.len() + 2);
        if any_before {
            source.push('%');
            tokens.push(LikeToken::AnyRun);
        }
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                source.push('\\');
            }
            source.push(c);
            tokens.push(LikeToken::Char(c));
        }
        if any_after {
            source.push('%');
            tokens.push(LikeToken::AnyRun);
        }
        LikePattern {
            source,
            tokens,
            ascii_case_insensitive: false,
        }
    }
}

/// A field path such as `client.age`, `items[0].sku` or `key`: a key, then any number of
/// `.key` and `[N]` steps. Keys are `[A-Za-z_][A-Za-z0-9_-]*` and indexes are plain decimal
/// numbers without leading zeros, below 10^9, so that each segment means the same thing to
/// PostgreSQL's `#>` as to the evaluator and no segment can be mistaken for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(u32),
}

/// Indexes stay below this so that PostgreSQL reads them as a 32-bit integer.
const MAX_INDEX_DIGITS: usize = 9;

impl FieldPath {
    /// Checks and splits a path; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        if text.is_empty() {
            return Err("a field path cannot be empty".to_owned());
        }
        if text.len() > MAX_FIELD_LENGTH {
            return Err(format!(
                "a field path is at most {MAX_FIELD_LENGTH} characters"
            ));
        }
        let invalid = || {
            format!("invalid field path {text:?}: expected names like client.age or items[0].sku")
        };
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let expect_key = at == 0 || bytes[at] == b'.';
            if expect_key {
                if at > 0 {
                    at += 1;
                }
                let start = at;
                if !bytes
                    .get(at)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                {
                    return Err(invalid());
                }
                while bytes
                    .get(at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
                {
                    at += 1;
                }
                segments.push(Segment::Key(text[start..at].to_owned()));
            } else if bytes[at] == b'[' {
                let start = at + 1;
                let Some(length) = text[start..].find(']') else {
                    return Err(invalid());
                };
                let digits = &text[start..start + length];
                let canonical = digits == "0" || !digits.starts_with('0');
                if digits.is_empty()
                    || digits.len() > MAX_INDEX_DIGITS
                    || !canonical
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid());
                }
                let index = digits.parse().map_err(|_| invalid())?;
                segments.push(Segment::Index(index));
                at = start + length + 1;
            } else {
                return Err(invalid());
            }
        }
        Ok(FieldPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as the client wrote it; use this to look a column up in a whitelist.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The path as the `text[]` that PostgreSQL's `#>` and `#>>` take.
    pub fn pg_path(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Key(key) => key.clone(),
                Segment::Index(index) => index.to_string(),
            })
            .collect()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
