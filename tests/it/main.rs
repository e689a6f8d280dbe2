//! The one integration-test binary (matklad, "Delete Cargo Integration Tests").

mod against_the_simulator;
mod codegen_fixtures;
mod connections;
mod definitions_budget;
mod dockerfile;
mod events_tools;
mod filter_round_trip;
mod http_transport;
mod oauth_resource;
mod oauth_scopes;
mod ops_endpoints;
mod prompts_and_resources;
mod published_tools;
mod regen;
mod registry_cache;
mod registry_http;
mod registry_stores;
mod registry_tls;
mod strict_bridge;
mod support;
mod tidy;
mod two_integrations;
mod validator;
