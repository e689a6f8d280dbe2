//! List requests: query parameters, pagination and attribute projection (RFC 7644 §3.4.2).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::{ScimError, ScimType};
use crate::filter::{self, Filter, Schema};
use crate::model::{USER_RETURNED_ALWAYS, USER_URN};
use crate::store::Face;

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The list parameters the bridge honours. `sortBy`/`sortOrder` are accepted and ignored, as the
/// bridge does (facts §3: sort unsupported, yet the recorded sorted request succeeded).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub start_index: usize,
    pub count: usize,
    pub projection: Projection,
}

/// `attributes` / `excludedAttributes`, applied to top-level attributes.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl ListParams {
    /// `operators`: the comparison operators accepted (`None`: all).
    pub fn from_query(
        query: &HashMap<String, String>,
        schema: &Schema,
        max_page_size: usize,
        operators: Option<&[filter::CompareOp]>,
    ) -> Result<Self, ScimError> {
        let filter = match query.get("filter") {
            Some(text) if !text.trim().is_empty() => {
                let f = filter::parse(text).and_then(|f| schema.validate(&f).map(|()| f));
                let f = f.map_err(|e| ScimError::bad_request(ScimType::InvalidFilter, e.to_string()))?;
                if let Some(allowed) = operators
                    && let Some(refused) = f.operators().into_iter().find(|op| !allowed.contains(op))
                {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidFilter,
                        format!("the operator `{}` is not supported", refused.as_str()),
                    ));
                }
                Some(f)
            }
            _ => None,
        };
        // A zero maximum would make every page empty; the smallest useful page is one.
        let max_page_size = max_page_size.max(1);
        let start: i64 = int_param(query, "startIndex")?.unwrap_or(1);
        let count: i64 = int_param(query, "count")?.unwrap_or(max_page_size as i64);
        Ok(ListParams {
            filter,
            start_index: start.max(1) as usize,
            count: (count.max(0) as usize).min(max_page_size),
            projection: Projection::from_query(query),
        })
    }

    /// Builds a ListResponse over `items` (already filtered, in creation order); `render` turns
    /// an item into JSON and is only called for the returned page.
    pub fn respond<T>(&self, items: &[T], render: impl Fn(&T) -> Value) -> Value {
        let skip = self.start_index - 1;
        let page: Vec<Value> = items
            .iter()
            .skip(skip)
            .take(self.count)
            .map(|item| self.projection.apply(render(item)))
            .collect();
        json!({
            "schemas": [LIST_URN],
            "totalResults": items.len(),
            "itemsPerPage": page.len(),
            "startIndex": self.start_index,
            "Resources": page,
        })
    }
}

impl ListParams {
    /// The same ListResponse as [`ListParams::respond`], filtering cached faces and splicing
    /// their text (re-rendered only when `attributes`/`excludedAttributes` ask for it).
    pub fn respond_faces(&self, faces: &[Face]) -> String {
        let matched: Vec<&Face> = match &self.filter {
            Some(filter) => faces.iter().filter(|f| filter.matches(&f.json)).collect(),
            None => faces.iter().collect(),
        };
        let page = matched.iter().skip(self.start_index - 1).take(self.count);
        let mut out = format!(
            r#"{{"schemas":["{LIST_URN}"],"totalResults":{},"itemsPerPage":{},"startIndex":{},"Resources":["#,
            matched.len(),
            page.len(),
            self.start_index
        );
        for (i, face) in page.enumerate() {
            if i > 0 {
                out.push(',');
            }
            if self.projection.is_empty() {
                out.push_str(&face.text);
            } else {
                out.push_str(&self.projection.apply(face.json.clone()).to_string());
            }
        }
        out.push_str("]}");
        out
    }
}

impl Projection {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    pub fn from_query(query: &HashMap<String, String>) -> Self {
        let list = |key: &str| -> Vec<String> {
            query
                .get(key)
                .map(|v| {
                    v.split(',')
                        .map(|s| top_level(s.trim()))
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        Projection {
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        }
    }

    /// Keeps `schemas`, `id` and `meta` regardless, and the attributes the advertised schema
    /// marks `returned: always` (RFC 7643 §7: returned "regardless of the contents of the
    /// 'attributes' parameter", and not excludable either, RFC 7644 §3.4.2.5).
    pub fn apply(&self, mut resource: Value) -> Value {
        let returned_always = returned_always(&resource);
        if let Value::Object(map) = &mut resource {
            let always = |k: &str| {
                ["schemas", "id", "meta"]
                    .iter()
                    .chain(returned_always)
                    .any(|a| a.eq_ignore_ascii_case(k))
            };
            let listed = |list: &[String], k: &str| list.iter().any(|a| a.eq_ignore_ascii_case(k));
            if !self.attributes.is_empty() {
                map.retain(|k, _| always(k) || listed(&self.attributes, k));
            }
            map.retain(|k, _| always(k) || !listed(&self.excluded, k));
        }
        resource
    }
}

/// The attributes `GET /Schemas` advertises as `returned: always` for the resource's schema
/// (facts §2.1: `userName`, `name` and `emails` on users; none on groups).
fn returned_always(resource: &Value) -> &'static [&'static str] {
    let is_user = resource["schemas"]
        .as_array()
        .is_some_and(|schemas| schemas.iter().any(|s| s.as_str() == Some(USER_URN)));
    if is_user { USER_RETURNED_ALWAYS } else { &[] }
}

/// `urn:...:User:name.givenName` -> `name`: projection works on whole top-level attributes.
fn top_level(path: &str) -> String {
    let after_urn = path.rsplit(':').next().unwrap_or(path);
    after_urn.split('.').next().unwrap_or(after_urn).to_owned()
}

fn int_param(query: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ScimError> {
    query
        .get(key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::bad_request(ScimType::InvalidValue, format!("`{key}` must be an integer"))
            })
        })
        .transpose()
}
