//! Container names: Docker's validation rule, and generated names in
//! Docker's `adjective_surname` style for containers created without one.

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, Docker's rule for container names.
pub fn is_valid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "daring", "eager", "fair",
    "fearless", "gentle", "happy", "hardy", "keen", "kind", "lucid", "merry", "modest", "nimble", "noble",
    "patient", "quick", "quiet", "sharp", "steady", "stoic", "sunny", "swift", "tender", "tidy", "vivid",
    "warm", "wise", "witty",
];

/// People whose work the container world stands on.
const NAMES: &[&str] = &[
    "allen",
    "babbage",
    "backus",
    "bell",
    "cerf",
    "codd",
    "conway",
    "dijkstra",
    "engelbart",
    "floyd",
    "hamilton",
    "hopper",
    "kahn",
    "karp",
    "kernighan",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "mccarthy",
    "metcalfe",
    "milner",
    "moore",
    "neumann",
    "perlman",
    "pike",
    "ritchie",
    "shannon",
    "sutherland",
    "tarjan",
    "thompson",
    "torvalds",
    "turing",
    "wilkes",
    "wirth",
    "yao",
];

/// A random `adjective_name`; `attempt` > 0 appends a number, as Docker does
/// after a collision.
pub fn generate(attempt: u32) -> String {
    let mut r = [0u8; 2];
    getrandom::fill(&mut r).expect("the kernel's random source is available");
    let base =
        format!("{}_{}", ADJECTIVES[r[0] as usize % ADJECTIVES.len()], NAMES[r[1] as usize % NAMES.len()]);
    if attempt == 0 { base } else { format!("{base}{attempt}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rule() {
        assert!(is_valid("c1"));
        assert!(is_valid("web.2_a-b"));
        assert!(!is_valid("bad name!"));
        assert!(!is_valid("_x"));
        assert!(!is_valid("x"));
        assert!(is_valid(&generate(0)));
        assert!(generate(3).ends_with('3'));
    }
}
