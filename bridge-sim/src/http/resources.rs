//! Users and Groups handlers (facts §1.3: POST answers 200, DELETE 204).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::error::{ScimError, ScimType, scim_json, scim_text};
use crate::events::audit;
use crate::filter::Schema;
use crate::listing::{ListParams, Projection};
use crate::model::{Group, User};

type QueryMap = Result<Query<HashMap<String, String>>, QueryRejection>;
type Answer = Result<Response, ScimError>;

pub async fn list_users(State(s): State<AppState>, query: QueryMap) -> Answer {
    let query = query_map(query)?;
    let params = ListParams::from_query(
        &query,
        &Schema::USER,
        s.config.max_page_size,
        s.config.filter_operators.as_deref(),
    )?;
    let body = params.respond_faces(s.read().user_faces());
    Ok(scim_text(StatusCode::OK, body))
}

pub async fn get_user(State(s): State<AppState>, Path(id): Path<String>, query: QueryMap) -> Answer {
    let projection = Projection::from_query(&query_map(query)?);
    let dir = s.read();
    let user = dir
        .user(&id)
        .ok_or_else(|| ScimError::not_found(format!("user {id} not found")))?;
    Ok(scim_json(StatusCode::OK, &projection.apply(user.to_json())))
}

pub async fn create_user(State(s): State<AppState>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let user = s.write().create_user(&body)?;
    s.events.record(audit::user_changed(None, &user));
    Ok(scim_json(StatusCode::OK, &user.to_json()))
}

pub async fn replace_user(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let (before, user) = change_user(&s, &id, |dir| dir.replace_user(&id, &body))?;
    s.events.record(audit::user_changed(before.as_ref(), &user));
    Ok(scim_json(StatusCode::OK, &user.to_json()))
}

pub async fn patch_user(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let (before, user) = change_user(&s, &id, |dir| dir.patch_user(&id, &body))?;
    s.events.record(audit::user_changed(before.as_ref(), &user));
    Ok(scim_json(StatusCode::OK, &user.to_json()))
}

pub async fn delete_user(State(s): State<AppState>, Path(id): Path<String>) -> Answer {
    let (before, user) = change_user(&s, &id, |dir| {
        dir.delete_user(&id)?;
        dir.user(&id)
            .cloned()
            .ok_or_else(|| ScimError::not_found(format!("user {id} not found")))
    })?;
    s.events.record(audit::user_changed(before.as_ref(), &user));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Runs a change of user `id` under one write lock: the user before it, and after.
fn change_user(
    s: &AppState,
    id: &str,
    change: impl FnOnce(&mut crate::store::Directory) -> Result<User, ScimError>,
) -> Result<(Option<User>, User), ScimError> {
    let mut dir = s.write();
    let before = dir.user(id).cloned();
    let after = change(&mut dir)?;
    Ok((before, after))
}

/// Runs a change of groups under one write lock, then records what it changed.
fn change_group(
    s: &AppState,
    id: Option<&str>,
    change: impl FnOnce(&mut crate::store::Directory) -> Result<Option<Group>, ScimError>,
) -> Result<Option<Value>, ScimError> {
    let mut dir = s.write();
    let before = id.and_then(|id| dir.group(id).cloned());
    let after = change(&mut dir)?;
    let events = audit::group_changed(before.as_ref(), after.as_ref(), |member| dir.user(member));
    let face = after.as_ref().map(|group| dir.group_json(group));
    drop(dir);
    s.events.record(events);
    Ok(face)
}

pub async fn list_groups(State(s): State<AppState>, query: QueryMap) -> Answer {
    let query = query_map(query)?;
    let params = ListParams::from_query(
        &query,
        &Schema::GROUP,
        s.config.max_page_size,
        s.config.filter_operators.as_deref(),
    )?;
    let dir = s.read();
    let faces: Vec<Value> = match &params.filter {
        None => {
            let page: Vec<_> = dir.groups().iter().collect();
            return Ok(scim_json(
                StatusCode::OK,
                &params.respond(&page, |g| dir.group_json(g)),
            ));
        }
        Some(filter) => dir
            .groups()
            .iter()
            .map(|g| dir.group_json(g))
            .filter(|v| filter.matches(v))
            .collect(),
    };
    Ok(scim_json(StatusCode::OK, &params.respond(&faces, Value::clone)))
}

pub async fn get_group(State(s): State<AppState>, Path(id): Path<String>, query: QueryMap) -> Answer {
    let projection = Projection::from_query(&query_map(query)?);
    let dir = s.read();
    let group = dir
        .group(&id)
        .ok_or_else(|| ScimError::not_found(format!("group {id} not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &projection.apply(dir.group_json(group)),
    ))
}

pub async fn create_group(State(s): State<AppState>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let face = change_group(&s, None, |dir| dir.create_group(&body).map(Some))?;
    Ok(scim_json(StatusCode::OK, &face.unwrap_or_default()))
}

pub async fn replace_group(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let face = change_group(&s, Some(&id), |dir| dir.replace_group(&id, &body).map(Some))?;
    Ok(scim_json(StatusCode::OK, &face.unwrap_or_default()))
}

pub async fn patch_group(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let face = change_group(&s, Some(&id), |dir| dir.patch_group(&id, &body).map(Some))?;
    Ok(scim_json(StatusCode::OK, &face.unwrap_or_default()))
}

pub async fn delete_group(State(s): State<AppState>, Path(id): Path<String>) -> Answer {
    change_group(&s, Some(&id), |dir| dir.delete_group(&id).map(|()| None))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn query_map(query: QueryMap) -> Result<HashMap<String, String>, ScimError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, e.body_text()))
}

/// Clients send `application/scim+json` or `application/json`; both are accepted, so the body
/// is read as bytes rather than through axum's `Json` (which insists on the latter).
fn json_body(bytes: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::bad_request(ScimType::InvalidSyntax, format!("request body is not JSON: {e}"))
    })
}
