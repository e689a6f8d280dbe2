//! Tool and identifier names.
//!
//! Tool names follow the product's convention (`list_all_1_password_users`,
//! `1_password_users_suspend`) and are derived from the integration label, the resource and the
//! method, never typed per tool. Some clients (Gemini among them) reject a name that starts with a
//! digit, so every tool also has a *portable* name (`one_password_users_suspend`); Rust
//! identifiers always use the portable form, since an identifier cannot start with a digit either.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// The longest tool name any client we know of accepts.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// The snake-cased integration part of tool names: `1Password` -> `1_password`.
pub fn integration_slug(label: &str) -> String {
    // heck keeps a digit glued to the following word (`1password`); the product's names split it.
    let snake = label.to_snake_case();
    let mut out = String::with_capacity(snake.len() + 2);
    let mut previous: Option<char> = None;
    for c in snake.chars() {
        if previous.is_some_and(|p| p.is_ascii_digit()) && c.is_ascii_alphabetic() {
            out.push('_');
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// The default tool name for a resource method, following the product's naming convention.
pub fn default_tool_name(integration: &str, resource: &str, singular: &str, method: &str) -> String {
    match method {
        "list" => format!("list_all_{integration}_{resource}"),
        "get" => format!("get_single_{integration}_{singular}_by_id"),
        "create" => format!("create_a_{integration}_{singular}"),
        "update" => format!("update_a_{integration}_{singular}_by_id"),
        "delete" => format!("delete_a_{integration}_{singular}_by_id"),
        custom => format!("{integration}_{resource}_{custom}"),
    }
}

/// A human-readable title derived the same way (`List all 1Password users`).
pub fn default_title(label: &str, resource: &str, singular: &str, method: &str) -> String {
    let plural = words(resource);
    let one = words(singular);
    match method {
        "list" => format!("List all {label} {plural}"),
        "get" => format!("Get a {label} {one} by id"),
        "create" => format!("Create a {label} {one}"),
        "update" => format!("Update a {label} {one} by id"),
        "delete" => format!("Delete a {label} {one} by id"),
        custom => {
            let verb = words(custom);
            let mut chars = verb.chars();
            let capitalized = match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            };
            format!("{capitalized} ({label} {plural})")
        }
    }
}

fn words(snake: &str) -> String {
    snake.replace('_', " ")
}

/// The portable form of a tool name: a leading run of digits is spelled out in words, so the
/// name matches `^[a-z][a-z0-9_]*$`. Other characters outside that set become `_`.
pub fn portable_name(name: &str) -> String {
    const DIGITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let lowered = name.to_ascii_lowercase();
    let digits: String = lowered.chars().take_while(char::is_ascii_digit).collect();
    let rest = &lowered[digits.len()..];
    let mut out = digits
        .chars()
        .filter_map(|digit| digit.to_digit(10))
        .map(|digit| DIGITS[digit as usize])
        .collect::<Vec<_>>()
        .join("_");
    if !digits.is_empty() && !rest.is_empty() && !rest.starts_with('_') {
        out.push('_');
    }
    out.extend(rest.chars().map(|c| {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// Whether a name satisfies every client we target: `^[A-Za-z0-9_.-]{1,64}$`.
pub fn is_valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether a name satisfies the strictest rule set: `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_portable_tool_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_lowercase())
        && name.len() <= MAX_TOOL_NAME_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A snake_case Rust field or function name for a wire name, made safe for any input: keywords
/// get a trailing `_`, a leading digit gets a `field_` prefix, and anything else non-identifier
/// becomes `_`.
pub fn rust_field_name(wire: &str) -> String {
    let cleaned: String = wire
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut snake = cleaned.to_snake_case();
    if snake.is_empty() {
        snake.push_str("field");
    }
    if snake.starts_with(|c: char| c.is_ascii_digit()) {
        snake.insert_str(0, "field_");
    }
    if syn::parse_str::<syn::Ident>(&snake).is_err() {
        snake.push('_');
    }
    snake
}

/// An UpperCamelCase Rust type name, safe for any input.
pub fn rust_type_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut camel = cleaned.to_upper_camel_case();
    if camel.is_empty() || camel.starts_with(|c: char| c.is_ascii_digit()) {
        camel.insert_str(0, "Type");
    }
    if syn::parse_str::<syn::Ident>(&camel).is_err() {
        camel.push('_');
    }
    camel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_1password_becomes_1_password() {
        assert_eq!(integration_slug("1Password"), "1_password");
    }

    #[test]
    fn default_names_follow_the_product_convention() {
        let slug = integration_slug("1Password");
        assert_eq!(
            default_tool_name(&slug, "users", "user", "list"),
            "list_all_1_password_users"
        );
        assert_eq!(
            default_tool_name(&slug, "users", "user", "get"),
            "get_single_1_password_user_by_id"
        );
        assert_eq!(
            default_tool_name(&slug, "users", "user", "suspend"),
            "1_password_users_suspend"
        );
    }

    #[test]
    fn portable_names_spell_out_a_leading_number() {
        assert_eq!(
            portable_name("1_password_users_suspend"),
            "one_password_users_suspend"
        );
        assert_eq!(portable_name("12abc"), "one_two_abc");
        assert_eq!(
            portable_name("list_all_1_password_users"),
            "list_all_1_password_users"
        );
        assert!(is_portable_tool_name(&portable_name("9-lives.x")));
    }

    #[test]
    fn rust_names_survive_keywords_digits_and_symbols() {
        assert_eq!(rust_field_name("$ref"), "ref_");
        assert_eq!(rust_field_name("type"), "type_");
        assert_eq!(rust_field_name("2fa"), "field_2fa");
        assert_eq!(rust_field_name("userName"), "user_name");
        assert_eq!(rust_type_name("self"), "Self_");
        assert_eq!(rust_type_name("1thing"), "Type1thing");
    }
}
