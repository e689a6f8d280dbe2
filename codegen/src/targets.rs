//! What a call acts on, as the audit log names it: the arguments that identify the users or
//! groups a write touches.
//!
//! Path parameters always identify their resource. Other arguments are named in the docs YAML
//! (`audit_targets`), because only the author knows that `user_name` names the person a create
//! makes while `display_name` on a user is just a label.

use crate::diagnostics::Diagnostics;
use crate::model::{InputField, InputRole, Shape};

/// The path parameters, then the documented targets, each checked to be a string or a list
/// of strings (the audit log writes identifiers, never structured values).
pub fn audit_targets(
    inputs: &[InputField],
    documented: &[String],
    location: &str,
    diags: &mut Diagnostics,
) -> Vec<String> {
    let mut targets: Vec<String> = inputs
        .iter()
        .filter(|input| matches!(input.role, InputRole::Path))
        .map(|input| input.name.clone())
        .collect();
    for name in documented {
        let location = format!("{location}.audit_targets");
        match inputs.iter().find(|input| &input.name == name) {
            None => diags.push(&location, format!("`{name}` is not an argument of this method")),
            Some(input) if !names_something(&input.shape) => diags.push(
                &location,
                format!("`{name}` must be a string or a list of strings to name what a call acts on"),
            ),
            Some(_) if targets.contains(name) => diags.push(
                &location,
                format!("`{name}` is listed twice (path parameters are always targets)"),
            ),
            Some(_) => targets.push(name.clone()),
        }
    }
    targets
}

fn names_something(shape: &Shape) -> bool {
    match shape {
        Shape::String(_) => true,
        Shape::Array(item, _) => matches!(**item, Shape::String(_)),
        _ => false,
    }
}
