//! The seeded, deterministic starting directory.
//!
//! We use our own SplitMix64 rather than `rand::StdRng`: `StdRng`'s algorithm may change between
//! `rand` releases, and "same seed, same directory, same ids" must survive dependency upgrades
//! because tests and benchmarks pin ids and names.

use std::collections::HashSet;

use crate::model::{Group, User};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and statistically fine for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n > 0`; returns 0 otherwise).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A 26-character id from the RFC 4648 base32 alphabet, the shape of the bridge's ids
    /// (facts §2.2: upper-case for users, lower-case for groups).
    pub fn base32_id(&mut self, upper: bool) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..26)
            .map(|_| {
                let c = char::from(ALPHABET[self.below(32)]);
                if upper { c } else { c.to_ascii_lowercase() }
            })
            .collect()
    }
}

/// The company's domain; contractors live at [`CONTRACTOR_DOMAIN`].
pub const COMPANY_DOMAIN: &str = "example.com";
pub const CONTRACTOR_DOMAIN: &str = "external-agency.com";

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella", "James", "Ava",
    "William", "Mia", "Benjamin", "Evelyn", "Lucas", "Harper", "Henry", "Luna", "Theo", "Camila", "Mateo",
    "Aisha", "Kenji", "Priya", "Arjun", "Mei", "Wei", "Fatima", "Omar", "Ingrid", "Lars", "Chiara", "Marco",
    "Zanele", "Kwame", "Sofia", "Diego", "Hana", "Yusuf",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Nakamura",
    "Patel",
    "Chen",
    "Okafor",
    "Nguyen",
    "Kowalski",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Andersson",
    "Silva",
    "Kim",
    "Van der Berg",
];

const GROUP_NAMES: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Support",
    "Legal",
    "Design",
    "Operations",
    "Security",
    "People",
    "Product",
    "Data",
    "IT",
    "Executives",
    "Contractors",
    "Research",
];

/// Group timestamps of the seeded directory start here (2026-01-05T09:00:00Z) so that the
/// directory does not depend on the wall clock.
const SEED_EPOCH: u64 = 1_767_603_600;

/// Generates `users` users and `groups` groups. The first user is always Jane Doe
/// (`jane.doe@example.com`, active), so tests have a stable person to look up.
pub fn generate(users: usize, groups: usize, rng: &mut SplitMix64) -> (Vec<User>, Vec<Group>) {
    let mut taken = HashSet::new();
    let mut out = Vec::with_capacity(users);
    for i in 0..users {
        let (given, family, contractor, active) = if i == 0 {
            ("Jane".to_owned(), "Doe".to_owned(), false, true)
        } else {
            let given = FIRST_NAMES[rng.below(FIRST_NAMES.len())].to_owned();
            let family = LAST_NAMES[rng.below(LAST_NAMES.len())].to_owned();
            (given, family, rng.unit() < 0.08, rng.unit() >= 0.10)
        };
        let domain = if contractor {
            CONTRACTOR_DOMAIN
        } else {
            COMPANY_DOMAIN
        };
        let local = format!(
            "{}.{}",
            given.to_lowercase(),
            family.to_lowercase().replace(' ', "")
        );
        let mut user_name = format!("{local}@{domain}");
        let mut n = 2;
        while !taken.insert(user_name.to_lowercase()) {
            user_name = format!("{local}{n}@{domain}");
            n += 1;
        }
        out.push(User {
            id: rng.base32_id(true),
            user_name,
            display_name: format!("{given} {family}"),
            given_name: given,
            family_name: family,
            active,
            preferred_language: "en".to_owned(),
            external_id: None,
        });
    }

    let mut out_groups: Vec<Group> = (0..groups)
        .map(|i| {
            let base = GROUP_NAMES[i % GROUP_NAMES.len()];
            let round = i / GROUP_NAMES.len();
            let display_name = if round == 0 {
                base.to_owned()
            } else {
                format!("{base} {}", round + 1)
            };
            let created = SEED_EPOCH + 3600 * i as u64;
            Group {
                id: rng.base32_id(false),
                display_name,
                external_id: None,
                members: Vec::new(),
                created,
                last_modified: created,
            }
        })
        .collect();

    // Each person belongs to zero to three groups; Jane is always in the first one.
    if !out_groups.is_empty() {
        for (i, user) in out.iter().enumerate() {
            let count = if i == 0 { 1 } else { rng.below(4) };
            for k in 0..count {
                let g = if i == 0 && k == 0 {
                    0
                } else {
                    rng.below(out_groups.len())
                };
                let members = &mut out_groups[g].members;
                if !members.contains(&user.id) {
                    members.push(user.id.clone());
                }
            }
        }
    }
    (out, out_groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_directory() {
        let a = generate(50, 5, &mut SplitMix64::new(42));
        let b = generate(50, 5, &mut SplitMix64::new(42));
        assert_eq!(a, b);
        let c = generate(50, 5, &mut SplitMix64::new(43));
        assert_ne!(a.0[1].id, c.0[1].id);
    }

    #[test]
    fn first_user_is_jane_and_ids_have_the_bridge_shape() {
        let (users, groups) = generate(400, 12, &mut SplitMix64::new(7));
        assert_eq!(users[0].user_name, "jane.doe@example.com");
        assert!(users.iter().all(|u| {
            u.id.len() == 26
                && u.id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        }));
        assert!(groups.iter().all(|g| {
            g.id.len() == 26
                && g.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        }));
        let suspended = users.iter().filter(|u| !u.active).count();
        let contractors = users
            .iter()
            .filter(|u| u.user_name.ends_with(CONTRACTOR_DOMAIN))
            .count();
        assert!((20..=70).contains(&suspended), "{suspended}");
        assert!((12..=60).contains(&contractors), "{contractors}");
        assert!(groups.iter().any(|g| !g.members.is_empty()));
    }
}
