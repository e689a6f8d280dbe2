//! The in-memory directory and its operations. Each operation validates fully before it
//! mutates, so a failed request leaves the directory as it was (PATCH works on a copy).

use std::collections::HashMap;

use serde_json::Value;

use crate::clock::now_secs;
use crate::error::ScimError;
use crate::filter::Schema;
use crate::model::{Group, User};
use crate::patch;
use crate::seed::{SplitMix64, generate};

/// A user's JSON face, as a tree (for filters) and as text (for responses).
#[derive(Debug, Clone)]
pub struct Face {
    pub json: Value,
    pub text: String,
}

impl Face {
    fn of(user: &User) -> Face {
        let json = user.to_json();
        Face {
            text: json.to_string(),
            json,
        }
    }
}

/// Users in creation order (users are never removed: DELETE only suspends, facts §2.5) and
/// groups in creation order (group DELETE is real, facts §2.3).
#[derive(Debug)]
pub struct Directory {
    users: Vec<User>,
    /// Each user's JSON face, kept in step with `users`: list requests (the benchmark's hot
    /// path) filter the cached trees and splice the cached text, which is ~30x cheaper than
    /// rendering 100 users per request.
    faces: Vec<Face>,
    user_index: HashMap<String, usize>,
    groups: Vec<Group>,
    rng: SplitMix64,
}

impl Directory {
    /// The seeded starting directory; new ids continue from the same generator, so a replayed
    /// request sequence yields the same ids.
    pub fn seeded(users: usize, groups: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let (users, groups) = generate(users, groups, &mut rng);
        let user_index = users.iter().enumerate().map(|(i, u)| (u.id.clone(), i)).collect();
        let faces = users.iter().map(Face::of).collect();
        Directory {
            users,
            faces,
            user_index,
            groups,
            rng,
        }
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The faces of all users, in the order of [`Directory::users`].
    pub fn user_faces(&self) -> &[Face] {
        &self.faces
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i])
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// A group's JSON face, with member display names.
    pub fn group_json(&self, group: &Group) -> Value {
        group.to_json(|id| self.user(id).map(|u| u.display_name.clone()))
    }

    pub fn create_user(&mut self, body: &Value) -> Result<User, ScimError> {
        let id = self.fresh_user_id();
        let user = User::from_body(id, body)?;
        self.check_unique(&user.user_name, None)?;
        self.user_index.insert(user.id.clone(), self.users.len());
        self.faces.push(Face::of(&user));
        self.users.push(user.clone());
        Ok(user)
    }

    pub fn replace_user(&mut self, id: &str, body: &Value) -> Result<User, ScimError> {
        let index = self.user_index_of(id)?;
        check_id(body, id)?;
        let user = User::from_body(id.to_owned(), body)?;
        self.check_unique(&user.user_name, Some(id))?;
        self.set_user(index, user.clone());
        Ok(user)
    }

    pub fn patch_user(&mut self, id: &str, body: &Value) -> Result<User, ScimError> {
        let index = self.user_index_of(id)?;
        let ops = patch::parse_request(body)?;
        let before = &self.users[index];
        let mut face = before.to_json();
        patch::apply(&Schema::USER, &mut face, &ops)?;
        let user = User::from_patched(before, &face)?;
        self.check_unique(&user.user_name, Some(id))?;
        self.set_user(index, user.clone());
        Ok(user)
    }

    /// Deprovisioning: the user stays, suspended (facts §2.5).
    pub fn delete_user(&mut self, id: &str) -> Result<(), ScimError> {
        let index = self.user_index_of(id)?;
        let mut user = self.users[index].clone();
        user.active = false;
        self.set_user(index, user);
        Ok(())
    }

    fn set_user(&mut self, index: usize, user: User) {
        self.faces[index] = Face::of(&user);
        self.users[index] = user;
    }

    pub fn create_group(&mut self, body: &Value) -> Result<Group, ScimError> {
        let id = self.fresh_group_id();
        let group = Group::from_json(id, body, now_secs(), |u| self.user_index.contains_key(u))?;
        self.groups.push(group.clone());
        Ok(group)
    }

    pub fn replace_group(&mut self, id: &str, body: &Value) -> Result<Group, ScimError> {
        let index = self.group_index_of(id)?;
        check_id(body, id)?;
        let mut group = Group::from_json(id.to_owned(), body, now_secs(), |u| {
            self.user_index.contains_key(u)
        })?;
        group.created = self.groups[index].created;
        self.groups[index] = group.clone();
        Ok(group)
    }

    pub fn patch_group(&mut self, id: &str, body: &Value) -> Result<Group, ScimError> {
        let index = self.group_index_of(id)?;
        let ops = patch::parse_request(body)?;
        let mut face = self.group_json(&self.groups[index]);
        patch::apply(&Schema::GROUP, &mut face, &ops)?;
        let mut group = Group::from_json(id.to_owned(), &face, now_secs(), |u| {
            self.user_index.contains_key(u)
        })?;
        group.created = self.groups[index].created;
        self.groups[index] = group.clone();
        Ok(group)
    }

    pub fn delete_group(&mut self, id: &str) -> Result<(), ScimError> {
        let index = self.group_index_of(id)?;
        self.groups.remove(index);
        Ok(())
    }

    fn user_index_of(&self, id: &str) -> Result<usize, ScimError> {
        self.user_index
            .get(id)
            .copied()
            .ok_or_else(|| ScimError::not_found(format!("user {id} not found")))
    }

    fn group_index_of(&self, id: &str) -> Result<usize, ScimError> {
        self.groups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(|| ScimError::not_found(format!("group {id} not found")))
    }

    /// `userName` is unique case-insensitively (advertised `uniqueness: server`, facts §2.1).
    fn check_unique(&self, user_name: &str, except: Option<&str>) -> Result<(), ScimError> {
        let clash = self
            .users
            .iter()
            .any(|u| Some(u.id.as_str()) != except && u.user_name.to_lowercase() == user_name.to_lowercase());
        if clash {
            return Err(ScimError::conflict(format!(
                "a user with userName {user_name} already exists"
            )));
        }
        Ok(())
    }

    fn fresh_user_id(&mut self) -> String {
        loop {
            let id = self.rng.base32_id(true);
            if !self.user_index.contains_key(&id) {
                return id;
            }
        }
    }

    fn fresh_group_id(&mut self) -> String {
        loop {
            let id = self.rng.base32_id(false);
            if self.group(&id).is_none() {
                return id;
            }
        }
    }
}

/// PUT may repeat the id but not change it.
fn check_id(body: &Value, id: &str) -> Result<(), ScimError> {
    match body.get("id").and_then(Value::as_str) {
        Some(other) if other != id => Err(ScimError::bad_request(
            crate::error::ScimType::Mutability,
            "`id` is immutable",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
