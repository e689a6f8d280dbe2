//! Argument parsing and validation, before anything reaches the upstream.
//!
//! serde gives the type checks (wrong type, missing or unknown field) and the generated
//! `Validate` impls add the schema's bounds; every problem is reported, each naming its field.

use serde::de::DeserializeOwned;

use crate::error::ToolError;
use crate::tool::JsonObject;

/// Checks a parsed input against the rules of its published schema.
pub trait Validate {
    /// `at` is the path of `self` within the arguments (`""` at the root).
    fn validate(&self, at: &str, errors: &mut ArgErrors);
}

/// The problems found in one set of arguments.
#[derive(Debug, Default)]
pub struct ArgErrors {
    problems: Vec<String>,
}

impl ArgErrors {
    pub fn push(&mut self, path: &str, rule: impl std::fmt::Display) {
        self.problems.push(format!("`{path}` {rule}"));
    }

    pub fn check_string(
        &mut self,
        path: &str,
        value: &str,
        min_length: Option<usize>,
        max_length: Option<usize>,
        email: bool,
    ) {
        let length = value.chars().count();
        if let Some(min) = min_length
            && length < min
        {
            self.push(path, format_args!("must be at least {min} characters long"));
        }
        if let Some(max) = max_length
            && length > max
        {
            self.push(
                path,
                format_args!("must be at most {max} characters long (got {length})"),
            );
        }
        if email && !is_email(value) {
            self.push(path, "must be an email address like name@example.com");
        }
    }

    pub fn check_integer(&mut self, path: &str, value: i64, minimum: Option<i64>, maximum: Option<i64>) {
        self.check_bounds(path, value, minimum, maximum);
    }

    pub fn check_number(&mut self, path: &str, value: f64, minimum: Option<f64>, maximum: Option<f64>) {
        self.check_bounds(path, value, minimum, maximum);
    }

    fn check_bounds<T: PartialOrd + std::fmt::Display>(
        &mut self,
        path: &str,
        value: T,
        minimum: Option<T>,
        maximum: Option<T>,
    ) {
        if let Some(min) = minimum
            && value < min
        {
            self.push(path, format_args!("must be at least {min} (got {value})"));
        }
        if let Some(max) = maximum
            && value > max
        {
            self.push(path, format_args!("must be at most {max} (got {value})"));
        }
    }

    /// `format: date-time`: RFC 3339 with an offset, as the upstream reads it.
    pub fn check_date_time(&mut self, path: &str, value: &str) {
        if crate::rfc3339::parse_time(value).is_err() {
            self.push(
                path,
                format_args!(
                    "must be an RFC 3339 time with an offset, such as 2026-12-31T23:59:59Z (got `{value}`)"
                ),
            );
        }
    }

    /// A value that may be any of several JSON types (`oneOf` of primitives).
    pub fn check_json_types(&mut self, path: &str, value: &serde_json::Value, types: &[&str]) {
        let actual = match value {
            serde_json::Value::String(_) => "string",
            serde_json::Value::Bool(_) => "boolean",
            serde_json::Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::Null => "null",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        };
        let accepted = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !accepted {
            self.push(
                path,
                format_args!("must be one of: {} (got {actual})", types.join(", ")),
            );
        }
    }

    pub fn check_items(
        &mut self,
        path: &str,
        count: usize,
        min_items: Option<usize>,
        max_items: Option<usize>,
    ) {
        if let Some(min) = min_items
            && count < min
        {
            self.push(path, format_args!("must hold at least {min} item(s)"));
        }
        if let Some(max) = max_items
            && count > max
        {
            self.push(path, format_args!("must hold at most {max} items (got {count})"));
        }
    }

    pub fn into_result(self) -> Result<(), ToolError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ToolError::InvalidArguments(self.problems))
        }
    }
}

/// `at.key`, or `key` at the root.
pub fn join_path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// `at[index]`.
pub fn join_index(at: &str, index: usize) -> String {
    format!("{at}[{index}]")
}

/// Deserializes and validates tool arguments into the tool's typed input.
pub fn parse_arguments<T: DeserializeOwned + Validate>(arguments: JsonObject) -> Result<T, ToolError> {
    let value = serde_json::Value::Object(arguments);
    // Path tracking only for arguments that failed: it costs as much as the parse itself.
    let input: T = T::deserialize(&value)
        .or_else(|_| serde_path_to_error::deserialize(&value))
        .map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner().to_string();
            let problem = if path == "." || path.is_empty() {
                inner
            } else {
                format!("`{path}`: {inner}")
            };
            ToolError::InvalidArguments(vec![problem])
        })?;
    let mut errors = ArgErrors::default();
    input.validate("", &mut errors);
    errors.into_result()?;
    Ok(input)
}

/// A deliberately plain check: one `@`, a non-empty local part, a dotted domain, no spaces or
/// control characters, at most 254 characters. The bridge has the final word.
fn is_email(value: &str) -> bool {
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        user_name: String,
        limit: Option<i64>,
    }

    impl Validate for Input {
        fn validate(&self, at: &str, errors: &mut ArgErrors) {
            errors.check_string(&join_path(at, "user_name"), &self.user_name, None, None, true);
            if let Some(limit) = self.limit {
                errors.check_integer(&join_path(at, "limit"), limit, Some(1), Some(100));
            }
        }
    }

    fn parse(json: serde_json::Value) -> Result<Input, ToolError> {
        let serde_json::Value::Object(map) = json else {
            panic!("test input must be an object")
        };
        parse_arguments(map)
    }

    fn problems(result: Result<Input, ToolError>) -> Vec<String> {
        match result {
            Err(ToolError::InvalidArguments(problems)) => problems,
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("arguments were accepted"),
        }
    }

    #[test]
    fn an_unknown_field_is_named() {
        let found = problems(parse(serde_json::json!({"user_name": "a@b.co", "filter": "x"})));
        assert!(found[0].contains("unknown field `filter`"), "{found:?}");
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let found = problems(parse(serde_json::json!({"user_name": "a@b.co", "limit": "ten"})));
        assert!(found[0].starts_with("`limit`"), "{found:?}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let found = problems(parse(serde_json::json!({})));
        assert!(found[0].contains("missing field `user_name`"), "{found:?}");
    }

    #[test]
    fn every_rule_broken_is_reported() {
        let found = problems(parse(
            serde_json::json!({"user_name": "not-an-email", "limit": 500}),
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|p| p.contains("`limit` must be at most 100 (got 500)"))
        );
        assert!(found.iter().any(|p| p.contains("`user_name` must be an email")));
    }

    #[test]
    fn plain_emails_pass_and_odd_ones_fail() {
        assert!(is_email("jane.doe@example.com"));
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a b@c.co", "a@b..co", "a@@b.co", "a@.b.co",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
