//! Linux capabilities: names, Docker's default set, and dropping to a set.

use std::fmt;
use std::io;

use rustix::thread::{CapabilitySet, CapabilitySets};

/// The capabilities Docker grants by default (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Capability names by number (`linux/capability.h`).
const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The number of a capability, from `CAP_CHOWN`, `chown` or `CHOWN` (Docker
/// accepts all three spellings).
pub fn from_name(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The canonical name of capability `cap`, if the crate knows it.
pub fn name(cap: u32) -> Option<&'static str> {
    NAMES.get(cap as usize).copied()
}

/// Every capability the crate knows, by name.
pub fn all() -> Vec<String> {
    NAMES.iter().map(|n| n.to_string()).collect()
}

/// A set of capabilities, one bit per capability number.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet(u64);

impl CapSet {
    /// No capabilities.
    pub const fn empty() -> CapSet {
        CapSet(0)
    }

    /// Every capability the running kernel has (`/proc/sys/kernel/cap_last_cap`).
    pub fn all_supported() -> CapSet {
        let last = last_cap();
        CapSet(if last >= 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 })
    }

    /// The permitted set of the calling process: what it can hand out.
    pub fn current() -> CapSet {
        match rustix::thread::capabilities(None) {
            Ok(sets) => CapSet(sets.permitted.bits()),
            Err(_) => CapSet::empty(),
        }
    }

    /// Parses capability names; `ALL` stands for every capability.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<CapSet, String> {
        let mut set = 0u64;
        for name in names {
            let name = name.as_ref();
            if is_all(name) {
                set |= CapSet::all_supported().0;
                continue;
            }
            let cap = from_name(name).ok_or_else(|| format!("unknown capability: {name:?}"))?;
            set |= 1 << cap;
        }
        Ok(CapSet(set))
    }

    /// The capabilities in both sets.
    pub fn intersection(&self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// The capabilities of `self` missing from `other`.
    pub fn difference(&self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// Whether capability number `cap` is in the set.
    pub fn contains(&self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// Whether the named capability is in the set.
    pub fn contains_name(&self, name: &str) -> bool {
        from_name(name).is_some_and(|c| self.contains(c))
    }

    /// The raw bit mask.
    pub fn bits(&self) -> u64 {
        self.0
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries((0..64).filter(|c| self.contains(*c)).map(|c| name(c).unwrap_or("?"))).finish()
    }
}

/// Whether `name` is Docker's `ALL`.
pub(crate) fn is_all(name: &str) -> bool {
    name.eq_ignore_ascii_case("ALL") || name.eq_ignore_ascii_case("CAP_ALL")
}

/// The highest capability number the kernel knows.
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
        .min(63)
}

/// Removes every capability outside `keep` from the bounding set, so no
/// later `execve` (of a setuid or file-capability binary) can regain them.
/// Needs `CAP_SETPCAP`, so it runs before the final `capset`.
pub(crate) fn drop_bounding(keep: CapSet) -> io::Result<()> {
    for cap in 0..=last_cap() {
        if !keep.contains(cap) {
            match rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(
                1 << cap,
            )) {
                Ok(()) => {}
                // Kernels older than our table reject unknown numbers.
                Err(rustix::io::Errno::INVAL) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Sets effective = permitted = `keep`, inheritable and ambient empty.
/// Run after the uid switch (with `PR_SET_KEEPCAPS` set before it so the
/// permitted set survives the switch away from uid 0).
pub(crate) fn apply(keep: CapSet) -> io::Result<()> {
    let set = CapabilitySet::from_bits_retain(keep.bits() & CapSet::all_supported().bits());
    rustix::thread::set_capabilities(
        None,
        CapabilitySets { effective: set, permitted: set, inheritable: CapabilitySet::empty() },
    )?;
    match rustix::thread::clear_ambient_capability_set() {
        // Ambient capabilities appeared in Linux 4.3.
        Ok(()) | Err(rustix::io::Errno::INVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(from_name("CAP_CHOWN"), Some(0));
        assert_eq!(from_name("chown"), Some(0));
        assert_eq!(from_name("sys_admin"), Some(21));
        assert_eq!(from_name("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(from_name("CAP_NOPE"), None);
        assert_eq!(name(21), Some("CAP_SYS_ADMIN"));
    }

    #[test]
    fn sets() {
        let set = CapSet::from_names(DEFAULT_CAPABILITIES).unwrap();
        assert!(set.contains_name("CAP_KILL"));
        assert!(!set.contains_name("CAP_SYS_ADMIN"));
        assert_eq!(set.bits().count_ones(), 14);
        assert!(CapSet::from_names(["CAP_BOGUS"]).is_err());
        let all = CapSet::from_names(["ALL"]).unwrap();
        assert!(all.contains_name("CAP_SYS_ADMIN"));
        assert_eq!(all, CapSet::all_supported());
    }
}
