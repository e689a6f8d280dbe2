//! `--demo` and `sim`: the simulated 1Password SCIM bridge and Events API, in the binary only
//! with the `demo` feature (on by default).
//!
//! The simulator is test and demo support, not product: a build for production can leave it
//! out (`--no-default-features`), and the tidy test checks that nothing else in the binary's
//! dependencies reaches it. Without the feature, `--demo` and `sim` say how to get them.

#[cfg(feature = "demo")]
use std::net::SocketAddr;

use generated_server::GeneratedIntegration;
#[cfg(feature = "demo")]
use generated_server::{EVENTS, SCIM};
#[cfg(feature = "demo")]
use runtime::upstream::Secret;
use runtime::upstream::Upstream;

use crate::Failure;

/// A running simulated bridge and Events API, stopped by [`Demo::shutdown`].
pub struct Demo {
    #[cfg(feature = "demo")]
    sim: bridge_sim::RunningSim,
    #[cfg(not(feature = "demo"))]
    never: std::convert::Infallible,
}

impl Demo {
    /// Starts the simulators on loopback with `users` users, and the upstream of each
    /// integration pointed at them.
    #[cfg(feature = "demo")]
    pub async fn start(
        users: usize,
    ) -> Result<(Self, Vec<(&'static GeneratedIntegration, Upstream)>), Failure> {
        // Random tokens: the simulator listens on loopback, where any local process could
        // otherwise call it with a well-known one.
        let sim_config = bridge_sim::SimConfig {
            users,
            token: bridge_sim::random_token(),
            events: bridge_sim::events::EventsConfig {
                tokens: vec![bridge_sim::events::EventsToken {
                    token: bridge_sim::random_token(),
                    features: bridge_sim::events::ALL_FEATURES
                        .iter()
                        .map(|feature| (*feature).to_owned())
                        .collect(),
                }],
                ..bridge_sim::events::EventsConfig::default()
            },
            ..bridge_sim::SimConfig::default()
        };
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let sim = bridge_sim::spawn(sim_config, loopback).await.map_err(|error| {
            Failure::runtime(format!("--demo: cannot start the simulated bridge: {error}"))
        })?;
        eprintln!(
            "demo: simulated 1Password SCIM bridge and Events API at {} ({users} users)",
            sim.base_url()
        );
        let demo_upstream = |integration: &'static GeneratedIntegration, token: &str| {
            integration
                .upstream(sim.base_url(), Secret::new(token))
                .map(|upstream| (integration, upstream))
                .map_err(|error| Failure::runtime(format!("--demo: {error}")))
        };
        let upstreams = vec![
            demo_upstream(&SCIM, sim.token())?,
            demo_upstream(&EVENTS, sim.events_token())?,
        ];
        Ok((Self { sim }, upstreams))
    }

    /// Without the simulator compiled in, `--demo` is a configuration this build cannot serve.
    #[cfg(not(feature = "demo"))]
    pub async fn start(
        users: usize,
    ) -> Result<(Self, Vec<(&'static GeneratedIntegration, Upstream)>), Failure> {
        let _ = users;
        Err(Failure::config(NOT_BUILT_IN))
    }

    /// Stops the simulators.
    pub async fn shutdown(self) {
        #[cfg(feature = "demo")]
        self.sim.shutdown().await;
        #[cfg(not(feature = "demo"))]
        match self.never {}
    }
}

/// What `--demo` answers in a build without the simulator.
#[cfg(not(feature = "demo"))]
pub const NOT_BUILT_IN: &str =
    "--demo: this build has no simulated bridge; build with the `demo` feature (on by default)";

/// `op-scim-mcp sim`: the simulators on their own, until interrupted.
#[cfg(feature = "demo")]
pub async fn run_standalone(args: bridge_sim::SimArgs) -> Result<(), Failure> {
    bridge_sim::run_standalone(args)
        .await
        .map_err(|error| Failure::runtime(format!("{error:#}")))
}
