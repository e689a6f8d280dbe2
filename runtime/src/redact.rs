//! Secrets out of what is printed: URLs shown in logs, messages and `config check` carry no
//! password.

/// The URL with its password replaced by `***`.
///
/// The user part ends at the last `@`, so a password with an unencoded `/`, `?` or `@` is
/// still hidden (at worst more than the password is).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host_and_more) = rest.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host_and_more}"),
                None => rest.to_owned(),
            }
        }
        None => rest.to_owned(),
    };
    let Some((before, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{before}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_password_in_the_user_part_or_the_query_is_masked() {
        assert_eq!(
            redact_url("https://scim:hunter2@bridge.example.com/scim/v2"),
            "https://scim:***@bridge.example.com/scim/v2"
        );
        assert_eq!(
            redact_url("postgres://db/registry?user=app&password=hunter2"),
            "postgres://db/registry?user=app&password=***"
        );
        assert_eq!(
            redact_url("https://bridge.example.com"),
            "https://bridge.example.com"
        );
    }
}
