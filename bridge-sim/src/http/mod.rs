//! HTTP surface: routes, shared state and middleware wiring.

mod discovery;
mod guard;
mod resources;

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;

use crate::config::SimConfig;
use crate::events::EventsState;
use crate::store::Directory;

pub use guard::FaultState;

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<SimConfig>,
    pub faults: Arc<FaultState>,
    directory: Arc<RwLock<Directory>>,
    /// The Events API served beside the bridge, which SCIM changes write audit events to.
    pub events: Arc<EventsState>,
}

impl AppState {
    pub fn new(config: SimConfig) -> Self {
        let directory = Directory::seeded(config.users, config.groups, config.seed);
        let events = EventsState::seeded(config.events.clone(), directory.users(), config.seed);
        AppState {
            faults: Arc::new(FaultState::new(&config)),
            config: Arc::new(config),
            directory: Arc::new(RwLock::new(directory)),
            events: Arc::new(events),
        }
    }

    /// A poisoned lock is still consistent: every mutation validates before it writes, so a
    /// panic can never leave a half-applied change behind.
    pub fn read(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds the full application: SCIM resources under `/`, `/scim` and `/scim/v2` (facts §1.2),
/// `/health` behind the token, `/ping` open (facts §1.1).
pub fn build(config: SimConfig) -> Router {
    build_with(AppState::new(config))
}

/// [`build`] over a state the caller keeps a handle on.
pub fn build_with(state: AppState) -> Router {
    let scim = Router::new()
        .route("/Users", get(resources::list_users).post(resources::create_user))
        .route(
            "/Users/{id}",
            get(resources::get_user)
                .put(resources::replace_user)
                .patch(resources::patch_user)
                .delete(resources::delete_user),
        )
        .route(
            "/Groups",
            get(resources::list_groups).post(resources::create_group),
        )
        .route(
            "/Groups/{id}",
            get(resources::get_group)
                .put(resources::replace_group)
                .patch(resources::patch_group)
                .delete(resources::delete_group),
        )
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/Schemas", get(discovery::schemas))
        .route_layer(from_fn_with_state(state.clone(), guard::require_token));
    let health = Router::new()
        .route("/health", get(discovery::health))
        .route_layer(from_fn_with_state(state.clone(), guard::require_token));
    Router::new()
        .nest("/scim/v2", scim.clone())
        .nest("/scim", scim.clone())
        .merge(scim)
        .merge(health)
        .route("/ping", get(discovery::ping))
        .fallback(discovery::not_found)
        .method_not_allowed_fallback(discovery::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), guard::inject_faults))
        // The Events API has its own tokens and limits; the bridge's faults are not its own.
        .merge(crate::events::router())
        .layer(from_fn(guard::date_header))
        .with_state(state)
}
