//! The published JSON Schemas, as readable raw-string constants.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{const_name, raw_string};
use crate::model::Api;

pub fn emit(api: &Api) -> TokenStream {
    let constants = api.tools.iter().map(|tool| {
        let prefix = const_name(&tool.portable_name);
        let input = format_ident!("{}_INPUT", prefix);
        let output = format_ident!("{}_OUTPUT", prefix);
        let input_doc = format!(" Input schema of `{}`.", tool.name);
        let output_doc = format!(" Output schema of `{}` (its `structuredContent`).", tool.name);
        let input_json = raw_string(&pretty(&tool.input_schema));
        let output_json = raw_string(&pretty(&tool.output_schema));
        quote! {
            #[doc = #input_doc]
            pub const #input: &str = #input_json;
            #[doc = #output_doc]
            pub const #output: &str = #output_json;
        }
    });
    quote! { #(#constants)* }
}

fn pretty(value: &serde_json::Value) -> String {
    // Serializing a `Value` cannot fail; fall back to compact output rather than panic.
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
