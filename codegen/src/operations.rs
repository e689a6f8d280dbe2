//! The spec's operations, and how the docs YAML names them.
//!
//! An operation is named by its `operationId`, or by `METHOD /path` (`POST /api/v1/auditevents`)
//! when it has none, or one that is no identifier at all (`find pet by id`): vendors publish
//! both, and a generator that needs the spec edited first is not yet a generator.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Operation, Parameter, ReferenceOr};

use crate::diagnostics::Diagnostics;
use crate::model::HttpMethod;

/// One operation of the spec, with the parameters its path item declares for every method.
pub struct OperationRef<'a> {
    pub path: &'a str,
    pub method: HttpMethod,
    pub operation: &'a Operation,
    pub path_parameters: &'a [ReferenceOr<Parameter>],
}

impl OperationRef<'_> {
    /// `POST /api/v1/auditevents`: the name every operation has, with or without an id.
    pub fn route(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }

    /// Where diagnostics about it point.
    pub fn location(&self) -> String {
        format!(
            "openapi: paths.{}.{}",
            self.path,
            self.method.as_str().to_lowercase()
        )
    }

    pub fn is_deprecated(&self) -> bool {
        self.operation.deprecated
    }
}

/// Every operation, by route, with the index of the names the docs YAML may use.
pub struct Operations<'a> {
    by_route: BTreeMap<String, OperationRef<'a>>,
    /// `operationId` -> route, for the ids that are unique.
    ids: BTreeMap<&'a str, String>,
}

impl<'a> Operations<'a> {
    pub fn index(spec: &'a OpenAPI, diags: &mut Diagnostics) -> Self {
        let mut by_route = BTreeMap::new();
        let mut ids: BTreeMap<&'a str, String> = BTreeMap::new();
        let mut shared_ids = Vec::new();
        for (path, item) in &spec.paths.paths {
            let ReferenceOr::Item(item) = item else {
                diags.push(
                    format!("openapi: paths.{path}"),
                    "path item references are not supported",
                );
                continue;
            };
            let methods = [
                (HttpMethod::Get, &item.get),
                (HttpMethod::Post, &item.post),
                (HttpMethod::Put, &item.put),
                (HttpMethod::Patch, &item.patch),
                (HttpMethod::Delete, &item.delete),
            ];
            for (method, operation) in methods {
                let Some(operation) = operation else { continue };
                let entry = OperationRef {
                    path,
                    method,
                    operation,
                    path_parameters: &item.parameters,
                };
                let route = entry.route();
                if let Some(id) = operation.operation_id.as_deref()
                    && let Some(other) = ids.insert(id, route.clone())
                {
                    diags.warn(
                        entry.location(),
                        format!("operationId `{id}` is also used by {other}; the docs YAML names these by `METHOD /path`"),
                    );
                    shared_ids.push(id);
                }
                by_route.insert(route, entry);
            }
            // OPTIONS, HEAD and TRACE describe the transport, not something an agent does.
        }
        for id in shared_ids {
            ids.remove(id);
        }
        Self { by_route, ids }
    }

    /// The operation the docs YAML names: an `operationId`, or `METHOD /path`.
    pub fn find(&self, name: &str) -> Option<&OperationRef<'a>> {
        if let Some(route) = self.ids.get(name) {
            return self.by_route.get(route);
        }
        let (method, path) = name.trim().split_once(' ')?;
        self.by_route
            .get(&format!("{} {}", method.to_ascii_uppercase(), path.trim()))
    }

    /// The route of the operation `name` names, for coverage bookkeeping.
    pub fn route_of(&self, name: &str) -> Option<String> {
        self.find(name).map(OperationRef::route)
    }

    pub fn iter(&self) -> impl Iterator<Item = &OperationRef<'a>> {
        self.by_route.values()
    }

    /// How the docs YAML would name this operation in a message: its id when it has a usable
    /// one, else its route.
    pub fn display_name(&self, operation: &OperationRef<'_>) -> String {
        match operation.operation.operation_id.as_deref() {
            Some(id) if self.ids.get(id) == Some(&operation.route()) => id.to_owned(),
            _ => operation.route(),
        }
    }
}
