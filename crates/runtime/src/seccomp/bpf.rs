//! A compiler from syscall rules to a classic-BPF seccomp program.
//!
//! Layout of the generated program:
//!
//! ```text
//!     ld  arch
//!     jeq AUDIT_ARCH_A → section A      (one test per architecture)
//!     ret <bad-arch action>
//! A:  ld  nr
//!     binary search over number ranges  (≈ log2(ranges) jumps)
//!     leaf: ret <action>                (whole ranges share one action)
//!       or: the syscall's argument checks, rule by rule, then its fallback
//! ```
//!
//! Syscall numbers are split into contiguous ranges that share one outcome
//! (runs of allowed syscalls collapse into a single range), so a lookup costs
//! about eight comparisons instead of a walk through hundreds of entries as
//! a linear filter would.
//!
//! Arguments are 64-bit but classic BPF compares 32-bit words: each check
//! loads the high and the low half separately (little-endian layout of
//! `struct seccomp_data`), comparing unsigned like libseccomp does. On 32-bit
//! architectures only the low half exists.

use std::collections::BTreeMap;

use super::{Action, ArgCmp, CmpOp, SeccompError};
use crate::sys::SockFilter;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x54;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;

/// The kernel rejects longer programs (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

fn arg_lo(index: u8) -> u32 {
    16 + 8 * u32::from(index)
}

fn arg_hi(index: u8) -> u32 {
    20 + 8 * u32::from(index)
}

/// One rule: all comparisons must hold for `action` to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub action: Action,
    pub conds: Vec<ArgCmp>,
}

/// What happens to one syscall number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chain {
    /// The same action whatever the arguments.
    Always(Action),
    /// Rules tried in order; `fallback` when none matches.
    Rules { rules: Vec<Rule>, fallback: Action },
}

/// The rules of one architecture.
#[derive(Debug, Clone)]
pub(crate) struct ArchSection {
    /// `AUDIT_ARCH_*` value.
    pub audit_arch: u32,
    /// Whether arguments have a high half.
    pub wide_args: bool,
    /// Syscall numbers at or above this get `bad_arch` (x86_64 uses it to
    /// refuse x32 calls, which set bit 30 of the number).
    pub number_limit: Option<u32>,
    /// Per-syscall behaviour; numbers absent here get the default action.
    pub syscalls: BTreeMap<u32, Chain>,
}

type Label = usize;

#[derive(Debug, Clone, Copy)]
enum JmpOp {
    Eq,
    Gt,
    Ge,
}

/// Symbolic instructions; labels are resolved in [`Asm::finish`].
#[derive(Debug, Clone, Copy)]
enum Ins {
    Load(u32),
    And(u32),
    Ret(u32),
    /// Conditional jump; both targets must be within 255 instructions.
    Jmp {
        op: JmpOp,
        k: u32,
        jt: Label,
        jf: Label,
    },
    /// `if A >= k goto far` (expands to a short test plus a long jump).
    JgeFar {
        k: u32,
        far: Label,
    },
    /// `if A == k goto far`.
    JeqFar {
        k: u32,
        far: Label,
    },
    Mark(Label),
}

#[derive(Default)]
struct Asm {
    code: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }

    fn emit(&mut self, ins: Ins) {
        self.code.push(ins);
    }

    fn mark(&mut self, label: Label) {
        self.code.push(Ins::Mark(label));
    }

    fn finish(self) -> Result<Vec<SockFilter>, SeccompError> {
        let width = |ins: &Ins| match ins {
            Ins::Mark(_) => 0,
            Ins::JgeFar { .. } | Ins::JeqFar { .. } => 2,
            _ => 1,
        };
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for ins in &self.code {
            if let Ins::Mark(l) = ins {
                at[*l] = pc;
            }
            pc += width(ins);
        }
        if pc > MAX_INSNS {
            return Err(SeccompError::TooLarge(pc));
        }
        let short = |from: usize, to: Label| -> Result<u8, SeccompError> {
            let target = at[to];
            debug_assert!(target != usize::MAX, "unplaced label");
            let off = target.checked_sub(from + 1).ok_or(SeccompError::TooComplex)?;
            u8::try_from(off).map_err(|_| SeccompError::TooComplex)
        };
        let long = |from: usize, to: Label| -> Result<u32, SeccompError> {
            let off = at[to].checked_sub(from + 1).ok_or(SeccompError::TooComplex)?;
            Ok(off as u32)
        };
        let stmt = |code, k| SockFilter { code, jt: 0, jf: 0, k };
        let mut out = Vec::with_capacity(pc);
        for ins in &self.code {
            let here = out.len();
            match *ins {
                Ins::Mark(_) => {}
                Ins::Load(k) => out.push(stmt(BPF_LD_W_ABS, k)),
                Ins::And(k) => out.push(stmt(BPF_ALU_AND_K, k)),
                Ins::Ret(k) => out.push(stmt(BPF_RET_K, k)),
                Ins::Jmp { op, k, jt, jf } => {
                    let code = match op {
                        JmpOp::Eq => BPF_JMP_JEQ_K,
                        JmpOp::Gt => BPF_JMP_JGT_K,
                        JmpOp::Ge => BPF_JMP_JGE_K,
                    };
                    out.push(SockFilter { code, jt: short(here, jt)?, jf: short(here, jf)?, k });
                }
                Ins::JgeFar { k, far } | Ins::JeqFar { k, far } => {
                    let code = if matches!(ins, Ins::JgeFar { .. }) { BPF_JMP_JGE_K } else { BPF_JMP_JEQ_K };
                    // true: fall into the long jump; false: skip over it.
                    out.push(SockFilter { code, jt: 0, jf: 1, k });
                    out.push(stmt(BPF_JMP_JA, long(here + 1, far)?));
                }
            }
        }
        Ok(out)
    }
}

/// Builds the program for `sections` (the native architecture first, for
/// speed); any other architecture gets `bad_arch`.
pub(crate) fn generate(
    sections: &[ArchSection],
    default: Action,
    bad_arch: Action,
) -> Result<Vec<SockFilter>, SeccompError> {
    let mut asm = Asm::default();
    let starts: Vec<Label> = sections.iter().map(|_| asm.label()).collect();
    asm.emit(Ins::Load(OFFSET_ARCH));
    for (section, &start) in sections.iter().zip(&starts) {
        asm.emit(Ins::JeqFar { k: section.audit_arch, far: start });
    }
    asm.emit(Ins::Ret(bad_arch.ret()));
    for (section, &start) in sections.iter().zip(&starts) {
        asm.mark(start);
        asm.emit(Ins::Load(OFFSET_NR));
        let segments = segments(section, default, bad_arch);
        emit_tree(&mut asm, section, &segments);
    }
    asm.finish()
}

/// A range of syscall numbers `[start, next segment's start)` with one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome<'a> {
    Ret(Action),
    Chain(&'a [Rule], Action),
}

/// Splits the 32-bit number space into ranges of equal outcome.
fn segments(section: &ArchSection, default: Action, bad_arch: Action) -> Vec<(u32, Outcome<'_>)> {
    /// Appends a segment unless it continues the previous one.
    fn push<'a>(out: &mut Vec<(u32, Outcome<'a>)>, start: u32, outcome: Outcome<'a>) {
        if out.last().map(|(_, o)| o) != Some(&outcome) {
            out.push((start, outcome));
        }
    }
    let limit = section.number_limit.unwrap_or(u32::MAX);
    let mut out = Vec::new();
    let mut next: u64 = 0;
    for (&nr, chain) in section.syscalls.range(..limit) {
        if u64::from(nr) > next {
            push(&mut out, next as u32, Outcome::Ret(default));
        }
        match chain {
            Chain::Always(action) => push(&mut out, nr, Outcome::Ret(*action)),
            // Never merged: each chain is emitted once, at its own leaf.
            Chain::Rules { rules, fallback } => out.push((nr, Outcome::Chain(rules, *fallback))),
        }
        next = u64::from(nr) + 1;
    }
    if next < u64::from(limit) || (section.number_limit.is_none() && next <= u64::from(u32::MAX)) {
        push(&mut out, next as u32, Outcome::Ret(default));
    }
    if section.number_limit.is_some() {
        // Numbers from the limit up are refused like a foreign architecture.
        push(&mut out, limit, Outcome::Ret(bad_arch));
    }
    out
}

fn emit_tree(asm: &mut Asm, section: &ArchSection, segs: &[(u32, Outcome<'_>)]) {
    if segs.len() == 1 {
        match &segs[0].1 {
            Outcome::Ret(action) => asm.emit(Ins::Ret(action.ret())),
            Outcome::Chain(rules, fallback) => emit_chain(asm, section.wide_args, rules, *fallback),
        }
        return;
    }
    let mid = segs.len() / 2;
    let right = asm.label();
    asm.emit(Ins::JgeFar { k: segs[mid].0, far: right });
    emit_tree(asm, section, &segs[..mid]);
    asm.mark(right);
    emit_tree(asm, section, &segs[mid..]);
}

/// Rules of one syscall, tried in order. Each failed comparison jumps to
/// the next rule; the accumulator is reloaded as needed (a rule may clobber
/// it), and the syscall number is not needed again.
fn emit_chain(asm: &mut Asm, wide: bool, rules: &[Rule], fallback: Action) {
    for rule in rules {
        let next = asm.label();
        for cond in &rule.conds {
            emit_cmp(asm, wide, cond, next);
        }
        asm.emit(Ins::Ret(rule.action.ret()));
        asm.mark(next);
    }
    asm.emit(Ins::Ret(fallback.ret()));
}

/// Falls through when `cond` holds, jumps to `fail` otherwise.
fn emit_cmp(asm: &mut Asm, wide: bool, cond: &ArgCmp, fail: Label) {
    let lo_of = |v: u64| v as u32;
    let hi_of = |v: u64| (v >> 32) as u32;
    let pass = asm.label();
    let (value, mask) = match cond.op {
        CmpOp::MaskedEq => (cond.value_two, cond.value),
        _ => (cond.value, u64::MAX),
    };
    // Comparisons on the high word first (when there is one); `lo` is
    // where the low-word check starts.
    let lo = asm.label();
    match cond.op {
        CmpOp::Eq | CmpOp::MaskedEq => {
            if wide {
                asm.emit(Ins::Load(arg_hi(cond.index)));
                if hi_of(mask) != u32::MAX {
                    asm.emit(Ins::And(hi_of(mask)));
                }
                asm.emit(Ins::Jmp { op: JmpOp::Eq, k: hi_of(value & mask), jt: lo, jf: fail });
            }
            asm.mark(lo);
            asm.emit(Ins::Load(arg_lo(cond.index)));
            if lo_of(mask) != u32::MAX {
                asm.emit(Ins::And(lo_of(mask)));
            }
            asm.emit(Ins::Jmp { op: JmpOp::Eq, k: lo_of(value & mask), jt: pass, jf: fail });
        }
        CmpOp::Ne => {
            if wide {
                asm.emit(Ins::Load(arg_hi(cond.index)));
                asm.emit(Ins::Jmp { op: JmpOp::Eq, k: hi_of(value), jt: lo, jf: pass });
            }
            asm.mark(lo);
            asm.emit(Ins::Load(arg_lo(cond.index)));
            asm.emit(Ins::Jmp { op: JmpOp::Eq, k: lo_of(value), jt: fail, jf: pass });
        }
        CmpOp::Gt | CmpOp::Ge => {
            // hi > v.hi → pass; hi < v.hi → fail; equal → compare low words.
            if wide {
                asm.emit(Ins::Load(arg_hi(cond.index)));
                let eq = asm.label();
                asm.emit(Ins::Jmp { op: JmpOp::Gt, k: hi_of(value), jt: pass, jf: eq });
                asm.mark(eq);
                asm.emit(Ins::Jmp { op: JmpOp::Eq, k: hi_of(value), jt: lo, jf: fail });
            }
            asm.mark(lo);
            asm.emit(Ins::Load(arg_lo(cond.index)));
            let op = if cond.op == CmpOp::Gt { JmpOp::Gt } else { JmpOp::Ge };
            asm.emit(Ins::Jmp { op, k: lo_of(value), jt: pass, jf: fail });
        }
        CmpOp::Lt | CmpOp::Le => {
            // The negations of Ge and Gt.
            if wide {
                asm.emit(Ins::Load(arg_hi(cond.index)));
                let eq = asm.label();
                asm.emit(Ins::Jmp { op: JmpOp::Gt, k: hi_of(value), jt: fail, jf: eq });
                asm.mark(eq);
                asm.emit(Ins::Jmp { op: JmpOp::Eq, k: hi_of(value), jt: lo, jf: pass });
            }
            asm.mark(lo);
            asm.emit(Ins::Load(arg_lo(cond.index)));
            let op = if cond.op == CmpOp::Lt { JmpOp::Ge } else { JmpOp::Gt };
            asm.emit(Ins::Jmp { op, k: lo_of(value), jt: fail, jf: pass });
        }
    }
    asm.mark(pass);
}

/// A classic-BPF interpreter for the subset the compiler emits, so tests
/// can check what a program decides without installing it.
#[cfg(test)]
pub(crate) fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = program[pc];
        pc += 1;
        match ins.code {
            BPF_LD_W_ABS => {
                let k = ins.k as usize;
                acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            BPF_ALU_AND_K => acc &= ins.k,
            BPF_RET_K => return ins.k,
            BPF_JMP_JA => pc += ins.k as usize,
            BPF_JMP_JEQ_K | BPF_JMP_JGT_K | BPF_JMP_JGE_K => {
                let taken = match ins.code {
                    BPF_JMP_JEQ_K => acc == ins.k,
                    BPF_JMP_JGT_K => acc > ins.k,
                    _ => acc >= ins.k,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCH: u32 = 0xC000_003E;
    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0001;

    fn section(syscalls: BTreeMap<u32, Chain>) -> ArchSection {
        ArchSection { audit_arch: ARCH, wide_args: true, number_limit: Some(0x4000_0000), syscalls }
    }

    fn program(syscalls: BTreeMap<u32, Chain>) -> Vec<SockFilter> {
        generate(&[section(syscalls)], Action::Errno(1), Action::KillProcess).unwrap()
    }

    #[test]
    fn ranges_and_gaps() {
        let mut map = BTreeMap::new();
        for nr in [0, 1, 2, 3, 7, 9, 10, 400] {
            map.insert(nr, Chain::Always(Action::Allow));
        }
        map.insert(5, Chain::Always(Action::Errno(38)));
        let p = program(map);
        for nr in 0..500u32 {
            let want = match nr {
                0..=3 | 7 | 9 | 10 | 400 => ALLOW,
                5 => 0x0005_0026,
                _ => EPERM,
            };
            assert_eq!(run(&p, ARCH, nr, [0; 6]), want, "nr {nr}");
        }
        assert_eq!(run(&p, ARCH, 0x4000_0001, [0; 6]), 0x8000_0000, "x32 refused");
        assert_eq!(run(&p, ARCH, u32::MAX, [0; 6]), 0x8000_0000);
        assert_eq!(run(&p, 0x4000_0003, 0, [0; 6]), 0x8000_0000, "foreign arch");
    }

    #[test]
    fn empty_rule_set_returns_default() {
        let p = program(BTreeMap::new());
        assert_eq!(run(&p, ARCH, 0, [0; 6]), EPERM);
        assert_eq!(run(&p, ARCH, 12345, [0; 6]), EPERM);
    }

    fn one_cond(op: CmpOp, value: u64, value_two: u64) -> Vec<SockFilter> {
        let mut map = BTreeMap::new();
        map.insert(
            42,
            Chain::Rules {
                rules: vec![Rule {
                    action: Action::Allow,
                    conds: vec![ArgCmp { index: 2, value, value_two, op }],
                }],
                fallback: Action::Errno(1),
            },
        );
        program(map)
    }

    #[test]
    fn sixty_four_bit_comparisons() {
        let samples = [
            0u64,
            1,
            39,
            40,
            41,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0028,
            0x1_0000_0029,
            0x2_0000_0000,
            u64::MAX - 1,
            u64::MAX,
        ];
        let values = [0u64, 40, 0x1_0000_0028, u64::MAX];
        for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
            for &v in &values {
                let p = one_cond(op, v, 0);
                for &a in &samples {
                    let want = match op {
                        CmpOp::Eq => a == v,
                        CmpOp::Ne => a != v,
                        CmpOp::Lt => a < v,
                        CmpOp::Le => a <= v,
                        CmpOp::Gt => a > v,
                        CmpOp::Ge => a >= v,
                        CmpOp::MaskedEq => unreachable!(),
                    };
                    let got = run(&p, ARCH, 42, [0, 0, a, 0, 0, 0]) == ALLOW;
                    assert_eq!(got, want, "{op:?} arg {a:#x} vs {v:#x}");
                }
            }
        }
    }

    #[test]
    fn masked_equality() {
        // Docker's clone rule: no namespace flags set.
        let mask = 0x7E02_0000u64;
        let p = one_cond(CmpOp::MaskedEq, mask, 0);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0x0001_1200, 0, 0, 0]), ALLOW);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0x1000_0000, 0, 0, 0]), EPERM);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0x1_0000_0000, 0, 0, 0]), ALLOW);
        let p = one_cond(CmpOp::MaskedEq, 0xff_0000_00ff, 0x12_0000_0034);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0xab12_9999_9934, 0, 0, 0]), ALLOW);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0xab13_9999_9934, 0, 0, 0]), EPERM);
        assert_eq!(run(&p, ARCH, 42, [0, 0, 0xab12_9999_9935, 0, 0, 0]), EPERM);
    }

    #[test]
    fn rules_are_tried_in_order_with_and_semantics() {
        let mut map = BTreeMap::new();
        map.insert(
            7,
            Chain::Rules {
                rules: vec![
                    Rule {
                        action: Action::Errno(22),
                        conds: vec![
                            ArgCmp { index: 0, value: 1, value_two: 0, op: CmpOp::Eq },
                            ArgCmp { index: 1, value: 2, value_two: 0, op: CmpOp::Eq },
                        ],
                    },
                    Rule {
                        action: Action::Allow,
                        conds: vec![ArgCmp { index: 0, value: 1, value_two: 0, op: CmpOp::Eq }],
                    },
                ],
                fallback: Action::Log,
            },
        );
        let p = program(map);
        assert_eq!(run(&p, ARCH, 7, [1, 2, 0, 0, 0, 0]), 0x0005_0016);
        assert_eq!(run(&p, ARCH, 7, [1, 3, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(&p, ARCH, 7, [2, 2, 0, 0, 0, 0]), 0x7ffc_0000);
        assert_eq!(run(&p, ARCH, 8, [1, 2, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn narrow_arguments_ignore_the_high_word() {
        let mut s = section(BTreeMap::new());
        s.wide_args = false;
        s.number_limit = None;
        s.syscalls.insert(
            3,
            Chain::Rules {
                rules: vec![Rule {
                    action: Action::Allow,
                    conds: vec![ArgCmp { index: 0, value: 5, value_two: 0, op: CmpOp::Eq }],
                }],
                fallback: Action::Errno(1),
            },
        );
        let p = generate(&[s], Action::Errno(1), Action::KillProcess).unwrap();
        assert_eq!(run(&p, ARCH, 3, [5, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(&p, ARCH, 3, [6, 0, 0, 0, 0, 0]), EPERM);
    }
}
