//! Container sysctls. Only settings that live in a namespace the container
//! owns may be written: anything else would reconfigure the host for
//! everyone (the rules are runc's).

use std::path::PathBuf;

use crate::error::InitError;
use crate::spec::{Namespace, Namespaces};

const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

const UTS_SYSCTLS: &[&str] = &["kernel.domainname", "kernel.hostname"];

/// Checks that `name` belongs to a namespace of the container.
pub(crate) fn validate(name: &str, ns: &Namespaces) -> Result<(), String> {
    let dotted = name.replace('/', ".");
    if dotted.split('.').any(|p| p.is_empty() || p == "..") {
        return Err(format!("invalid sysctl name {name:?}"));
    }
    let own = |n: &Namespace, what: &str| -> Result<(), String> {
        if *n == Namespace::Host {
            Err(format!("sysctl {name:?} is not allowed in the host's {what} namespace"))
        } else {
            Ok(())
        }
    };
    if IPC_SYSCTLS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
        return own(&ns.ipc, "IPC");
    }
    if UTS_SYSCTLS.contains(&dotted.as_str()) {
        return own(&ns.uts, "UTS");
    }
    if dotted.starts_with("net.") {
        return own(&ns.net, "network");
    }
    Err(format!("sysctl {name:?} is not in a separate kernel namespace"))
}

/// The file under `/proc/sys` for a sysctl: dots become slashes unless the
/// name already uses slashes (which lets `net/ipv4/conf/eth0.100/...`
/// name an interface with a dot).
pub(crate) fn path(name: &str) -> PathBuf {
    let rel = if name.contains('/') { name.to_string() } else { name.replace('.', "/") };
    PathBuf::from("/proc/sys").join(rel)
}

/// Writes the sysctls (inside the container, after `/proc` is mounted).
pub(crate) fn apply(sysctls: &[(String, String)]) -> Result<(), InitError> {
    for (name, value) in sysctls {
        let p = path(name);
        std::fs::write(&p, value.as_bytes())
            .map_err(|e| InitError::os(format!("writing sysctl {name} ({})", p.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_only() {
        let ns = Namespaces::default();
        assert!(validate("net.ipv4.ip_forward", &ns).is_ok());
        assert!(validate("kernel.shmmax", &ns).is_ok());
        assert!(validate("fs.mqueue.msg_max", &ns).is_ok());
        assert!(validate("kernel.domainname", &ns).is_ok());
        let err = validate("kernel.panic", &ns).unwrap_err();
        assert!(err.contains("not in a separate kernel namespace"), "{err}");
        assert!(validate("vm.swappiness", &ns).is_err());
        let host_net = Namespaces { net: Namespace::Host, ..Default::default() };
        assert!(validate("net.core.somaxconn", &host_net).unwrap_err().contains("host's network"));
        assert!(validate("net..x", &ns).is_err());
        assert!(validate("net/../../kernel/panic", &ns).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(path("net.ipv4.ip_forward"), PathBuf::from("/proc/sys/net/ipv4/ip_forward"));
        assert_eq!(
            path("net/ipv4/conf/eth0.100/rp_filter"),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
    }
}
