//! One async handler per tool, mapping the typed input onto the upstream request through the
//! runtime facade, and the typed response back.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{doc, ident, input_type};
use crate::docs::{FilterOperator, QueryType};
use crate::model::{
    Api, BodyCursorPaging, BodyPlan, BodyTemplate, InputRole, OutputPlan, PaginationPlan, PathPart, Tool,
};

pub fn emit(api: &Api) -> TokenStream {
    let handlers = api.tools.iter().map(handler);
    quote! {
        #[allow(unused_imports)]
        use runtime::__codegen::{
            BodyCursor, BodyCursorQuery, CompareOp, Duration, FilterBuilder, FilterValue, JsonObject,
            LocalFilters, Method, ScimQuery, ToolContext, ToolError, ToolOutput, UpstreamPage, UpstreamRequest,
            Value, json_object, quote_string,
        };

        use super::{inputs, types};

        #(#handlers)*
    }
}

fn handler(tool: &Tool) -> TokenStream {
    let name = ident(&tool.portable_name);
    let input = input_type(&tool.portable_name);
    let route = tool
        .path
        .iter()
        .map(|part| match part {
            PathPart::Literal(text) => text.clone(),
            PathPart::Param(name) => format!("{{{name}}}"),
        })
        .collect::<Vec<_>>()
        .join("/");
    let docs = doc(&format!(
        "`{}`: {} /{}",
        tool.name,
        tool.http_method.as_str(),
        route
    ));
    let method = ident(tool.http_method.as_str());

    let filters = tool.inputs.iter().filter_map(|input| {
        let InputRole::Filter {
            attribute,
            operator,
            ty,
        } = &input.role
        else {
            return None;
        };
        let field = ident(&input.name);
        // The same clause for the upstream, and for evaluating here should it refuse it: the
        // JSON path is the attribute without its schema URN.
        let local_path = Literal::string(attribute.rsplit(':').next().unwrap_or(attribute));
        let attribute = Literal::string(attribute);
        let operator = ident(operator_variant(*operator));
        let value = filter_value(*ty);
        Some(quote! {
            if let Some(value) = input.#field {
                let value = #value;
                filter.push(#attribute, CompareOp::#operator, value.clone())?;
                local.push(&[#local_path], CompareOp::#operator, value);
            }
        })
    });
    let filters: Vec<TokenStream> = filters.collect();
    let (filter_binding, local_binding) = if filters.is_empty() {
        (quote!(filter), quote!(local))
    } else {
        (quote!(mut filter), quote!(mut local))
    };
    let paging = match &tool.pagination {
        Some(PaginationPlan::Scim(_)) => Some(quote! {
            let #filter_binding = FilterBuilder::new();
            let #local_binding = LocalFilters::new();
            #(#filters)*
            let query = ScimQuery {
                limit: input.limit,
                next_cursor: input.next_cursor.as_deref(),
                filter,
                local,
            };
        }),
        Some(PaginationPlan::BodyCursor(_)) => Some(body_cursor_query(tool)),
        None => None,
    };

    let path = tool.path.iter().map(|part| match part {
        PathPart::Literal(text) => {
            let text = Literal::string(text);
            quote!(.literal(#text))
        }
        PathPart::Param(name) => {
            let field = ident(name);
            quote!(.param(&input.#field))
        }
    });
    let queries = tool.inputs.iter().filter_map(|input| {
        let InputRole::Query(wire) = &input.role else {
            return None;
        };
        let field = ident(&input.name);
        let wire = Literal::string(wire);
        Some(if input.required {
            quote!(.query_value(#wire, &input.#field)?)
        } else {
            quote!(.query_optional(#wire, input.#field.as_ref())?)
        })
    });

    let (body_setup, body_call) = match &tool.body {
        BodyPlan::None | BodyPlan::Paged => (TokenStream::new(), TokenStream::new()),
        BodyPlan::Fields { type_name } => {
            let body_type = ident(type_name);
            let fields = tool.inputs.iter().filter_map(|input| {
                let InputRole::Body(_) = &input.role else {
                    return None;
                };
                let field = ident(&input.name);
                Some(quote!(#field: input.#field,))
            });
            (
                quote! { let body = inputs::#body_type { #(#fields)* }; },
                quote!(.json_body(&body)?),
            )
        }
        BodyPlan::Template(template) => {
            let value = template_tokens(template);
            (quote! { let body = #value; }, quote!(.json_body(&body)?))
        }
    };

    let call = match (&tool.output, &tool.pagination) {
        (OutputPlan::Page(_), Some(PaginationPlan::BodyCursor(plan))) => body_cursor_call(plan),
        (OutputPlan::Page(_), Some(PaginationPlan::Scim(plan))) => {
            let response_type = ident(&plan.response_type);
            let items = ident(&plan.items_field);
            let total = ident(&plan.total_field);
            let items = if plan.items_optional {
                quote!(list.#items.unwrap_or_default())
            } else {
                quote!(list.#items)
            };
            let total = if plan.total_optional {
                quote!(list.#total)
            } else {
                quote!(Some(list.#total))
            };
            quote! {
                cx.scim_page(request, query, |list: types::#response_type| (#items, #total)).await
            }
        }
        (OutputPlan::Typed(type_name), _) | (OutputPlan::Page(type_name), None) => {
            let output = ident(type_name);
            quote!(cx.call::<types::#output>(request).await)
        }
        (OutputPlan::List(item), _) => {
            let item = ident(item);
            quote!(cx.call_list::<types::#item>(request).await)
        }
        (OutputPlan::NoContent, _) => quote!(cx.call_no_content(request).await),
    };
    let uses_input = !tool.inputs.is_empty();
    let input_binding = if uses_input { quote!(input) } else { quote!(_input) };

    quote! {
        #docs
        pub async fn #name(
            cx: &ToolContext,
            #input_binding: inputs::#input,
        ) -> Result<ToolOutput, ToolError> {
            #paging
            #body_setup
            let request = UpstreamRequest::new(Method::#method)
                #(#path)*
                #(#queries)*
                #body_call;
            #call
        }
    }
}

/// The local filters and reset fields of a body_cursor list, gathered into its query.
fn body_cursor_query(tool: &Tool) -> TokenStream {
    let filters: Vec<TokenStream> = tool
        .inputs
        .iter()
        .filter_map(|input| {
            let InputRole::LocalFilter { paths, operator, ty } = &input.role else {
                return None;
            };
            let field = ident(&input.name);
            let paths = paths.iter().map(|path| Literal::string(path));
            let operator = ident(operator_variant(*operator));
            let value = filter_value(*ty);
            Some(quote! {
                if let Some(value) = input.#field {
                    filters.push(&[#(#paths),*], CompareOp::#operator, #value);
                }
            })
        })
        .collect();
    let resets: Vec<TokenStream> = tool
        .inputs
        .iter()
        .filter_map(|input| {
            let InputRole::ResetField(wire) = &input.role else {
                return None;
            };
            let field = ident(&input.name);
            let wire = Literal::string(wire);
            Some(quote! {
                if let Some(value) = input.#field {
                    reset.insert(#wire.to_owned(), Value::from(value));
                }
            })
        })
        .collect();
    let filters_binding = if filters.is_empty() {
        quote!(filters)
    } else {
        quote!(mut filters)
    };
    let reset_binding = if resets.is_empty() {
        quote!(reset)
    } else {
        quote!(mut reset)
    };
    quote! {
        let #filters_binding = LocalFilters::new();
        #(#filters)*
        let #reset_binding = JsonObject::new();
        #(#resets)*
        let query = BodyCursorQuery {
            limit: input.limit,
            next_cursor: input.next_cursor.as_deref(),
            reset,
            filters,
        };
    }
}

/// The call of a body_cursor list: how to reach the upstream, and how to take its answer apart.
fn body_cursor_call(plan: &BodyCursorPaging) -> TokenStream {
    let response_type = ident(&plan.response_type);
    let items = ident(&plan.items_field);
    let cursor = ident(&plan.cursor_field);
    let has_more = ident(&plan.has_more_field);
    let items = if plan.items_optional {
        quote!(page.#items.unwrap_or_default())
    } else {
        quote!(page.#items)
    };
    let cursor = if plan.cursor_optional {
        quote!(page.#cursor)
    } else {
        quote!(Some(page.#cursor))
    };
    let has_more = if plan.has_more_optional {
        quote!(page.#has_more.unwrap_or(false))
    } else {
        quote!(page.#has_more)
    };
    let cursor_wire = Literal::string(&plan.cursor_wire);
    let page_size_wire = Literal::string(&plan.page_size_wire);
    let upstream_max = Literal::i64_unsuffixed(plan.upstream_max);
    let requests = Literal::u32_unsuffixed(plan.requests_per_call);
    let default_window = match &plan.default_start {
        Some((field, seconds)) => {
            let field = Literal::string(field);
            let seconds = Literal::u64_unsuffixed(*seconds);
            quote!(Some((#field, Duration::from_secs(#seconds))))
        }
        None => quote!(None),
    };
    quote! {
        let plan = BodyCursor {
            cursor_field: #cursor_wire,
            page_size_field: #page_size_wire,
            upstream_max: #upstream_max,
            requests_per_call: #requests,
            default_window: #default_window,
        };
        cx.body_cursor_page(request, &plan, query, |page: types::#response_type| UpstreamPage {
            items: #items,
            cursor: #cursor,
            has_more: #has_more,
        })
        .await
    }
}

fn filter_value(ty: QueryType) -> TokenStream {
    match ty {
        QueryType::String | QueryType::DateTime => quote!(FilterValue::String(value)),
        QueryType::Boolean => quote!(FilterValue::Bool(value)),
        QueryType::Integer => quote!(FilterValue::Integer(value)),
    }
}

fn operator_variant(operator: FilterOperator) -> &'static str {
    match operator {
        FilterOperator::Eq => "Eq",
        FilterOperator::Ne => "Ne",
        FilterOperator::Co => "Co",
        FilterOperator::Sw => "Sw",
        FilterOperator::Ew => "Ew",
        FilterOperator::Gt => "Gt",
        FilterOperator::Ge => "Ge",
        FilterOperator::Lt => "Lt",
        FilterOperator::Le => "Le",
    }
}

/// A plain Rust expression building a body template's `serde_json::Value` (plain calls,
/// unlike `json!`, are laid out readably by the formatter).
fn template_tokens(template: &BodyTemplate) -> TokenStream {
    match template {
        BodyTemplate::Null => quote!(Value::Null),
        BodyTemplate::Bool(flag) => quote!(Value::Bool(#flag)),
        BodyTemplate::Number(number) => {
            let literal = number
                .as_i64()
                .map(Literal::i64_unsuffixed)
                .or_else(|| number.as_u64().map(Literal::u64_unsuffixed))
                .unwrap_or_else(|| Literal::f64_unsuffixed(number.as_f64().unwrap_or_default()));
            quote!(Value::from(#literal))
        }
        BodyTemplate::String(text) => {
            let literal = Literal::string(text);
            quote!(Value::from(#literal))
        }
        BodyTemplate::Array(items) => {
            let items = items.iter().map(template_tokens);
            quote!(Value::Array(Vec::from([#(#items),*])))
        }
        BodyTemplate::Object(fields) => {
            let fields = fields.iter().map(|(key, value)| {
                let key = Literal::string(key);
                let value = template_tokens(value);
                quote!((#key, #value))
            });
            quote!(json_object([#(#fields),*]))
        }
        BodyTemplate::Each { argument, item } => {
            let argument = ident(argument);
            let item = template_tokens(item);
            quote!(Value::Array(input.#argument.iter().map(|item| #item).collect()))
        }
        BodyTemplate::Item => quote!(Value::from(item.clone())),
        BodyTemplate::QuotedItem { before, after } => {
            let before = Literal::string(before);
            let after = Literal::string(after);
            quote!(Value::from([#before, quote_string(&item.to_string()).as_str(), #after].concat()))
        }
    }
}
