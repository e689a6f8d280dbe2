//! Users and groups as the bridge stores them, and their JSON faces.
//!
//! 1Password keeps one full-name string per person, so `displayName` and `name.formatted` are the
//! same value and `givenName`/`familyName` travel with it (facts §2.2). When a request changes
//! only `displayName`, the name is re-derived by splitting at the first space (the recorded
//! rename); when it changes the name parts, `displayName` follows them. `emails` is always the
//! single primary address equal to `userName`, because that is all the bridge ever returned.

use serde_json::{Map, Value, json};

use crate::error::{ScimError, ScimType};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The User attributes `GET /Schemas` advertises as `returned: always` (facts §2.1).
pub const USER_RETURNED_ALWAYS: &[&str] = &["userName", "name", "emails"];

/// A provisioned person.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    /// The full name; doubles as `name.formatted`.
    pub display_name: String,
    pub active: bool,
    pub preferred_language: String,
    pub external_id: Option<String>,
}

/// A group; members are user ids in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
    pub created: u64,
    pub last_modified: u64,
}

impl User {
    /// The resource as returned by GET (facts §2.2: no `meta.created`, no `groups`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "schemas": [USER_URN],
            "id": self.id,
            "userName": self.user_name,
            "name": {
                "givenName": self.given_name,
                "familyName": self.family_name,
                "formatted": self.display_name,
            },
            "displayName": self.display_name,
            "active": self.active,
            "emails": [{ "value": self.user_name, "primary": true }],
            "preferredLanguage": self.preferred_language,
        });
        if let Some(ext) = &self.external_id {
            v["externalId"] = Value::from(ext.as_str());
        }
        v["meta"] = json!({ "resourceType": "User" });
        v
    }

    /// Builds a user from a POST/PUT body (the id comes from the server).
    pub fn from_body(id: String, body: &Value) -> Result<User, ScimError> {
        let obj = as_object(body)?;
        let user_name = required_string(obj, "userName")?;
        let name = obj.get("name").filter(|v| !v.is_null());
        let name = name.map(as_object).transpose()?;
        let given = name.map(|n| opt_string(n, "givenName")).transpose()?.flatten();
        let family = name.map(|n| opt_string(n, "familyName")).transpose()?.flatten();
        let formatted = name.map(|n| opt_string(n, "formatted")).transpose()?.flatten();
        let display = opt_string(obj, "displayName")?;
        let mut user = User {
            id,
            user_name,
            given_name: String::new(),
            family_name: String::new(),
            display_name: String::new(),
            active: opt_bool(obj, "active")?.unwrap_or(true),
            preferred_language: opt_string(obj, "preferredLanguage")?.unwrap_or_else(|| "en".to_owned()),
            external_id: opt_string(obj, "externalId")?,
        };
        if given.is_some() || family.is_some() {
            user.set_name_parts(given.unwrap_or_default(), family.unwrap_or_default());
        } else if let Some(full) = display.or(formatted) {
            user.set_full_name(&full);
        } else {
            let local = user.user_name.split('@').next().unwrap_or_default().to_owned();
            user.set_full_name(&local);
        }
        Ok(user)
    }

    /// Reads back a PATCHed JSON face and reconciles names and emails with `before`.
    pub fn from_patched(before: &User, patched: &Value) -> Result<User, ScimError> {
        let obj = as_object(patched)?;
        let mut user = before.clone();
        user.user_name = required_string(obj, "userName")?;
        user.active = opt_bool(obj, "active")?.unwrap_or(before.active);
        user.preferred_language = opt_string(obj, "preferredLanguage")?.unwrap_or_else(|| "en".to_owned());
        user.external_id = opt_string(obj, "externalId")?;

        let name = obj.get("name").filter(|v| !v.is_null());
        let name = name.map(as_object).transpose()?;
        let part = |key| -> Result<String, ScimError> {
            Ok(name
                .map(|n| opt_string(n, key))
                .transpose()?
                .flatten()
                .unwrap_or_default())
        };
        let (given, family) = (part("givenName")?, part("familyName")?);
        let formatted = name.map(|n| opt_string(n, "formatted")).transpose()?.flatten();
        // A removed `displayName` or `name.formatted` leaves the full name as it was: the bridge
        // derives both from the one full-name string it keeps (facts §2.2), so removing them must
        // not blank the person's name.
        let display = opt_string(obj, "displayName")?;
        let changed = |full: &Option<String>| full.as_ref().filter(|f| **f != before.display_name).cloned();
        if given != before.given_name || family != before.family_name {
            user.set_name_parts(given, family);
        } else if let Some(display) = changed(&display) {
            user.set_full_name(&display);
        } else if let Some(formatted) = changed(&formatted) {
            user.set_full_name(&formatted);
        }

        // The bridge has exactly one address per person: a changed primary email is a change of
        // userName, unless the request changed userName itself.
        if user.user_name == before.user_name
            && let Some(email) = primary_email(obj)?
        {
            user.user_name = email;
        }
        if user.user_name.trim().is_empty() {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "userName must not be empty",
            ));
        }
        Ok(user)
    }

    fn set_name_parts(&mut self, given: String, family: String) {
        self.display_name = join_name(&given, &family);
        self.given_name = given;
        self.family_name = family;
    }

    fn set_full_name(&mut self, full: &str) {
        let (given, family) = full.split_once(' ').unwrap_or((full, ""));
        self.given_name = given.to_owned();
        self.family_name = family.to_owned();
        self.display_name = full.to_owned();
    }
}

impl Group {
    /// The resource as returned by GET. `display_of` maps a member id to its display name.
    pub fn to_json(&self, display_of: impl Fn(&str) -> Option<String>) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|id| {
                let mut m = json!({ "value": id });
                if let Some(display) = display_of(id) {
                    m["display"] = Value::from(display);
                }
                m
            })
            .collect();
        let mut v = json!({
            "schemas": [GROUP_URN],
            "id": self.id,
            "displayName": self.display_name,
        });
        if let Some(ext) = &self.external_id {
            v["externalId"] = Value::from(ext.as_str());
        }
        v["members"] = Value::Array(members);
        v["meta"] = json!({
            "resourceType": "Group",
            "created": crate::clock::rfc3339(self.created),
            "lastModified": crate::clock::rfc3339(self.last_modified),
        });
        v
    }

    /// Builds a group from a POST/PUT body, or reads back a PATCHed face; `is_user` validates
    /// member ids (an unknown id is `invalidValue`: the bridge cannot add a person it lacks).
    pub fn from_json(
        id: String,
        body: &Value,
        now: u64,
        is_user: impl Fn(&str) -> bool,
    ) -> Result<Group, ScimError> {
        let obj = as_object(body)?;
        let display_name = required_string(obj, "displayName")?;
        let mut members: Vec<String> = Vec::new();
        match obj.get("members") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let value = item
                        .get("value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid_value("each member needs a string `value`"))?;
                    if !is_user(value) {
                        return Err(invalid_value(format!("no user with id `{value}`")));
                    }
                    if !members.iter().any(|m| m == value) {
                        members.push(value.to_owned());
                    }
                }
            }
            Some(_) => return Err(invalid_value("`members` must be an array")),
        }
        Ok(Group {
            id,
            display_name,
            external_id: opt_string(obj, "externalId")?,
            members,
            created: now,
            last_modified: now,
        })
    }
}

fn join_name(given: &str, family: &str) -> String {
    match (given.is_empty(), family.is_empty()) {
        (false, false) => format!("{given} {family}"),
        (false, true) => given.to_owned(),
        _ => family.to_owned(),
    }
}

fn primary_email(obj: &Map<String, Value>) -> Result<Option<String>, ScimError> {
    let Some(emails) = obj.get("emails").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let items = emails
        .as_array()
        .ok_or_else(|| invalid_value("`emails` must be an array"))?;
    let pick = items
        .iter()
        // The last primary wins: PATCH `add` appends, so a newly added primary comes last.
        .rfind(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| items.first());
    match pick {
        None => Ok(None),
        Some(e) => e
            .get("value")
            .and_then(Value::as_str)
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| invalid_value("each email needs a string `value`")),
    }
}

fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn as_object(v: &Value) -> Result<&Map<String, Value>, ScimError> {
    v.as_object()
        .ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "expected a JSON object"))
}

/// Finds a key case-insensitively: attribute names are case-insensitive (RFC 7643 §2.1).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid_value(format!("`{key}` must be a string"))),
    }
}

fn required_string(obj: &Map<String, Value>, key: &str) -> Result<String, ScimError> {
    match opt_string(obj, key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(invalid_value(format!("`{key}` is required"))),
    }
}

/// Entra ID has been known to send booleans as the strings "True"/"False"; the bridge supports
/// Entra, so we accept those too.
fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, ScimError> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid_value(format!("`{key}` must be a boolean"))),
    }
}
