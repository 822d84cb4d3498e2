//! The device cgroup: which device nodes a container may open or create.
//!
//! This is what stops a root process with `CAP_MKNOD` (a default
//! capability) from creating `/dev/sda` and reading the host's disk. v1 has
//! `devices.allow`/`devices.deny`; v2 has no files at all, only an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup,
//! which `program` generates from the same rules.

use std::fmt;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::{CgroupError, io_err, write};
use crate::sys::BpfInsn;

/// Device type of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceType {
    /// Every device (`a`).
    All,
    /// Character devices (`c`).
    Char,
    /// Block devices (`b`).
    Block,
}

/// One rule, in the form of Docker's `--device-cgroup-rule 'c 1:3 rwm'`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRule {
    /// Allow (or deny) matching access.
    pub allow: bool,
    /// Device type.
    pub kind: DeviceType,
    /// Major number; `None` matches any (`*`).
    pub major: Option<u32>,
    /// Minor number; `None` matches any.
    pub minor: Option<u32>,
    /// Any of `r` (read), `w` (write), `m` (mknod).
    pub access: String,
}

impl DeviceRule {
    /// An allow rule.
    pub fn allow(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        DeviceRule { allow: true, kind, major, minor, access: access.to_string() }
    }

    /// Parses `TYPE MAJOR:MINOR ACCESS` (`a` alone means everything) as an
    /// allow rule.
    pub fn parse(s: &str) -> Result<DeviceRule, CgroupError> {
        let bad = || CgroupError::InvalidDeviceRule(s.to_string());
        let mut parts = s.split_whitespace();
        let kind = match parts.next().ok_or_else(bad)? {
            "a" => DeviceType::All,
            "c" => DeviceType::Char,
            "b" => DeviceType::Block,
            _ => return Err(bad()),
        };
        let (major, minor) = match parts.next() {
            None if kind == DeviceType::All => (None, None),
            None => return Err(bad()),
            Some(numbers) => {
                let (ma, mi) = numbers.split_once(':').ok_or_else(bad)?;
                let num = |v: &str| -> Result<Option<u32>, CgroupError> {
                    if v == "*" { Ok(None) } else { v.parse().map(Some).map_err(|_| bad()) }
                };
                (num(ma)?, num(mi)?)
            }
        };
        let access = parts.next().unwrap_or("rwm").to_string();
        if access.is_empty()
            || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
            || parts.next().is_some()
        {
            return Err(bad());
        }
        Ok(DeviceRule { allow: true, kind, major, minor, access })
    }

    /// Access bits as the kernel's BPF context encodes them.
    fn access_bits(&self) -> i32 {
        self.access.chars().fold(0, |acc, c| {
            acc | match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            }
        })
    }
}

impl fmt::Display for DeviceRule {
    /// The v1 `devices.allow` form: `c 1:3 rwm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        };
        let num = |n: Option<u32>| n.map_or("*".to_string(), |v| v.to_string());
        write!(f, "{kind} {}:{} {}", num(self.major), num(self.minor), self.access)
    }
}

/// The device access every Docker container gets: creating any node
/// (`mknod` alone is harmless without read/write), and using the standard
/// nodes in `/dev` plus ptys.
pub fn default_rules() -> Vec<DeviceRule> {
    use DeviceType::{Block, Char};
    let c = |major, minor| DeviceRule::allow(Char, Some(major), Some(minor), "rwm");
    vec![
        DeviceRule::allow(Char, None, None, "m"),
        DeviceRule::allow(Block, None, None, "m"),
        c(1, 3),                                         // /dev/null
        c(1, 5),                                         // /dev/zero
        c(1, 7),                                         // /dev/full
        c(1, 8),                                         // /dev/random
        c(1, 9),                                         // /dev/urandom
        c(5, 0),                                         // /dev/tty
        c(5, 1),                                         // /dev/console
        c(5, 2),                                         // /dev/ptmx
        DeviceRule::allow(Char, Some(136), None, "rwm"), // /dev/pts/*
    ]
}

/// v1: deny everything, then write each rule. No rules: allow everything.
pub(super) fn apply_v1(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    if rules.is_empty() {
        return write(&dir.join("devices.allow"), "a");
    }
    write(&dir.join("devices.deny"), "a")?;
    for rule in rules {
        let file = if rule.allow { "devices.allow" } else { "devices.deny" };
        write(&dir.join(file), &rule.to_string())?;
    }
    Ok(())
}

/// v2: attach the generated program to the cgroup. No rules: no program.
pub(super) fn apply_v2(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    if rules.is_empty() {
        return Ok(());
    }
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| io_err("open", dir)(e.into()))?;
    crate::sys::attach_device_filter(fd.as_fd(), &program(rules))
        .map(drop)
        .map_err(io_err("attach device filter to", dir))
}

const LDX_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const JSET_K: u8 = 0x45;
const EXIT: u8 = 0x95;

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn { code, regs: (src << 4) | dst, off, imm }
}

/// The eBPF program for `rules`: the last matching rule decides, and a
/// device no rule matches is refused.
///
/// Registers: r2 = device type, r3 = requested access, r4 = major,
/// r5 = minor, loaded from `struct bpf_cgroup_dev_ctx` (r1).
pub(crate) fn program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let mut p = vec![
        ins(LDX_W, 2, 1, 0, 0),
        ins(ALU32_MOV_X, 3, 2, 0, 0),
        ins(ALU32_AND_K, 2, 0, 0, 0xffff),
        ins(ALU32_RSH_K, 3, 0, 0, 16),
        ins(LDX_W, 4, 1, 4, 0),
        ins(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Each check jumps past the rest of this block when it fails.
        let mut checks: Vec<(u8, u8, i32)> = Vec::new();
        match rule.kind {
            DeviceType::All => {}
            DeviceType::Block => checks.push((JNE_K, 2, 1)),
            DeviceType::Char => checks.push((JNE_K, 2, 2)),
        }
        let missing = !rule.access_bits() & 7;
        if missing != 0 {
            // Any requested access outside the rule's: not this rule.
            checks.push((JSET_K, 3, missing));
        }
        if let Some(major) = rule.major {
            checks.push((JNE_K, 4, major as i32));
        }
        if let Some(minor) = rule.minor {
            checks.push((JNE_K, 5, minor as i32));
        }
        let block_len = checks.len() + 2;
        for (i, (code, reg, imm)) in checks.iter().enumerate() {
            let skip = (block_len - i - 1) as i16;
            p.push(ins(*code, *reg, 0, skip, *imm));
        }
        p.push(ins(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
        p.push(ins(EXIT, 0, 0, 0, 0));
    }
    p.push(ins(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(ins(EXIT, 0, 0, 0, 0));
    p
}

/// Interprets [`program`] output for tests: the decision for one access.
#[cfg(test)]
fn run(p: &[BpfInsn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [kind | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0;
    loop {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            LDX_W => r[dst] = u64::from(ctx[(i.off / 4) as usize]),
            ALU32_MOV_X => r[dst] = r[src] & 0xffff_ffff,
            ALU32_AND_K => r[dst] = (r[dst] & i.imm as u32 as u64) & 0xffff_ffff,
            ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
            ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
            JNE_K => {
                if r[dst] != i.imm as i64 as u64 {
                    pc += i.off as usize;
                }
            }
            JSET_K => {
                if r[dst] & (i.imm as i64 as u64) != 0 {
                    pc += i.off as usize;
                }
            }
            EXIT => return r[0],
            other => panic!("opcode {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAR: u32 = 2;
    const BLOCK: u32 = 1;
    const M: u32 = 1;
    const R: u32 = 2;
    const W: u32 = 4;

    #[test]
    fn parse_and_print() {
        let r = DeviceRule::parse("c 1:3 rwm").unwrap();
        assert_eq!(r, DeviceRule::allow(DeviceType::Char, Some(1), Some(3), "rwm"));
        assert_eq!(r.to_string(), "c 1:3 rwm");
        assert_eq!(DeviceRule::parse("b *:* m").unwrap().to_string(), "b *:* m");
        assert_eq!(DeviceRule::parse("a").unwrap().to_string(), "a *:* rwm");
        assert_eq!(DeviceRule::parse("c 136:* rw").unwrap().minor, None);
        for bad in ["", "x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c a:3 r", "c 1:3 r extra"] {
            assert!(DeviceRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_program_decisions() {
        let p = program(&default_rules());
        assert_eq!(run(&p, CHAR, R | W, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, CHAR, R, 136, 7), 1, "a pty");
        assert_eq!(run(&p, CHAR, M, 10, 229), 1, "mknod anything");
        assert_eq!(run(&p, BLOCK, M, 8, 0), 1);
        assert_eq!(run(&p, BLOCK, R, 8, 0), 0, "reading a disk");
        assert_eq!(run(&p, CHAR, R | W, 10, 229), 0, "/dev/fuse");
        assert_eq!(run(&p, CHAR, R, 1, 1), 0, "/dev/mem");
    }

    #[test]
    fn later_rules_win() {
        let mut rules = default_rules();
        rules.push(DeviceRule { allow: false, ..DeviceRule::allow(DeviceType::Char, Some(1), Some(3), "w") });
        rules.push(DeviceRule::allow(DeviceType::Block, Some(8), None, "r"));
        let p = program(&rules);
        assert_eq!(run(&p, CHAR, W, 1, 3), 0);
        assert_eq!(run(&p, CHAR, R, 1, 3), 1);
        assert_eq!(run(&p, BLOCK, R, 8, 16), 1);
        assert_eq!(run(&p, BLOCK, R | W, 8, 16), 0);
        let all = program(&[DeviceRule::parse("a").unwrap()]);
        assert_eq!(run(&all, BLOCK, R | W | M, 259, 1), 1);
    }
}
