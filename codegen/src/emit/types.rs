//! Data types: what the upstream answers, typed but lenient.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{doc, ident};
use crate::model::{Api, Shape, StructDef, TypeDef};

pub fn emit(api: &Api) -> TokenStream {
    let definitions = api.data_types.iter().map(|def| match def {
        TypeDef::Struct(def) => data_struct(def),
        // Enums are only generated on the argument side; data keeps strings so a new value
        // from the bridge is not a failure.
        TypeDef::Enum(_) => TokenStream::new(),
    });
    quote! { #(#definitions)* }
}

fn data_struct(def: &StructDef) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc(def.description.as_deref().unwrap_or_default());
    let fields = def.fields.iter().map(|field| {
        let rust = ident(&field.rust_name);
        let wire = Literal::string(&field.wire_name);
        let docs = doc(field.description.as_deref().unwrap_or_default());
        let ty = rust_type(&field.shape);
        if field.required {
            quote! {
                #docs
                #[serde(rename = #wire)]
                pub #rust: #ty,
            }
        } else {
            quote! {
                #docs
                #[serde(rename = #wire, default, skip_serializing_if = "Option::is_none")]
                pub #rust: Option<#ty>,
            }
        }
    });
    let catch_all = def.catch_all.as_ref().map(|name| {
        let rust = ident(name);
        quote! {
            /// Attributes the spec does not describe, kept so nothing the bridge sends is lost.
            #[serde(flatten)]
            pub #rust: serde_json::Map<String, serde_json::Value>,
        }
    });
    quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct #name {
            #(#fields)*
            #catch_all
        }
    }
}

/// The Rust type holding a shape, in the namespace of the module that uses it.
pub fn rust_type(shape: &Shape) -> TokenStream {
    match shape {
        Shape::String(_) => quote!(String),
        Shape::Integer(_) => quote!(i64),
        Shape::Number(_) => quote!(f64),
        Shape::Boolean => quote!(bool),
        Shape::Array(item, _) => {
            let item = rust_type(item);
            quote!(Vec<#item>)
        }
        Shape::Map(values) => {
            let values = rust_type(values);
            quote!(std::collections::BTreeMap<String, #values>)
        }
        Shape::Named(name) => {
            let name = ident(name);
            quote!(#name)
        }
        Shape::OneOfTypes(_) | Shape::Any => quote!(serde_json::Value),
    }
}
