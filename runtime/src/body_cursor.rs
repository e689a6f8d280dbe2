//! Lists behind a body cursor: the first page is asked for with a reset body (page size, time
//! window), later pages with the upstream's own `{"cursor": ...}`, and each answer says
//! `has_more` (1Password's Events API, facts §4).
//!
//! The model sees the same list tool as for SCIM: `limit`, an opaque signed `next_cursor`, and
//! `{result, next_cursor, result_count}`. Underneath, one call reads upstream pages until it has
//! `limit` items that pass the local filters, the upstream has no more, or it has made
//! [`BodyCursor::requests_per_call`] requests (an upstream may answer `has_more: true` with
//! empty pages; the call then ends with a `next_cursor`, never an early end and never an
//! endless loop). Where it stops inside an upstream page, the next call fetches that page again
//! with the same upstream cursor and skips what was already returned, so nothing is skipped or
//! repeated. The upstream page size is fixed per listing, so a page fetched again is the page
//! it was.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::context::{LIMIT_MAX, Structured, ToolContext, ToolOutput, UpstreamRequests, page_limit};
use crate::cursor::BodyPosition;
use crate::error::ToolError;
use crate::local_filter::LocalFilters;
use crate::upstream::UpstreamRequest;

/// How one tool's list reaches its upstream; generated from the docs YAML.
#[derive(Clone, Copy, Debug)]
pub struct BodyCursor {
    /// The field carrying the upstream's cursor in the body that continues a listing.
    pub cursor_field: &'static str,
    /// The reset body's page-size field.
    pub page_size_field: &'static str,
    /// The largest page the upstream serves: asked for when filtering locally.
    pub upstream_max: i64,
    /// At most this many upstream requests per tool call.
    pub requests_per_call: u32,
    /// The reset body's start-time field, and the window the upstream assumes when it is absent
    /// (the Events API: an hour); the start is then pinned in the cursor, so that fetching the
    /// first page again asks for the same window.
    pub default_window: Option<(&'static str, Duration)>,
}

/// One upstream page, as a generated handler takes its typed answer apart.
#[derive(Debug)]
pub struct UpstreamPage<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// What one call is asked for.
#[derive(Debug)]
pub struct BodyCursorQuery<'a> {
    pub limit: Option<i64>,
    pub next_cursor: Option<&'a str>,
    /// The reset body's fields from the tool's arguments (a time window).
    pub reset: Map<String, Value>,
    pub filters: LocalFilters,
}

impl ToolContext {
    /// Runs one call of a body_cursor list (see the module documentation).
    pub async fn body_cursor_page<R, T>(
        &self,
        request: UpstreamRequest,
        plan: &BodyCursor,
        query: BodyCursorQuery<'_>,
        split: fn(R) -> UpstreamPage<T>,
    ) -> Result<ToolOutput, ToolError>
    where
        R: DeserializeOwned,
        T: Serialize,
    {
        let limit = usize::try_from(page_limit(query.limit)?).unwrap_or(usize::MAX);
        // The cursor is bound to the tool, the reset fields and the filters: the listing they
        // describe. `limit` may change from call to call.
        let scope = format!(
            "{}\n{}\n{}",
            self.spec().name,
            Value::Object(query.reset.clone()),
            query.filters.canonical()
        );
        let mut position = match query.next_cursor {
            Some(token) => self.shared().cursors.open_body(&scope, token)?,
            None => BodyPosition {
                upstream: None,
                skip: 0,
                pinned_start: None,
            },
        };
        if position.upstream.is_none()
            && position.pinned_start.is_none()
            && let Some((field, window)) = plan.default_window
            && !query.reset.contains_key(field)
        {
            let start = SystemTime::now()
                .checked_sub(window)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            position.pinned_start = Some(crate::rfc3339::format_time(start));
        }
        // Fixed per listing (the filters are part of its scope), so a page fetched again is the
        // same page: large when most items may be filtered out, else the largest `limit`.
        let page_size = if query.filters.is_empty() {
            LIMIT_MAX
        } else {
            plan.upstream_max
        };

        let mut result: Vec<Value> = Vec::new();
        let mut last = None;
        let mut refused_rate_limit = None;
        let mut requests = 0;
        let next = loop {
            let body = match &position.upstream {
                Some(cursor) => json!({ plan.cursor_field: cursor }),
                None => {
                    let mut reset = query.reset.clone();
                    reset.insert(plan.page_size_field.to_owned(), json!(page_size));
                    if let (Some((field, _)), Some(start)) = (plan.default_window, &position.pinned_start) {
                        reset.entry(field.to_owned()).or_insert_with(|| json!(start));
                    }
                    Value::Object(reset)
                }
            };
            requests += 1;
            let answer = self.send_json::<R>(request.clone().json_body(&body)?).await;
            let (page, response) = match answer {
                Ok(answer) => answer,
                // Progress already made is kept: the caller gets it, and a cursor that asks
                // for the failed page again.
                Err(error) if requests > 1 && error.upstream_status().is_some() => {
                    refused_rate_limit = error.rate_limit().cloned();
                    break Some(position);
                }
                Err(error) => return Err(error),
            };
            let page = split(page);
            last = Some(response);
            let skip = usize::try_from(position.skip).unwrap_or(usize::MAX);
            if let Some(index) = query
                .filters
                .take_matching(page.items, skip, limit, &mut result)?
            {
                position.skip = u32::try_from(index).unwrap_or(u32::MAX);
                break Some(position);
            }
            if !page.has_more {
                break None;
            }
            let Some(cursor) = page.cursor else {
                return Err(ToolError::UnexpectedResponse(
                    "the upstream says it has more but sent no cursor".into(),
                ));
            };
            // The same cursor back (an empty page, `has_more: true`) is no progress: where this
            // page was to be read from still stands, skip included.
            if position.upstream.as_deref() != Some(cursor.as_str()) {
                position = BodyPosition {
                    upstream: Some(cursor),
                    skip: 0,
                    pinned_start: position.pinned_start,
                };
            }
            if result.len() == limit || requests >= plan.requests_per_call {
                break Some(position);
            }
        };
        let next_cursor =
            match next {
                Some(position) => Some(self.shared().cursors.issue_body(&scope, &position).ok_or_else(
                    || ToolError::UnexpectedResponse("the upstream's cursor is too long to carry".into()),
                )?),
                None => None,
            };
        let (rate_limit, status) = last
            .map(|response| (response.rate_limit, response.status))
            .unwrap_or((None, 200));
        let rate_limit = refused_rate_limit.or(rate_limit);
        let count = result.len();
        Ok(ToolOutput {
            structured: Structured::Value(json!({
                "result": result,
                "next_cursor": next_cursor,
                "result_count": count,
            })),
            rate_limit,
            status,
            upstream_requests: Some(UpstreamRequests {
                made: requests,
                max: plan.requests_per_call,
            }),
        })
    }
}
