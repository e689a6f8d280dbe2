//! SCIM lists: `startIndex`/`count` pages behind an opaque cursor, with the typed filters sent
//! as a SCIM filter, and evaluated here when the upstream refuses it.
//!
//! RFC 7644 lets a service provider support only some filter operators, and the 1Password
//! bridge may accept `eq` alone (SCIM facts §3). When the first page's filter is refused with
//! 400 `invalidFilter`, the same filters are evaluated over unfiltered pages instead: each call
//! reads up to [`LOCAL_REQUESTS_PER_CALL`] upstream pages of [`LIMIT_MAX`] and returns the
//! matches, and its cursor (format version 3) says to keep evaluating locally, at the exact
//! upstream item to go on from, so nothing is skipped or repeated. A page may then be short, and
//! `total_results` is unknown (null).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::{LIMIT_MAX, Structured, ToolContext, ToolOutput, UpstreamRequests, page_limit};
use crate::cursor::{CursorError, CursorPosition, LOCAL_VERSION};
use crate::error::ToolError;
use crate::local_filter::LocalFilters;
use crate::scim_filter::FilterBuilder;
use crate::upstream::{UpstreamRequest, UpstreamResponse};

/// Upstream pages one call may read while filtering locally.
pub const LOCAL_REQUESTS_PER_CALL: u32 = 5;

/// What one call of a SCIM list is asked for.
#[derive(Debug)]
pub struct ScimQuery<'a> {
    pub limit: Option<i64>,
    pub next_cursor: Option<&'a str>,
    /// The typed filters as a SCIM filter, for the upstream.
    pub filter: FilterBuilder,
    /// The same filters, for evaluating here if the upstream refuses them.
    pub local: LocalFilters,
}

/// Where a call starts.
enum Start {
    /// The upstream filters: its `startIndex`.
    Filtered(u64),
    /// The filters are evaluated here: the next upstream item to look at.
    Local(u64),
}

impl ToolContext {
    /// Runs one call of a SCIM list (see the module documentation). `split` takes the typed
    /// list response apart into its items and `totalResults`.
    pub async fn scim_page<R, T>(
        &self,
        request: UpstreamRequest,
        query: ScimQuery<'_>,
        split: fn(R) -> (Vec<T>, Option<i64>),
    ) -> Result<ToolOutput, ToolError>
    where
        R: DeserializeOwned,
        T: Serialize,
    {
        let limit = page_limit(query.limit)?;
        let filter = query.filter.build();
        // The scope binds a cursor to the tool and the exact filter it was issued for.
        let scope = format!("{}\n{}", self.spec().name, filter.as_deref().unwrap_or_default());
        let cursors = &self.shared().cursors;
        let start = match query.next_cursor {
            None => Start::Filtered(1),
            Some(token) => match cursors.open(&scope, token) {
                Ok(position) => Start::Filtered(position.start_index),
                Err(CursorError::UnsupportedVersion(LOCAL_VERSION)) => {
                    Start::Local(cursors.open_local(&scope, token)?.start_index)
                }
                Err(error) => return Err(error.into()),
            },
        };
        let start_index = match start {
            Start::Local(start_index) => {
                return self
                    .local_page(request, &scope, start_index, limit, &query.local, split)
                    .await;
            }
            Start::Filtered(start_index) => start_index,
        };
        let page = page_of(request.clone(), filter.as_deref(), start_index, limit);
        match self.send_json::<R>(page).await {
            Ok((list, response)) => {
                let (items, total) = split(list);
                self.filtered_page(&scope, start_index, items, total, response)
            }
            Err(error) if start_index == 1 && !query.local.is_empty() && refuses_filter(&error) => {
                tracing::warn!(
                    tool = self.spec().name,
                    error = %error,
                    "the upstream refused the filter; evaluating it over unfiltered pages"
                );
                self.local_page(request, &scope, 1, limit, &query.local, split)
                    .await
            }
            Err(error) => Err(error),
        }
    }

    fn filtered_page<T: Serialize>(
        &self,
        scope: &str,
        start_index: u64,
        items: Vec<T>,
        total_results: Option<i64>,
        response: UpstreamResponse,
    ) -> Result<ToolOutput, ToolError> {
        let returned = items.len() as u64;
        let seen = start_index.saturating_sub(1).saturating_add(returned);
        let total = total_results.and_then(|total| u64::try_from(total).ok());
        // An empty page ends the listing even if the total says otherwise, so an upstream that
        // miscounts can never make an agent loop forever.
        let more = returned > 0 && total.is_some_and(|total| seen < total);
        let next_cursor = more.then(|| {
            self.shared().cursors.issue(
                scope,
                CursorPosition {
                    start_index: start_index + returned,
                },
            )
        });
        Ok(ToolOutput {
            structured: Structured::Value(json!({
                "result": items,
                "next_cursor": next_cursor,
                "result_count": returned,
                "total_results": total,
            })),
            rate_limit: response.rate_limit,
            status: response.status,
            upstream_requests: None,
        })
    }

    async fn local_page<R, T>(
        &self,
        request: UpstreamRequest,
        scope: &str,
        start_index: u64,
        limit: u64,
        local: &LocalFilters,
        split: fn(R) -> (Vec<T>, Option<i64>),
    ) -> Result<ToolOutput, ToolError>
    where
        R: DeserializeOwned,
        T: Serialize,
    {
        let mut next_item = start_index;
        let mut result: Vec<Value> = Vec::new();
        let mut last: UpstreamResponse;
        let mut requests = 0;
        let next = loop {
            requests += 1;
            let page = page_of(request.clone(), None, next_item, LIMIT_MAX.unsigned_abs());
            let (list, response) = self.send_json::<R>(page).await?;
            let (items, total) = split(list);
            last = response;
            let returned = items.len() as u64;
            let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
            if let Some(index) = local.take_matching(items, 0, wanted, &mut result)? {
                break Some(next_item + index as u64);
            }
            next_item += returned;
            let exhausted = returned == 0
                || total
                    .and_then(|total| u64::try_from(total).ok())
                    .is_some_and(|total| next_item > total);
            if exhausted {
                break None;
            }
            if result.len() as u64 == limit || requests >= LOCAL_REQUESTS_PER_CALL {
                break Some(next_item);
            }
        };
        let next_cursor = next.map(|start_index| {
            self.shared()
                .cursors
                .issue_local(scope, CursorPosition { start_index })
        });
        let count = result.len();
        Ok(ToolOutput {
            structured: Structured::Value(json!({
                "result": result,
                "next_cursor": next_cursor,
                "result_count": count,
                "total_results": Value::Null,
            })),
            rate_limit: last.rate_limit,
            status: last.status,
            upstream_requests: Some(UpstreamRequests {
                made: requests,
                max: LOCAL_REQUESTS_PER_CALL,
            }),
        })
    }
}

/// The request for one page: the SCIM paging parameters, and the filter when there is one.
fn page_of(request: UpstreamRequest, filter: Option<&str>, start_index: u64, count: u64) -> UpstreamRequest {
    let request = match filter {
        Some(filter) => request.query("filter", filter),
        None => request,
    };
    request
        .query("startIndex", start_index.to_string())
        .query("count", count.to_string())
}

/// 400 `invalidFilter`: the upstream cannot evaluate the filter (RFC 7644 §3.12).
fn refuses_filter(error: &ToolError) -> bool {
    matches!(error, ToolError::Upstream { status: 400, scim, .. } if scim.scim_type.as_deref() == Some("invalidFilter"))
}
