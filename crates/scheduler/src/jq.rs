//! The `transform` step: a jq filter run by jaq over the record's data. The filter sees the
//! record's data as `.` and its first output becomes the new data.
//!
//! jaq's core and standard library are offered without `env`/`$ENV` (the server's environment
//! holds its secrets), `now` and `input`; `halt` ends the filter with an error, never the
//! process (its exception is never unwrapped by jaq's `unwrap_valr`, which would exit).

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;
use serde::Deserialize;
use serde_json::Value;

use crate::error::StepError;

/// Native filters a flow may not call (the standard library's definitions use none of them).
const REFUSED: &[&str] = &["env", "input", "inputs", "now"];

/// Runs `filter` over `input`; the first output, which must be JSON.
pub(crate) fn transform(filter: &str, input: &Value) -> Result<Value, StepError> {
    let input = Val::deserialize(input)
        .map_err(|error| StepError::failed(format!("jq: cannot read the record: {error}")))?;
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !REFUSED.contains(name));
    let arena = Arena::default();
    let program = File {
        code: filter,
        path: (),
    };
    let modules = Loader::new(defs)
        .load(&arena, program)
        .map_err(|errors| StepError::failed(format!("jq: cannot parse the filter: {errors:?}")))?;
    let compiled = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<String> = errors
                .iter()
                .flat_map(|(_, errors)| errors.iter().map(|(name, _)| name.to_string()))
                .collect();
            StepError::failed(format!(
                "jq: the filter uses what does not exist or is not allowed: {}",
                names.join(", ")
            ))
        })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
    let mut outputs = compiled.id.run((ctx, input));
    let first = match outputs.next() {
        None => return Err(StepError::failed("jq: the filter produced no output")),
        Some(Ok(value)) => value,
        Some(Err(exception)) => {
            return Err(match exception.get_err() {
                Ok(error) => StepError::failed(format!("jq: {error}")),
                Err(_) => StepError::failed("jq: the filter stopped (halt is not allowed)"),
            });
        }
    };
    serde_json::from_str(&first.to_string()).map_err(|_| {
        StepError::failed("jq: the filter's output is not JSON (NaN, infinity or bytes)")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_compute_over_the_record() {
        let record = json!({"a": 2, "names": ["x", "y"]});
        assert_eq!(
            transform(".b = .a * 10 | del(.names)", &record).unwrap(),
            json!({"a": 2, "b": 20})
        );
        assert_eq!(
            transform("{n: (.names | map(ascii_upcase) | join(\"-\"))}", &record).unwrap(),
            json!({"n": "X-Y"})
        );
    }

    #[test]
    fn bad_or_dangerous_filters_fail_cleanly() {
        let record = json!({});
        for filter in [
            "env",
            "$ENV",
            "halt",
            "now",
            ".a |",
            "empty",
            "error(\"boom\")",
        ] {
            assert!(transform(filter, &record).is_err(), "{filter}");
        }
        assert_eq!(
            transform("error(\"boom\")", &record)
                .unwrap_err()
                .to_string(),
            "jq: \"boom\""
        );
    }
}
