//! Each instruction against the RISC-V specification's stated results, the
//! edge cases included; encodings are built by hand here (no assembler).

use super::*;

fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn s(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23
}
fn b(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63
}
fn jal(imm: i32, rd: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
fn amo(f5: u32, rs2: u32, rs1: u32, f3: u32, rd: u32) -> u32 {
    r(f5 << 2, rs2, rs1, f3, rd, 0x2f)
}
const ECALL: u32 = 0x73;

/// Runs `prog` at 0x1000 with `init` registers; returns the CPU after exit
/// (each program ends with `li a7, 93; ecall`).
fn run_with(init: &[(usize, u64)], prog: &[u32]) -> (Cpu, SparseMemory) {
    let mut mem = SparseMemory::default();
    let mut code: Vec<u32> = prog.to_vec();
    code.extend([addi(17, 0, 93), ECALL]);
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    mem.load(0x1000, &bytes);
    let mut cpu = Cpu::new(0x1000);
    for (reg, v) in init {
        cpu.regs[*reg] = *v;
    }
    cpu.run(&mut mem, &mut Preimages::default(), 10_000).expect("no oracle use").expect("exits");
    assert_eq!(cpu.fault, None);
    (cpu, mem)
}

fn one(op: u32, a: u64, b_: u64) -> u64 {
    run_with(&[(1, a), (2, b_)], &[op]).0.regs[3]
}

#[test]
fn arithmetic_and_logic() {
    let add = r(0, 2, 1, 0, 3, 0x33);
    assert_eq!(one(add, u64::MAX, 2), 1);
    assert_eq!(one(r(0x20, 2, 1, 0, 3, 0x33), 1, 2), u64::MAX);
    assert_eq!(one(r(0, 2, 1, 1, 3, 0x33), 1, 65), 2, "sll uses the low 6 bits");
    assert_eq!(one(r(0, 2, 1, 5, 3, 0x33), 1 << 63, 63), 1);
    assert_eq!(one(r(0x20, 2, 1, 5, 3, 0x33), 1 << 63, 63), u64::MAX, "sra");
    assert_eq!(one(r(0, 2, 1, 2, 3, 0x33), u64::MAX, 0), 1, "slt: -1 < 0");
    assert_eq!(one(r(0, 2, 1, 3, 3, 0x33), u64::MAX, 0), 0, "sltu");
    let (c, _) =
        run_with(&[(1, 5)], &[addi(3, 1, -6), i(-1, 1, 3, 4, 0x13), i(0x3f, 1, 1, 5, 0x13)]);
    assert_eq!(c.regs[3], u64::MAX);
    assert_eq!(c.regs[4], 1, "sltiu against the sign-extended immediate");
    assert_eq!(c.regs[5], 5 << 63);
    let (c, _) = run_with(&[], &[0x1234_50b7, 0x0000_0117]); // lui x1, 0x12345; auipc x2, 0
    assert_eq!(c.regs[1], 0x1234_5000);
    assert_eq!(c.regs[2], 0x1004);
    let (c, _) = run_with(&[], &[0x8000_00b7]); // lui x1, 0x80000: sign-extended
    assert_eq!(c.regs[1], 0xffff_ffff_8000_0000);
    assert_eq!(run_with(&[(1, 7)], &[addi(0, 1, 1)]).0.regs[0], 0, "x0 stays 0");
}

#[test]
fn multiply_and_divide_edge_cases() {
    let m = |f3| r(1, 2, 1, f3, 3, 0x33);
    let min = i64::MIN as u64;
    assert_eq!(one(m(1), u64::MAX, u64::MAX), 0, "mulh -1*-1");
    assert_eq!(one(m(3), u64::MAX, u64::MAX), u64::MAX - 1, "mulhu");
    assert_eq!(one(m(2), u64::MAX, u64::MAX), u64::MAX, "mulhsu -1 * (2^64-1)");
    assert_eq!(one(m(4), 7, 0), u64::MAX, "div by zero: all ones");
    assert_eq!(one(m(5), 7, 0), u64::MAX, "divu by zero");
    assert_eq!(one(m(6), 7, 0), 7, "rem by zero: the dividend");
    assert_eq!(one(m(7), 7, 0), 7, "remu by zero");
    assert_eq!(one(m(4), min, u64::MAX), min, "MIN / -1 = MIN");
    assert_eq!(one(m(6), min, u64::MAX), 0, "MIN % -1 = 0");
    assert_eq!(one(m(4), (-7i64) as u64, 2), (-3i64) as u64, "rounds toward zero");
    assert_eq!(one(m(6), (-7i64) as u64, 2), (-1i64) as u64);
    let mw = |f3| r(1, 2, 1, f3, 3, 0x3b);
    assert_eq!(one(mw(0), 0x8000_0000, 1), 0xffff_ffff_8000_0000, "mulw sign-extends");
    assert_eq!(one(mw(4), 0x8000_0000, u64::MAX), 0xffff_ffff_8000_0000, "divw MIN/-1");
    assert_eq!(one(mw(4), 5, 0), u64::MAX);
    assert_eq!(one(mw(5), 5, 0), u64::MAX, "divuw by zero: all ones, sign-extended");
    assert_eq!(one(mw(6), 0x1_0000_0005, 0), 5, "remw by zero: the dividend's low word");
    assert_eq!(one(mw(7), 0xffff_fffb, 0), u64::MAX - 4, "remuw sign-extends");
}

#[test]
fn word_instructions() {
    assert_eq!(one(r(0, 2, 1, 0, 3, 0x3b), 0x7fff_ffff, 1), 0xffff_ffff_8000_0000, "addw");
    assert_eq!(one(r(0x20, 2, 1, 0, 3, 0x3b), 0, 1), u64::MAX, "subw");
    assert_eq!(one(r(0, 2, 1, 1, 3, 0x3b), 1, 31 + 32), 0xffff_ffff_8000_0000, "sllw: 5 bits");
    assert_eq!(one(r(0, 2, 1, 5, 3, 0x3b), 0xffff_ffff_8000_0000, 31), 1, "srlw on the low word");
    assert_eq!(one(r(0x20, 2, 1, 5, 3, 0x3b), 0x8000_0000, 31), u64::MAX, "sraw");
    let (c, _) = run_with(&[(1, 0xffff_ffff)], &[i(1, 1, 0, 3, 0x1b), i(1, 1, 5, 4, 0x1b)]);
    assert_eq!(c.regs[3], 0, "addiw wraps in 32 bits");
    assert_eq!(c.regs[4], 0x7fff_ffff, "srliw");
    let (c, _) = run_with(&[(1, 0x8000_0000)], &[i(0x400 | 4, 1, 5, 3, 0x1b)]);
    assert_eq!(c.regs[3], 0xffff_ffff_f800_0000, "sraiw");
}

#[test]
fn loads_stores_and_sign_extension() {
    let (c, mut m) = run_with(
        &[(1, 0x8000), (2, 0x8877_6655_4433_2281)],
        &[
            s(0, 2, 1, 3),        // sd
            i(0, 1, 0, 3, 0x03),  // lb
            i(0, 1, 4, 4, 0x03),  // lbu
            i(6, 1, 1, 5, 0x03),  // lh at 6: 0x8877
            i(6, 1, 5, 6, 0x03),  // lhu
            i(4, 1, 2, 7, 0x03),  // lw at 4: 0x88776655
            i(4, 1, 6, 8, 0x03),  // lwu
            i(0, 1, 3, 9, 0x03),  // ld
            s(9, 2, 1, 1),        // sh, misaligned: byte by byte
            i(9, 1, 5, 10, 0x03), // lhu misaligned
        ],
    );
    assert_eq!(c.regs[3], 0xffff_ffff_ffff_ff81);
    assert_eq!(c.regs[4], 0x81);
    assert_eq!(c.regs[5], 0xffff_ffff_ffff_8877);
    assert_eq!(c.regs[6], 0x8877);
    assert_eq!(c.regs[7], 0xffff_ffff_8877_6655);
    assert_eq!(c.regs[8], 0x8877_6655);
    assert_eq!(c.regs[9], 0x8877_6655_4433_2281);
    assert_eq!(c.regs[10], 0x2281);
    assert_eq!(m.read(0x8009, 2), 0x2281);
}

#[test]
fn branches_and_jumps() {
    // x3 counts down from 5 to 0 in a loop: addi x3,x3,-1; bne x3,x0,-4
    let (c, _) = run_with(&[(3, 5)], &[addi(3, 3, -1), b(-4, 0, 3, 1)]);
    assert_eq!(c.regs[3], 0);
    for (f3, a, b_, taken) in [
        (0, 1, 1, true),
        (1, 1, 1, false),
        (4, u64::MAX, 0, true),
        (5, u64::MAX, 0, false),
        (6, u64::MAX, 0, false),
        (7, u64::MAX, 0, true),
    ] {
        // taken: skip the addi that sets x4
        let (c, _) = run_with(&[(1, a), (2, b_)], &[b(8, 2, 1, f3), addi(4, 0, 1)]);
        assert_eq!(c.regs[4] == 0, taken, "branch f3={f3}");
    }
    // jal over one instruction; jalr back to a computed address with bit 0 cleared
    let (c, _) = run_with(&[], &[jal(8, 1), addi(4, 0, 1), addi(5, 0, 1)]);
    assert_eq!((c.regs[1], c.regs[4], c.regs[5]), (0x1004, 0, 1));
    let (c, _) = run_with(&[(2, 0x100a)], &[i(-1, 2, 0, 1, 0x67), addi(4, 0, 1), addi(5, 0, 1)]);
    assert_eq!(
        (c.regs[1], c.regs[4], c.regs[5]),
        (0x1004, 0, 1),
        "jalr to (0x100a - 1) & !1 = 0x1008"
    );
}

#[test]
fn atomics() {
    let (c, m) = run_with(
        &[(1, 0x9000), (2, 5), (6, 0xffff_fffe)],
        &[
            s(0, 2, 1, 3),         // [x1] = 5
            amo(0x00, 2, 1, 3, 3), // amoadd.d x3 = 5, [x1] = 10
            amo(0x02, 0, 1, 3, 4), // lr.d x4 = 10
            amo(0x03, 2, 1, 3, 5), // sc.d ok: x5 = 0, [x1] = 5
            amo(0x03, 2, 1, 3, 7), // sc.d again: no reservation, x7 = 1
            s(8, 6, 1, 2),         // sw [x1+8] = 0xfffffffe
            addi(9, 1, 8),
            amo(0x18, 2, 9, 2, 8), // amominu.w: min(0xfffffffe, 5) = 5; x8 = sext(old)
            amo(0x14, 2, 9, 2, 10), // amomax.w: max(5, 5) = 5
        ],
    );
    assert_eq!(c.regs[3], 5);
    assert_eq!(c.regs[4], 10);
    assert_eq!(c.regs[5], 0);
    assert_eq!(c.regs[7], 1);
    assert_eq!(c.regs[8], 0xffff_ffff_ffff_fffe, "the old word, sign-extended");
    let mut m = m;
    assert_eq!(m.read(0x9000, 8), 5);
    assert_eq!(m.read(0x9008, 4), 5);
    assert_eq!(c.regs[10], 5);
}

#[test]
fn faults_stop_the_machine_with_nothing_else_changed() {
    let fault = |prog: &[u32], init: &[(usize, u64)]| {
        let mut mem = SparseMemory::default();
        let bytes: Vec<u8> = prog.iter().flat_map(|w| w.to_le_bytes()).collect();
        mem.load(0x1000, &bytes);
        let mut cpu = Cpu::new(0x1000);
        for (reg, v) in init {
            cpu.regs[*reg] = *v;
        }
        let before = mem.root();
        let exit = cpu.run(&mut mem, &mut Preimages::default(), 100).expect("no oracle use");
        assert_eq!(exit, Some(FAULT_EXIT_CODE));
        assert_eq!(mem.root(), before, "a faulting step writes nothing");
        let last_pc = cpu.pc;
        let steps = cpu.steps;
        // The exited state is a fixed point.
        cpu.step(&mut mem, &mut Preimages::default()).expect("no-op");
        assert_eq!((cpu.pc, cpu.steps), (last_pc, steps));
        cpu.fault.expect("the fault is recorded")
    };
    assert!(matches!(fault(&[0x0000_4501], &[]), Fault::IllegalInstruction { .. }), "compressed");
    assert!(matches!(fault(&[0x0000_0007], &[]), Fault::IllegalInstruction { .. }), "float load");
    assert!(matches!(fault(&[0x0010_0073], &[]), Fault::Breakpoint { .. }));
    assert!(matches!(
        fault(&[addi(17, 0, 57), ECALL], &[]),
        Fault::UnknownSyscall { number: 57, .. }
    ));
    assert!(matches!(
        fault(&[amo(0x00, 2, 1, 3, 3)], &[(1, 0x9004)]),
        Fault::MisalignedAtomic { .. }
    ));
    assert!(matches!(fault(&[jal(6, 1)], &[]), Fault::MisalignedJump { .. }));
    // The registers of a faulting jump are untouched.
    let mut mem = SparseMemory::default();
    mem.load(0x1000, &jal(6, 1).to_le_bytes());
    let mut cpu = Cpu::new(0x1000);
    cpu.run(&mut mem, &mut Preimages::default(), 5).unwrap();
    assert_eq!((cpu.regs[1], cpu.pc, cpu.steps), (0, 0x1000, 1));
    // A normal exit, then a step after it.
    let mut mem = SparseMemory::default();
    mem.load(
        0x1000,
        &[addi(17, 0, 93), ECALL].iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>(),
    );
    let mut cpu = Cpu::new(0x1000);
    assert_eq!(cpu.run(&mut mem, &mut Preimages::default(), 10), Ok(Some(0)));
    assert_eq!(cpu.steps, 2);
    assert_eq!(cpu.step(&mut mem, &mut Preimages::default()), Ok(Effect::None));
    assert_eq!(cpu.steps, 2);
}
