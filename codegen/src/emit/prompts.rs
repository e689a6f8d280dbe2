//! Workflow prompts and reference resources.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::raw_string;
use crate::model::{Api, PromptDef, PromptSegment};

pub fn emit(api: &Api) -> TokenStream {
    let prompts = prompt_specs(&api.prompts);
    let references = api.references.iter().map(|reference| {
        let uri = Literal::string(&reference.uri);
        let name = Literal::string(&reference.name);
        let title = Literal::string(&reference.title);
        let description = Literal::string(&reference.description);
        let path = reference.path.iter().map(|segment| Literal::string(segment));
        let resource = Literal::string(&reference.resource);
        let method = Literal::string(&reference.method);
        quote! {
            ReferenceSpec {
                uri: #uri,
                name: #name,
                title: #title,
                description: #description,
                path: &[#(#path),*],
                tool: ToolRef { resource: #resource, method: #method },
            }
        }
    });
    quote! {
        #[allow(unused_imports)]
        use runtime::__codegen::{PromptArgumentSpec, PromptSegment, PromptSpec, ReferenceSpec, ToolRef};

        /// Workflow prompts, sorted by name.
        pub static PROMPTS: &[PromptSpec] = &[#(#prompts),*];

        /// Reference resources read live through the upstream.
        pub static REFERENCES: &[ReferenceSpec] = &[#(#references),*];
    }
}

/// The product's own prompts, which may use the tools of every integration.
pub fn emit_product(prompts: &[PromptDef]) -> TokenStream {
    let prompts = prompt_specs(prompts);
    quote! {
        #[allow(unused_imports)]
        use runtime::__codegen::{PromptArgumentSpec, PromptSegment, PromptSpec};

        /// Workflow prompts over several integrations, sorted by name. Each takes the place of
        /// an integration's prompt of the same name wherever all its tools are in scope.
        pub static PROMPTS: &[PromptSpec] = &[#(#prompts),*];
    }
}

fn prompt_specs(prompts: &[PromptDef]) -> Vec<TokenStream> {
    prompts
        .iter()
        .map(|prompt| {
        let name = Literal::string(&prompt.name);
            let title = Literal::string(&prompt.title);
            let description = Literal::string(&prompt.description);
            let arguments = prompt.arguments.iter().map(|argument| {
                let name = Literal::string(&argument.name);
                let description = Literal::string(&argument.description);
                let required = argument.required;
                let boolean = argument.boolean;
                quote! {
                    PromptArgumentSpec { name: #name, description: #description, required: #required, boolean: #boolean }
                }
            });
            let segments = prompt.segments.iter().map(|segment| match segment {
                PromptSegment::Text(text) => {
                    let text = raw_string(text);
                    quote!(PromptSegment::Text(#text))
                }
                PromptSegment::Argument(argument) => {
                    let argument = Literal::string(argument);
                    quote!(PromptSegment::Argument(#argument))
                }
                PromptSegment::Tool { resource, method } => {
                    let resource = Literal::string(resource);
                    let method = Literal::string(method);
                    quote!(PromptSegment::Tool { resource: #resource, method: #method })
                }
            });
            quote! {
                PromptSpec {
                    name: #name,
                    title: #title,
                    description: #description,
                    arguments: &[#(#arguments),*],
                    segments: &[#(#segments),*],
                }
            }
        })
        .collect()
}
