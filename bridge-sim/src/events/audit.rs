//! The audit events a SCIM change makes, so an agent can find its own actions in the trail:
//! provisioning a user (`provsn`), suspending (`suspend`, also what a user DELETE does) and
//! reactivating (`reactive`), creating and deleting a group, and each member joining or
//! leaving one (`join`/`leave` on the group membership, `gm`, with the member as `aux`).
//!
//! The actor is the provisioning integration the bridge acts as. 1Password's exact action
//! codes for bridge-made changes are not recorded in the facts (§5 lists the codes, not which
//! change makes which), so these are the closest codes of that list.

use serde_json::{Value, json};

use super::log::person;
use crate::model::{Group, User};
use crate::seed::SplitMix64;

/// The identity SCIM changes are made by.
const ACTOR_UUID: &str = "PR0V1S10N1NGBR1DGEAAAAAAAA";

/// Completes an audit event with its id, time, actor, session and place.
pub fn event(mut partial: Value, at_micros: i64, rng: &mut SplitMix64) -> Value {
    if let Value::Object(fields) = &mut partial {
        fields.insert("uuid".into(), json!(rng.base32_id(true)));
        fields.insert("timestamp".into(), json!(super::log::rfc3339(at_micros)));
        fields.insert("actor_uuid".into(), json!(ACTOR_UUID));
        fields.insert(
            "actor_details".into(),
            json!({ "uuid": ACTOR_UUID, "name": "Provisioning Manager", "email": "provisioning@example.com" }),
        );
        fields.insert(
            "session".into(),
            json!({ "uuid": rng.base32_id(true), "login_time": super::log::rfc3339(at_micros), "device_uuid": rng.base32_id(false), "ip": "198.51.100.7" }),
        );
        fields.insert(
            "location".into(),
            json!({ "country": "CA", "region": "Ontario", "city": "Toronto", "latitude": 43.6, "longitude": -79.4 }),
        );
    }
    partial
}

/// An audit event about `user`, before its time, place and session are added.
pub fn user_event(action: &str, user: &User) -> Value {
    json!({
        "action": action,
        "object_type": "user",
        "object_uuid": user.id,
        "object_details": person(user),
    })
}

/// What a change to a user records: `before` is `None` for a new user.
pub fn user_changed(before: Option<&User>, after: &User) -> Vec<Value> {
    match before {
        None => vec![user_event("provsn", after)],
        Some(before) if before.active && !after.active => vec![user_event("suspend", after)],
        Some(before) if !before.active && after.active => vec![user_event("reactive", after)],
        Some(_) => Vec::new(),
    }
}

/// What a change to a group records: created, deleted, and each member who joined or left.
/// `user` finds a member by id.
pub fn group_changed<'u>(
    before: Option<&Group>,
    after: Option<&Group>,
    user: impl Fn(&str) -> Option<&'u User>,
) -> Vec<Value> {
    let mut events = Vec::new();
    let group = match (before, after) {
        (None, Some(group)) => {
            events.push(group_event("create", group));
            group
        }
        (Some(group), None) => {
            events.push(group_event("delete", group));
            return events;
        }
        (Some(_), Some(group)) => group,
        (None, None) => return events,
    };
    let old: &[String] = before.map_or(&[], |group| group.members.as_slice());
    for member in &group.members {
        if !old.contains(member) {
            events.extend(membership("join", group, member, &user));
        }
    }
    for member in old {
        if !group.members.contains(member) {
            events.extend(membership("leave", group, member, &user));
        }
    }
    events
}

fn group_event(action: &str, group: &Group) -> Value {
    json!({
        "action": action,
        "object_type": "group",
        "object_uuid": group.id,
        "aux_info": group.display_name,
    })
}

fn membership<'u>(
    action: &str,
    group: &Group,
    member: &str,
    user: &impl Fn(&str) -> Option<&'u User>,
) -> Option<Value> {
    let member = user(member)?;
    Some(json!({
        "action": action,
        "object_type": "gm",
        "object_uuid": group.id,
        "aux_uuid": member.id,
        "aux_details": person(member),
        "aux_info": group.display_name,
    }))
}
