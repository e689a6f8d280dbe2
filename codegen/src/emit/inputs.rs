//! Typed tool arguments (strict: unknown fields refused), their validation, request bodies.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::types::rust_type;
use super::{doc, ident, input_type};
use crate::model::{Api, BodyPlan, InputRole, Shape, StructDef, Tool, TypeDef};

pub fn emit(api: &Api) -> TokenStream {
    let tools = api.tools.iter().map(|tool| tool_input(tool, api));
    let arg_types = api.arg_types.iter().map(|def| match def {
        TypeDef::Struct(def) => arg_struct(def, api),
        TypeDef::Enum(def) => {
            let name = ident(&def.name);
            let docs = doc(def.description.as_deref().unwrap_or_default());
            let variants = def.variants.iter().map(|(wire, variant)| {
                let wire = Literal::string(wire);
                let variant = ident(variant);
                quote! { #[serde(rename = #wire)] #variant, }
            });
            quote! {
                #docs
                #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
                pub enum #name { #(#variants)* }
            }
        }
    });
    quote! {
        use runtime::__codegen::{ArgErrors, Validate};

        #(#tools)*
        #(#arg_types)*
    }
}

fn tool_input(tool: &Tool, api: &Api) -> TokenStream {
    let name = input_type(&tool.portable_name);
    let docs = doc(&format!("Arguments of `{}`.", tool.name));
    let fields = tool.inputs.iter().map(|input| {
        let rust = ident(&input.name);
        let docs = doc(&input.description);
        let ty = rust_type(&input.shape);
        if input.required {
            quote! { #docs pub #rust: #ty, }
        } else {
            quote! { #docs pub #rust: Option<#ty>, }
        }
    });
    let checks = tool.inputs.iter().map(|input| {
        let rust = ident(&input.name);
        let key = Literal::string(&input.name);
        let check = value_checks(&input.shape, &quote!(value), api);
        if check.is_empty() {
            return TokenStream::new();
        }
        if input.required {
            quote! {
                let value = &self.#rust;
                let path = runtime::__codegen::join_path(at, #key);
                #check
            }
        } else {
            quote! {
                if let Some(value) = &self.#rust {
                    let path = runtime::__codegen::join_path(at, #key);
                    #check
                }
            }
        }
    });
    let body = match &tool.body {
        BodyPlan::Fields { type_name } => body_struct(tool, type_name),
        BodyPlan::None | BodyPlan::Paged | BodyPlan::Template(_) => TokenStream::new(),
    };
    quote! {
        #docs
        #[derive(Clone, Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct #name { #(#fields)* }

        impl Validate for #name {
            #[allow(unused_variables)]
            fn validate(&self, at: &str, errors: &mut ArgErrors) {
                #(#checks)*
            }
        }

        #body
    }
}

fn body_struct(tool: &Tool, type_name: &str) -> TokenStream {
    let name = ident(type_name);
    let docs = doc(&format!("The request body `{}` sends.", tool.name));
    let fields = tool.inputs.iter().filter_map(|input| {
        let InputRole::Body(wire) = &input.role else {
            return None;
        };
        let rust = ident(&input.name);
        let wire = Literal::string(wire);
        let ty = rust_type(&input.shape);
        Some(if input.required {
            quote! { #[serde(rename = #wire)] pub #rust: #ty, }
        } else {
            quote! {
                #[serde(rename = #wire, skip_serializing_if = "Option::is_none")]
                pub #rust: Option<#ty>,
            }
        })
    });
    quote! {
        #docs
        #[derive(Clone, Debug, serde::Serialize)]
        pub struct #name { #(#fields)* }
    }
}

/// A nested argument object: snake_case names from the model, wire names to the bridge.
fn arg_struct(def: &StructDef, api: &Api) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc(def.description.as_deref().unwrap_or_default());
    let fields = def.fields.iter().map(|field| {
        let rust = ident(&field.rust_name);
        let docs = doc(field.description.as_deref().unwrap_or_default());
        let ty = rust_type(&field.shape);
        let rename = (field.wire_name != field.rust_name).then(|| {
            let wire = Literal::string(&field.wire_name);
            quote!(rename(serialize = #wire),)
        });
        if field.required {
            quote! { #docs #[serde(#rename)] pub #rust: #ty, }
        } else {
            quote! {
                #docs
                #[serde(#rename skip_serializing_if = "Option::is_none")]
                pub #rust: Option<#ty>,
            }
        }
    });
    let checks = def.fields.iter().map(|field| {
        let rust = ident(&field.rust_name);
        let key = Literal::string(&field.rust_name);
        let check = value_checks(&field.shape, &quote!(value), api);
        if check.is_empty() {
            return TokenStream::new();
        }
        if field.required {
            quote! {{
                let value = &self.#rust;
                let path = runtime::__codegen::join_path(at, #key);
                #check
            }}
        } else {
            quote! {
                if let Some(value) = &self.#rust {
                    let path = runtime::__codegen::join_path(at, #key);
                    #check
                }
            }
        }
    });
    quote! {
        #docs
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct #name { #(#fields)* }

        impl Validate for #name {
            #[allow(unused_variables)]
            fn validate(&self, at: &str, errors: &mut ArgErrors) {
                #(#checks)*
            }
        }
    }
}

/// Checks of one value (a reference, named by `value`) at `path`; empty when none apply.
fn value_checks(shape: &Shape, value: &TokenStream, api: &Api) -> TokenStream {
    match shape {
        Shape::String(rules) => {
            let length = if rules.min_length.is_none() && rules.max_length.is_none() && !rules.email {
                TokenStream::new()
            } else {
                let min = option_usize(rules.min_length);
                let max = option_usize(rules.max_length);
                let email = rules.email;
                quote! { errors.check_string(&path, #value, #min, #max, #email); }
            };
            let time = rules
                .date_time
                .then(|| quote! { errors.check_date_time(&path, #value); });
            quote! { #length #time }
        }
        Shape::Number(rules) => {
            if rules.minimum.is_none() && rules.maximum.is_none() {
                return TokenStream::new();
            }
            let min = option_f64(rules.minimum);
            let max = option_f64(rules.maximum);
            quote! { errors.check_number(&path, *#value, #min, #max); }
        }
        Shape::OneOfTypes(types) => {
            let types = types.iter().map(|name| Literal::string(name));
            quote! { errors.check_json_types(&path, #value, &[#(#types),*]); }
        }
        Shape::Map(values) => {
            let value_checks = value_checks(values, &quote!(item), api);
            if value_checks.is_empty() {
                return TokenStream::new();
            }
            quote! {
                for (key, item) in #value {
                    let path = runtime::__codegen::join_path(&path, key);
                    #value_checks
                }
            }
        }
        Shape::Integer(rules) => {
            if rules.minimum.is_none() && rules.maximum.is_none() {
                return TokenStream::new();
            }
            let min = option_i64(rules.minimum);
            let max = option_i64(rules.maximum);
            quote! { errors.check_integer(&path, *#value, #min, #max); }
        }
        Shape::Array(item, rules) => {
            let item_checks = value_checks(item, &quote!(item), api);
            let count = if rules.min_items.is_some() || rules.max_items.is_some() {
                let min = option_usize(rules.min_items);
                let max = option_usize(rules.max_items);
                quote! { errors.check_items(&path, #value.len(), #min, #max); }
            } else {
                TokenStream::new()
            };
            let each = (!item_checks.is_empty()).then(|| {
                quote! {
                    for (index, item) in #value.iter().enumerate() {
                        let path = runtime::__codegen::join_index(&path, index);
                        #item_checks
                    }
                }
            });
            quote! { #count #each }
        }
        Shape::Named(name) => {
            let is_struct = api
                .arg_types
                .iter()
                .any(|def| matches!(def, TypeDef::Struct(def) if &def.name == name));
            if is_struct {
                quote! { #value.validate(&path, errors); }
            } else {
                TokenStream::new()
            }
        }
        Shape::Boolean | Shape::Any => TokenStream::new(),
    }
}

fn option_usize(value: Option<usize>) -> TokenStream {
    match value {
        Some(value) => {
            let value = Literal::usize_unsuffixed(value);
            quote!(Some(#value))
        }
        None => quote!(None),
    }
}

fn option_f64(value: Option<f64>) -> TokenStream {
    match value {
        Some(value) => {
            let value = Literal::f64_unsuffixed(value);
            quote!(Some(#value))
        }
        None => quote!(None),
    }
}

fn option_i64(value: Option<i64>) -> TokenStream {
    match value {
        Some(value) => {
            let value = Literal::i64_unsuffixed(value);
            quote!(Some(#value))
        }
        None => quote!(None),
    }
}
