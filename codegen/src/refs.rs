//! `$ref`s to components other than schemas: request bodies, responses, parameters.
//!
//! Vendors share these as components and chain them (1Password's Events API names
//! `AuditEventsRequest`, which is only a `$ref` to `CursorRequest`), so a reference is followed
//! to its end, and a cycle is reported instead of looped on.

use indexmap::IndexMap;
use openapiv3::{Components, OpenAPI, Parameter, ReferenceOr, RequestBody, Response};

use crate::diagnostics::Diagnostics;

/// How many references one chain may take: more is a cycle, or a spec nobody can read.
const MAX_CHAIN: usize = 16;

pub fn request_body<'a>(
    spec: &'a OpenAPI,
    body: &'a ReferenceOr<RequestBody>,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<&'a RequestBody> {
    follow(
        spec,
        body,
        "requestBodies",
        |components| &components.request_bodies,
        location,
        diags,
    )
}

pub fn response<'a>(
    spec: &'a OpenAPI,
    response: &'a ReferenceOr<Response>,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<&'a Response> {
    follow(
        spec,
        response,
        "responses",
        |components| &components.responses,
        location,
        diags,
    )
}

pub fn parameter<'a>(
    spec: &'a OpenAPI,
    parameter: &'a ReferenceOr<Parameter>,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<&'a Parameter> {
    follow(
        spec,
        parameter,
        "parameters",
        |components| &components.parameters,
        location,
        diags,
    )
}

fn follow<'a, T>(
    spec: &'a OpenAPI,
    start: &'a ReferenceOr<T>,
    kind: &str,
    section: impl Fn(&'a Components) -> &'a IndexMap<String, ReferenceOr<T>>,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<&'a T> {
    let prefix = format!("#/components/{kind}/");
    let mut current = start;
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let reference = match current {
            ReferenceOr::Item(item) => return Some(item),
            ReferenceOr::Reference { reference } => reference.as_str(),
        };
        if seen.contains(&reference) || seen.len() >= MAX_CHAIN {
            seen.push(reference);
            diags.push(location, format!("$ref cycle: {}", seen.join(" -> ")));
            return None;
        }
        seen.push(reference);
        let Some(name) = reference.strip_prefix(&prefix) else {
            diags.push(
                location,
                format!("unsupported $ref `{reference}`: only local {prefix} references are followed here"),
            );
            return None;
        };
        match spec
            .components
            .as_ref()
            .map(&section)
            .and_then(|found| found.get(name))
        {
            Some(next) => current = next,
            None => {
                diags.push(location, format!("unknown $ref `{reference}`"));
                return None;
            }
        }
    }
}
