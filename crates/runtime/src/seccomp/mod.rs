//! Seccomp: Docker's profile format and default profile, compiled to BPF by
//! our own small compiler (the `bpf` module).
//!
//! # Why not `seccompiler`
//!
//! The plan was firecracker's pure-Rust `seccompiler`. Reading it showed it
//! cannot express Docker profiles faithfully:
//!
//! * a filter has exactly one "match" action and one "mismatch" action,
//!   while Docker profiles give every rule its own action and errno — the
//!   default profile alone needs three outcomes (allow, `EPERM`, and
//!   `ENOSYS` for `clone3`). Emulating that by stacking filters changes the
//!   precedence rules (the kernel picks the most severe action across
//!   filters, not the first matching rule);
//! * a foreign architecture is always killed, and it has no i386 table, so
//!   32-bit programs — which Docker's profile allows on x86_64 — would die;
//! * its syscall-name table is private, so we would need our own anyway.
//!
//! The compiler here is about 400 lines with no dependency, follows
//! libseccomp's semantics for Docker profiles (first matching rule of a
//! syscall wins, unsigned 64-bit argument comparisons, a repeated argument
//! index splitting a rule into alternatives as runc does), and generates a
//! binary search over syscall ranges instead of a linear scan.
//!
//! Architectures: x86_64 with its i386 compat table, and aarch64. x32 calls
//! and unknown architectures get `SECCOMP_RET_KILL_PROCESS`, as libseccomp's
//! default bad-arch action does. 32-bit Arm programs on aarch64 hosts are
//! killed too (no Arm table yet).

pub(crate) mod bpf;
mod default;
mod tables;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::caps::CapSet;
use crate::spec::Seccomp;
use crate::sys::SockFilter;
use bpf::{ArchSection, Chain, Rule};

/// Why a profile could not be turned into a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The JSON does not follow Docker's profile format.
    #[error("invalid seccomp profile: {0}")]
    InvalidProfile(String),
    /// The profile uses something berth does not implement.
    #[error("unsupported seccomp profile feature: {0}")]
    Unsupported(String),
    /// More instructions than the kernel accepts.
    #[error("seccomp filter too large: {0} instructions (the kernel limit is 4096)")]
    TooLarge(usize),
    /// A single syscall carries more argument checks than one BPF jump spans.
    #[error("seccomp profile too complex: too many argument rules for one syscall")]
    TooComplex,
}

/// What the filter does with a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let it run.
    Allow,
    /// Fail it with this errno.
    Errno(u16),
    /// Kill the calling thread.
    KillThread,
    /// Kill the whole process.
    KillProcess,
    /// Send SIGSYS.
    Trap,
    /// Notify a ptrace tracer with this value.
    Trace(u16),
    /// Allow and log.
    Log,
}

impl Action {
    /// The `SECCOMP_RET_*` value.
    pub(crate) const fn ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | e as u32,
            Action::Trace(v) => 0x7ff0_0000 | v as u32,
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    fn parse(name: &str, errno: Option<u32>, default_errno: u32) -> Result<Action, SeccompError> {
        let data = |v: u32| {
            u16::try_from(v).map_err(|_| SeccompError::InvalidProfile(format!("errnoRet {v} out of range")))
        };
        Ok(match name {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_ERRNO" => Action::Errno(data(errno.unwrap_or(default_errno))?),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_TRACE" => Action::Trace(data(errno.unwrap_or(default_errno))?),
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => {
                return Err(SeccompError::Unsupported("SCMP_ACT_NOTIFY (seccomp user notification)".into()));
            }
            other => return Err(SeccompError::InvalidProfile(format!("unknown action {other:?}"))),
        })
    }
}

/// Comparison operators of Docker profiles (`SCMP_CMP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `!=`
    Ne,
    /// `<` (unsigned)
    Lt,
    /// `<=` (unsigned)
    Le,
    /// `==`
    Eq,
    /// `>=` (unsigned)
    Ge,
    /// `>` (unsigned)
    Gt,
    /// `(arg & value) == value_two`
    MaskedEq,
}

/// One argument check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    /// Argument index, 0 to 5.
    pub index: u8,
    /// The operand (the mask, for `MaskedEq`).
    pub value: u64,
    /// The expected masked value for `MaskedEq`.
    pub value_two: u64,
    /// The comparison.
    pub op: CmpOp,
}

impl ArgCmp {
    const fn eq(index: u8, value: u64) -> ArgCmp {
        ArgCmp { index, value, value_two: 0, op: CmpOp::Eq }
    }
}

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    pub(crate) program: Vec<SockFilter>,
}

impl Filter {
    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never true for compiled filters).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Installs the filter on the calling process. Requires `no_new_privs`
    /// or `CAP_SYS_ADMIN`; irreversible.
    pub fn install(&self) -> std::io::Result<()> {
        crate::sys::seccomp_set_filter(&self.program)
    }

    /// Evaluates the filter for a syscall without installing it (testing aid).
    #[cfg(test)]
    pub(crate) fn decide(&self, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        bpf::run(&self.program, arch, nr, args)
    }
}

/// Compiles the filter for a process holding `caps`. `None` means no filter
/// (unconfined, or privileged).
pub fn compile(seccomp: &Seccomp, caps: &CapSet) -> Result<Option<Filter>, SeccompError> {
    let host = Host::current();
    match seccomp {
        Seccomp::Unconfined => Ok(None),
        Seccomp::Default => compile_default(caps, &host).map(Some),
        Seccomp::Profile(json) => compile_json(json, caps, &host).map(Some),
    }
}

/// Facts about the running system that profiles depend on.
struct Host {
    /// Go's name for the architecture, as profiles' `arches` use it.
    goarch: &'static str,
    kernel: (u32, u32),
}

impl Host {
    fn current() -> Host {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        Host {
            goarch: if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" },
            kernel: parse_kernel_version(&release).unwrap_or((0, 0)),
        }
    }
}

fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// An architecture section the filter will have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arch {
    X86_64,
    X86,
    Aarch64,
}

impl Arch {
    fn native() -> Arch {
        if cfg!(target_arch = "aarch64") { Arch::Aarch64 } else { Arch::X86_64 }
    }

    /// Architectures a process on this host can make syscalls with.
    fn usable(self) -> bool {
        match Arch::native() {
            Arch::X86_64 => matches!(self, Arch::X86_64 | Arch::X86),
            native => self == native,
        }
    }

    fn from_scmp(name: &str) -> Option<Arch> {
        match name {
            "SCMP_ARCH_X86_64" => Some(Arch::X86_64),
            "SCMP_ARCH_X86" => Some(Arch::X86),
            "SCMP_ARCH_AARCH64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => tables::X86_64,
            Arch::X86 => tables::I386,
            Arch::Aarch64 => tables::AARCH64,
        }
    }

    fn lookup(self, name: &str) -> Option<u32> {
        let table = self.table();
        table.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table[i].1)
    }

    fn section(self) -> ArchSection {
        let (audit_arch, wide_args, number_limit) = match self {
            // x32 syscalls are x86_64 numbers with bit 30 set.
            Arch::X86_64 => (0xC000_003E, true, Some(0x4000_0000)),
            Arch::X86 => (0x4000_0003, false, None),
            Arch::Aarch64 => (0xC000_00B7, true, None),
        };
        ArchSection { audit_arch, wide_args, number_limit, syscalls: BTreeMap::new() }
    }
}

/// Per syscall number: the conditional rules in order, and the
/// unconditional action if there is one.
type SyscallRules = BTreeMap<u32, (Vec<Rule>, Option<Action>)>;

/// Collects rules per architecture and syscall, then generates the program.
struct Builder {
    arches: Vec<Arch>,
    /// One map per entry of `arches`.
    rules: Vec<SyscallRules>,
    default: Action,
}

impl Builder {
    fn new(mut arches: Vec<Arch>, default: Action) -> Builder {
        // The native architecture is always filtered, and comes first.
        let mut unique = vec![Arch::native()];
        for arch in arches.drain(..) {
            if arch.usable() && !unique.contains(&arch) {
                unique.push(arch);
            }
        }
        let arches = unique;
        let rules = arches.iter().map(|_| BTreeMap::new()).collect();
        Builder { arches, rules, default }
    }

    fn add(&mut self, name: &str, action: Action, args: &[ArgCmp]) {
        // Several checks on one argument cannot all hold at once the way
        // profiles mean them; like runc, treat each as its own rule.
        let mut seen = [0u8; 6];
        for a in args {
            seen[usize::from(a.index.min(5))] += 1;
        }
        let alternatives: Vec<Vec<ArgCmp>> = if seen.iter().any(|&n| n > 1) {
            args.iter().map(|a| vec![*a]).collect()
        } else {
            vec![args.to_vec()]
        };
        for (arch, rules) in self.arches.iter().zip(self.rules.iter_mut()) {
            let Some(nr) = arch.lookup(name) else { continue };
            let entry = rules.entry(nr).or_default();
            if args.is_empty() {
                // The first unconditional rule of a syscall wins.
                entry.1.get_or_insert(action);
            } else {
                for conds in &alternatives {
                    entry.0.push(Rule { action, conds: conds.clone() });
                }
            }
        }
    }

    fn finish(self) -> Result<Filter, SeccompError> {
        let default = self.default;
        let sections: Vec<ArchSection> = self
            .arches
            .iter()
            .zip(self.rules)
            .map(|(arch, rules)| {
                let mut section = arch.section();
                for (nr, (conditional, always)) in rules {
                    let fallback = always.unwrap_or(default);
                    let chain = if conditional.is_empty() {
                        Chain::Always(fallback)
                    } else {
                        Chain::Rules { rules: conditional, fallback }
                    };
                    if chain != Chain::Always(default) {
                        section.syscalls.insert(nr, chain);
                    }
                }
                section
            })
            .collect();
        let program = bpf::generate(&sections, default, Action::KillProcess)?;
        Ok(Filter { program })
    }
}

fn compile_default(caps: &CapSet, host: &Host) -> Result<Filter, SeccompError> {
    let mut b = Builder::new(
        vec![Arch::X86_64, Arch::X86, Arch::Aarch64],
        Action::Errno(default::DEFAULT_ERRNO as u16),
    );
    let has = |name: &str| caps.contains_name(name);
    for g in default::GROUPS {
        let applies = g.caps.iter().all(|c| has(c))
            && !g.not_caps.iter().any(|c| has(c))
            && (g.arches.is_empty() || g.arches.contains(&host.goarch))
            && !g.not_arches.contains(&host.goarch)
            && g.min_kernel.is_none_or(|min| host.kernel >= min);
        if applies {
            for name in g.names {
                b.add(name, g.action, g.args);
            }
        }
    }
    b.finish()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<JsonArchMap>>,
    #[serde(default)]
    syscalls: Option<Vec<JsonSyscall>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSyscall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<JsonArg>>,
    #[serde(default)]
    includes: Option<JsonFilter>,
    #[serde(default)]
    excludes: Option<JsonFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonFilter {
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn compile_json(json: &serde_json::Value, caps: &CapSet, host: &Host) -> Result<Filter, SeccompError> {
    let profile: JsonProfile =
        serde_json::from_value(json.clone()).map_err(|e| SeccompError::InvalidProfile(e.to_string()))?;
    if profile.listener_path.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(SeccompError::Unsupported("listenerPath (seccomp user notification)".into()));
    }
    for flag in profile.flags.iter().flatten() {
        // TSYNC is meaningless for a single-threaded init; the others change
        // logging or speculation mitigations, which we do not offer yet.
        if flag != "SECCOMP_FILTER_FLAG_TSYNC" {
            return Err(SeccompError::Unsupported(format!("flag {flag}")));
        }
    }
    let default_errno = profile.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default = Action::parse(&profile.default_action, profile.default_errno_ret, libc::EPERM as u32)?;

    let arch_names: Vec<&str> = match (&profile.architectures, &profile.arch_map) {
        (Some(a), Some(m)) if !a.is_empty() && !m.is_empty() => {
            return Err(SeccompError::InvalidProfile(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"
                    .into(),
            ));
        }
        (Some(a), _) if !a.is_empty() => a.iter().map(String::as_str).collect(),
        (_, Some(map)) => {
            let native = match Arch::native() {
                Arch::Aarch64 => "SCMP_ARCH_AARCH64",
                _ => "SCMP_ARCH_X86_64",
            };
            map.iter()
                .filter(|m| m.architecture == native)
                .flat_map(|m| {
                    std::iter::once(m.architecture.as_str())
                        .chain(m.sub_architectures.iter().flatten().map(String::as_str))
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let arches = arch_names.iter().filter_map(|n| Arch::from_scmp(n)).collect();
    let mut b = Builder::new(arches, default);

    for call in profile.syscalls.iter().flatten() {
        let names: Vec<&str> = match (&call.name, &call.names) {
            (Some(n), Some(ns)) if !n.is_empty() && !ns.is_empty() => {
                return Err(SeccompError::InvalidProfile(
                    "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
                        .into(),
                ));
            }
            (Some(n), _) if !n.is_empty() => vec![n.as_str()],
            (_, Some(ns)) => ns.iter().map(String::as_str).collect(),
            _ => continue,
        };
        if !applies(call.includes.as_ref(), call.excludes.as_ref(), caps, host)? {
            continue;
        }
        let action = Action::parse(&call.action, call.errno_ret, default_errno)?;
        let args = call
            .args
            .iter()
            .flatten()
            .map(|a| {
                let index = u8::try_from(a.index).ok().filter(|i| *i < 6).ok_or_else(|| {
                    SeccompError::InvalidProfile(format!("argument index {} out of range", a.index))
                })?;
                let op = match a.op.as_str() {
                    "SCMP_CMP_NE" => CmpOp::Ne,
                    "SCMP_CMP_LT" => CmpOp::Lt,
                    "SCMP_CMP_LE" => CmpOp::Le,
                    "SCMP_CMP_EQ" => CmpOp::Eq,
                    "SCMP_CMP_GE" => CmpOp::Ge,
                    "SCMP_CMP_GT" => CmpOp::Gt,
                    "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
                    other => return Err(SeccompError::InvalidProfile(format!("unknown operator {other:?}"))),
                };
                Ok(ArgCmp { index, value: a.value, value_two: a.value_two, op })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for name in names {
            b.add(name, action, &args);
        }
    }
    b.finish()
}

/// Docker's `includes`/`excludes` logic.
fn applies(
    includes: Option<&JsonFilter>,
    excludes: Option<&JsonFilter>,
    caps: &CapSet,
    host: &Host,
) -> Result<bool, SeccompError> {
    let min_kernel = |f: &JsonFilter| -> Result<Option<(u32, u32)>, SeccompError> {
        match f.min_kernel.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => parse_kernel_version(v)
                .map(Some)
                .ok_or_else(|| SeccompError::InvalidProfile(format!("invalid minKernel {v:?}"))),
        }
    };
    if let Some(ex) = excludes {
        if ex.arches.iter().flatten().any(|a| a == host.goarch) {
            return Ok(false);
        }
        if ex.caps.iter().flatten().any(|c| caps.contains_name(c)) {
            return Ok(false);
        }
        if min_kernel(ex)?.is_some_and(|min| host.kernel >= min) {
            return Ok(false);
        }
    }
    if let Some(inc) = includes {
        if let Some(arches) = &inc.arches
            && !arches.is_empty()
            && !arches.iter().any(|a| a == host.goarch)
        {
            return Ok(false);
        }
        if !inc.caps.iter().flatten().all(|c| caps.contains_name(c)) {
            return Ok(false);
        }
        if min_kernel(inc)?.is_some_and(|min| host.kernel < min) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps;

    const X86_64: u32 = 0xC000_003E;
    const I386: u32 = 0x4000_0003;
    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0001;
    const ENOSYS: u32 = 0x0005_0026;

    fn nr(name: &str) -> u32 {
        Arch::X86_64.lookup(name).unwrap()
    }

    fn default_filter(caps: &[&str]) -> Filter {
        let caps = CapSet::from_names(caps.iter().copied()).unwrap();
        compile(&Seccomp::Default, &caps).unwrap().unwrap()
    }

    #[test]
    fn tables_are_sorted_and_sane() {
        for table in [tables::X86_64, tables::I386, tables::AARCH64] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_eq!(Arch::X86_64.lookup("read"), Some(0));
        assert_eq!(Arch::X86_64.lookup("keyctl"), Some(250));
        assert_eq!(Arch::X86.lookup("read"), Some(3));
        assert_eq!(Arch::Aarch64.lookup("openat"), Some(56));
        assert_eq!(Arch::Aarch64.lookup("open"), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn default_profile_decisions() {
        let f = default_filter(caps::DEFAULT_CAPABILITIES);
        let d = |name: &str, args: [u64; 6]| f.decide(X86_64, nr(name), args);
        assert_eq!(d("read", [0; 6]), ALLOW);
        assert_eq!(d("execve", [0; 6]), ALLOW);
        assert_eq!(d("arch_prctl", [0; 6]), ALLOW);
        assert_eq!(d("keyctl", [0; 6]), EPERM);
        assert_eq!(d("add_key", [0; 6]), EPERM);
        assert_eq!(d("unshare", [0; 6]), EPERM);
        assert_eq!(d("mount", [0; 6]), EPERM);
        assert_eq!(d("clone3", [0; 6]), ENOSYS);
        assert_eq!(d("clone", [0x0001_1200, 0, 0, 0, 0, 0]), ALLOW, "fork-style clone");
        assert_eq!(d("clone", [0x1000_0000 | 0x11, 0, 0, 0, 0, 0]), EPERM, "CLONE_NEWUSER");
        assert_eq!(d("socket", [2, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(d("socket", [40, 1, 0, 0, 0, 0]), EPERM, "AF_VSOCK");
        assert_eq!(d("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(d("personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM, "READ_IMPLIES_EXEC");
        assert_eq!(d("chroot", [0; 6]), ALLOW, "CAP_SYS_CHROOT is a default capability");
        assert_eq!(d("reboot", [0; 6]), EPERM);
        assert_eq!(f.decide(X86_64, 0x4000_0000, [0; 6]), 0x8000_0000, "x32");
        // 32-bit programs get the same allowlist.
        assert_eq!(f.decide(I386, Arch::X86.lookup("read").unwrap(), [0; 6]), ALLOW);
        assert_eq!(f.decide(I386, Arch::X86.lookup("keyctl").unwrap(), [0; 6]), EPERM);
        assert!(f.len() < 1000, "compact program: {} instructions", f.len());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn capabilities_widen_the_default_profile() {
        let f = default_filter(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]);
        let d = |name: &str, args: [u64; 6]| f.decide(X86_64, nr(name), args);
        assert_eq!(d("mount", [0; 6]), ALLOW);
        assert_eq!(d("unshare", [0; 6]), ALLOW);
        assert_eq!(d("clone3", [0; 6]), ALLOW);
        assert_eq!(d("clone", [0x1000_0000, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(d("kcmp", [0; 6]), ALLOW);
        assert_eq!(d("chroot", [0; 6]), EPERM, "no CAP_SYS_CHROOT");
        let none = default_filter(&[]);
        assert_eq!(none.decide(X86_64, nr("chroot"), [0; 6]), EPERM);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn docker_json_profiles() {
        let json = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                {"name": "chmod", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
                {"names": ["uname"], "action": "SCMP_ACT_ERRNO",
                 "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                 "excludes": {"arches": ["amd64"]}},
                {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}
            ]
        });
        let caps = CapSet::from_names(["CAP_KILL"]).unwrap();
        let f = compile(&Seccomp::Profile(json), &caps).unwrap().unwrap();
        let d = |name: &str, args: [u64; 6]| f.decide(X86_64, nr(name), args);
        assert_eq!(d("mkdir", [0; 6]), EPERM);
        assert_eq!(d("mkdirat", [0; 6]), EPERM);
        assert_eq!(d("chmod", [0; 6]), 0x0005_000d);
        assert_eq!(d("kill", [1, 9, 0, 0, 0, 0]), 0x8000_0000);
        assert_eq!(d("kill", [1, 15, 0, 0, 0, 0]), ALLOW);
        assert_eq!(d("uname", [0; 6]), ALLOW, "include needs CAP_SYS_ADMIN");
        assert_eq!(d("getpid", [0; 6]), ALLOW, "excluded on amd64");
        assert_eq!(d("read", [0; 6]), ALLOW);
        assert_eq!(f.decide(I386, Arch::X86.lookup("mkdir").unwrap(), [0; 6]), EPERM);
    }

    #[test]
    fn repeated_argument_index_means_alternatives() {
        let json = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
            ]
        });
        let f = compile(&Seccomp::Profile(json), &CapSet::empty()).unwrap().unwrap();
        let arch = crate::sys::native_audit_arch();
        let nr = Arch::native().lookup("personality").unwrap();
        assert_eq!(f.decide(arch, nr, [0; 6]), ALLOW);
        assert_eq!(f.decide(arch, nr, [8, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(f.decide(arch, nr, [4, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn profile_errors() {
        let bad = |json: serde_json::Value| {
            compile(&Seccomp::Profile(json), &CapSet::empty()).unwrap_err().to_string()
        };
        assert!(bad(serde_json::json!({"syscalls": []})).contains("defaultAction"));
        assert!(bad(serde_json::json!({"defaultAction": "SCMP_ACT_NOPE"})).contains("unknown action"));
        assert!(bad(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})).contains("unsupported"));
        assert!(
            bad(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]
            }))
            .contains("archMap")
        );
        assert!(
            bad(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]
            }))
            .contains("index")
        );
    }

    #[test]
    fn unconfined_has_no_filter() {
        assert!(compile(&Seccomp::Unconfined, &CapSet::empty()).unwrap().is_none());
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("5"), Some((5, 0)));
        assert_eq!(parse_kernel_version("x"), None);
    }
}
