//! The tool list: metadata, annotations and dispatch to the handlers.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{const_name, ident, input_type};
use crate::docs::MethodKind;
use crate::model::{Annotations, Api, Tool};

pub fn emit(api: &Api) -> TokenStream {
    let entries = api.tools.iter().map(entry);
    let dispatchers = api.tools.iter().map(dispatcher);
    let label = Literal::string(&api.integration_label);
    let media_type = Literal::string(&api.media_type);
    let upstream_name = Literal::string(&api.upstream_name);
    let error_messages = api.error_message_paths.iter().map(|path| {
        let keys = path.iter().map(|key| Literal::string(key));
        quote!(&[#(#keys),*])
    });
    let readiness_path = match &api.readiness_path {
        Some(path) => {
            let path = Literal::string(&path.join("/"));
            quote!(Some(#path))
        }
        None => quote!(None),
    };
    let servers = api.servers.iter().map(|server| {
        let url = Literal::string(&server.url);
        let description = Literal::string(&server.description);
        quote!((#url, #description))
    });
    quote! {
        use runtime::__codegen::{
            Annotations, BoxFuture, JsonObject, MethodKind, ToolContext, ToolEntry, ToolError,
            ToolOutput, ToolSpec, parse_arguments,
        };

        use super::{handlers, inputs, schemas};

        /// The product label the tool names derive from.
        pub const INTEGRATION_LABEL: &str = #label;

        /// What messages call the upstream.
        pub const UPSTREAM_NAME: &str = #upstream_name;

        /// The media type of the API's request and response bodies.
        pub const MEDIA_TYPE: &str = #media_type;

        /// Where the API's error bodies hold their message, as field paths.
        pub static ERROR_MESSAGES: &[&[&str]] = &[#(#error_messages),*];

        /// What readiness asks the upstream (a GET relative to its base URL), if anything.
        pub const READINESS_PATH: Option<&str> = #readiness_path;

        /// The spec's servers: URL and description.
        pub static SERVERS: &[(&str, &str)] = &[#(#servers),*];

        /// Every tool, sorted by name.
        pub static TOOLS: &[ToolEntry] = &[#(#entries),*];

        #(#dispatchers)*
    }
}

fn entry(tool: &Tool) -> TokenStream {
    let name = Literal::string(&tool.name);
    let portable = Literal::string(&tool.portable_name);
    let title = Literal::string(&tool.title);
    let description = Literal::string(&tool.description);
    let resource = Literal::string(&tool.resource);
    let singular = Literal::string(&tool.singular);
    let method = Literal::string(&tool.method);
    let kind = ident(match tool.kind {
        MethodKind::Read => "Read",
        MethodKind::Write => "Write",
        MethodKind::Custom => "Custom",
    });
    let tags = tool.tags.iter().map(|tag| Literal::string(tag));
    let audit_targets = tool.audit_targets.iter().map(|name| Literal::string(name));
    let annotations = annotations(&tool.annotations);
    let prefix = const_name(&tool.portable_name);
    let input_schema = format_ident!("{}_INPUT", prefix);
    let output_schema = format_ident!("{}_OUTPUT", prefix);
    let call = format_ident!("call_{}", tool.portable_name);
    quote! {
        ToolEntry {
            spec: ToolSpec {
                name: #name,
                portable_name: #portable,
                title: #title,
                description: #description,
                resource: #resource,
                singular: #singular,
                method: #method,
                kind: MethodKind::#kind,
                tags: &[#(#tags),*],
                annotations: #annotations,
                input_schema: schemas::#input_schema,
                output_schema: schemas::#output_schema,
                audit_targets: &[#(#audit_targets),*],
            },
            call: #call,
        }
    }
}

fn annotations(annotations: &Annotations) -> TokenStream {
    let read_only = annotations.read_only;
    let open_world = annotations.open_world;
    let option = |value: Option<bool>| match value {
        Some(flag) => quote!(Some(#flag)),
        None => quote!(None),
    };
    let destructive = option(annotations.destructive);
    let idempotent = option(annotations.idempotent);
    quote! {
        Annotations {
            read_only: #read_only,
            destructive: #destructive,
            idempotent: #idempotent,
            open_world: #open_world,
        }
    }
}

fn dispatcher(tool: &Tool) -> TokenStream {
    let call = format_ident!("call_{}", tool.portable_name);
    let handler = ident(&tool.portable_name);
    let input = input_type(&tool.portable_name);
    quote! {
        fn #call(cx: &ToolContext, arguments: JsonObject) -> BoxFuture<'_, Result<ToolOutput, ToolError>> {
            Box::pin(async move {
                let input = parse_arguments::<inputs::#input>(arguments)?;
                handlers::#handler(cx, input).await
            })
        }
    }
}
