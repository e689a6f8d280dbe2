//! The generator's output for inputs the product does not ship, compiled: 1Password's own Events
//! API description as the vendor publishes it, and an unrelated todo API. Parsing generated code
//! proves little; compiling it against `runtime` proves the handlers, types and registry agree.
//!
//! `build.rs` writes the code into `OUT_DIR` on every build that needs it (the vendor's prose
//! must not be checked in), and this crate includes it. The tests serve the compiled tools.

/// Declares one integration: a module holding the generated sibling modules (they refer to each
/// other through `super::`), each including its file from `OUT_DIR` and documented with the
/// module docs `build.rs` moved out of it (`include!` rejects them inside the file).
///
/// The module list is the generator's `mod.rs`; `build.rs` fails the build, naming both lists,
/// when the generator emits another.
macro_rules! integration {
    ($(#[$meta:meta])* $integration:ident { $($module:ident),+ $(,)? }) => {
        $(#[$meta])*
        pub mod $integration {
            $(
                #[doc = include_str!(concat!(
                    env!("OUT_DIR"), "/", stringify!($integration), "/", stringify!($module), ".md"
                ))]
                pub mod $module {
                    include!(concat!(
                        env!("OUT_DIR"), "/", stringify!($integration), "/", stringify!($module), ".rs"
                    ));
                }
            )+
        }
    };
}

integration! {
    /// Generated from `../shared/vendor-specs/1password-events-api-1.2.0.yaml` (read from beside
    /// the workspace, never copied into it) and `tests/it/fixtures/1password-events-vendor.docs.yaml`.
    vendor_events { handlers, inputs, prompts, registry, schemas, types }
}

integration! {
    /// Generated from `tests/it/fixtures/todo.openapi.yaml` and `tests/it/fixtures/todo.docs.yaml`.
    todo { handlers, inputs, prompts, registry, schemas, types }
}
