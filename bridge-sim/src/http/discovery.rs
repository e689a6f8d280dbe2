//! Discovery endpoints and bridge housekeeping, reproduced as recorded (facts §3, §4, §2.1,
//! §1.4), including the recorded quirks: ResourceTypes answers `startIndex: 0` and the User
//! endpoint is the singular `/scim/v2/User`; Schemas omits `startIndex`/`itemsPerPage`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clock::{now_secs, rfc3339};
use crate::error::{ScimError, scim_json};
use crate::model::{GROUP_URN, USER_URN};

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub async fn service_provider_config() -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": 10000 },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "specUri": "https://tools.ietf.org/html/rfc6750",
            "documentationUri": "",
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": "/scim/v2/ServiceProviderConfig",
        },
    });
    scim_json(StatusCode::OK, &body)
}

pub async fn resource_types() -> Response {
    let resource_type = |id: &str, endpoint: &str, description: &str, schema: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "description": description,
            "schema": schema,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("/scim/v2/ResourceTypes/{id}"),
            },
        })
    };
    let body = json!({
        "schemas": [LIST_URN],
        "totalResults": 2,
        "itemsPerPage": 2,
        "startIndex": 0,
        "Resources": [
            resource_type("User", "/scim/v2/User", "User Account", USER_URN),
            resource_type("Group", "/scim/v2/Groups", "Group", GROUP_URN),
        ],
    });
    scim_json(StatusCode::OK, &body)
}

/// One attribute definition in RFC 7643 §7 form.
fn attribute(name: &str, kind: &str, multi: bool, required: bool, mutability: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": "",
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attr: Value, extra: Value) -> Value {
    if let (Value::Object(a), Value::Object(e)) = (&mut attr, extra) {
        a.extend(e);
    }
    attr
}

pub async fn schemas() -> Response {
    let name_part = |n: &str| {
        with(
            attribute(n, "string", false, true, "readWrite"),
            json!({"caseExact": true}),
        )
    };
    let reference = |n: &str, mutability: &str| {
        with(
            attribute(n, "reference", false, false, mutability),
            json!({ "referenceTypes": ["User", "Group"] }),
        )
    };
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_URN,
        "name": "User",
        "description": "User Account",
        "attributes": [
            with(attribute("userName", "string", false, true, "readWrite"),
                 json!({ "returned": "always", "uniqueness": "server" })),
            with(attribute("name", "complex", false, true, "readWrite"), json!({
                "returned": "always",
                "subAttributes": [name_part("givenName"), name_part("familyName"), name_part("formatted")],
            })),
            with(attribute("emails", "complex", true, false, "readWrite"), json!({
                "returned": "always",
                "subAttributes": [
                    attribute("primary", "boolean", false, false, "readWrite"),
                    attribute("type", "string", false, false, "readWrite"),
                    attribute("value", "string", false, false, "readWrite"),
                ],
            })),
            attribute("externalId", "string", false, false, "readWrite"),
            attribute("preferredLanguage", "string", false, false, "readWrite"),
            with(attribute("groups", "complex", true, false, "readOnly"), json!({
                "subAttributes": [
                    reference("$ref", "readOnly"),
                    attribute("value", "string", false, false, "readOnly"),
                    attribute("display", "string", false, false, "readOnly"),
                ],
            })),
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("/scim/v2/Schemas/{USER_URN}"),
        },
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_URN,
        "name": "Group",
        "description": "Group",
        "attributes": [
            attribute("displayName", "string", false, true, "readWrite"),
            with(attribute("members", "complex", true, false, "readWrite"), json!({
                "subAttributes": [
                    attribute("value", "string", false, false, "immutable"),
                    reference("$ref", "immutable"),
                    with(attribute("type", "string", false, false, "immutable"),
                         json!({ "canonicalValues": ["User", "Group"] })),
                ],
            })),
            attribute("externalId", "string", false, false, "readWrite"),
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("/scim/v2/Schemas/{GROUP_URN}"),
        },
    });
    let body = json!({ "schemas": [LIST_URN], "totalResults": 2, "Resources": [user, group] });
    scim_json(StatusCode::OK, &body)
}

/// The `/health` shape of facts §1.4, always healthy.
pub async fn health() -> Response {
    let now = now_secs();
    let reports: Vec<Value> = [
        "ConfirmationWatcher",
        "RedisCache",
        "SCIMServer",
        "StartProvisionWatcher",
    ]
    .iter()
    .map(|source| {
        json!({
            "source": source,
            "time": rfc3339(now),
            "expires": rfc3339(now + 600),
            "state": "healthy",
        })
    })
    .collect();
    let body = json!({
        "build": "bridge-sim",
        "version": env!("CARGO_PKG_VERSION"),
        "reports": reports,
        "retrievedAt": rfc3339(now),
    });
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Unauthenticated availability check (facts §1.1).
pub async fn ping() -> &'static str {
    "pong"
}

pub async fn not_found() -> ScimError {
    ScimError::not_found("no such endpoint")
}

/// Keeps even a wrong-method answer in the SCIM error format clients parse.
pub async fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "method not allowed on this endpoint",
    )
}
