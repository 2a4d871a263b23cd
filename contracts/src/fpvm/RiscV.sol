// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPreimageOracle} from "./IPreimageOracle.sol";
import {LocalKey} from "./LocalKey.sol";

/// @title RiscV
/// @notice Executes one instruction of the fault-proof VM (RV64IMA, a few system
/// calls) on L1: given a pre-state and memory proofs, the post-state and its hash.
///
/// Mirroring rule: this contract is a line-by-line transcription of the Rust
/// reference verifier, `verify_step` in crates/fpvm/src/verify.rs, with the same
/// functions in the same order (`step` for `verify_step`, `execute`, `opImm`, `op`,
/// `opImm32`, `op32`, `amo`, `ecall`, memory through `takeProof` / `provenLeaf` /
/// `loadBytes` / `storeInLeaf` / `storeBytes` / `load` / `store`). Three pieces are
/// split off only because the legacy code generator's stack is shallow: `branchTaken`
/// (the branch `match` inside `execute`), `mulDiv` (the `(1, _)` arms of `op`) and
/// `amoRmw` (the read-modify-write tail of `amo`); `execute` keeps the decoded fields in
/// an `Instr` struct. A change to the Rust must be made here too: the differential
/// tests run both on real traces and random instruction streams and compare
/// post-state hashes. Where the Rust returns `Err(Faulted)` a function here returns
/// `FAULTED` (false); where it returns a `VerifyError` this contract reverts.
///
/// Integers: every u64 of the Rust is a `uint64` here, and arithmetic is `unchecked`,
/// so additions, subtractions, products and shifts wrap mod 2^64 as Rust's
/// `wrapping_*`, `<<` and `as u64` do (an honest step at pc 2^64-4 wraps to 0). The one
/// checked sum is the preimage offset's, a plain `+=` in Rust too. Rust's u128/i128
/// are `uint256`/`int256` here.
///
/// State (crates/fpvm/src/state.rs): 362 bytes, integers big-endian:
///
/// | bytes    | field                       |
/// |----------|-----------------------------|
/// | 0..32    | memory root                 |
/// | 32..64   | preimage key                |
/// | 64..72   | preimage offset             |
/// | 72..80   | pc                          |
/// | 80       | exited (0 or 1)             |
/// | 81..89   | exit code                   |
/// | 89..97   | step count                  |
/// | 97       | reservation held (0 or 1)   |
/// | 98..106  | reservation address         |
/// | 106..362 | x0..x31, 8 bytes each       |
///
/// The state hash is keccak256 of the encoding with its first byte replaced by the
/// status: 0 exited with 0, 1 exited with 1, 2 exited otherwise, 3 running.
///
/// Memory (crates/fpvm/src/memory.rs): a binary keccak tree over the 2^64-byte
/// address space, 32-byte leaves (leaf i holds bytes 32i..32i+32), 59 levels. A
/// memory proof is the leaf's 32 bytes and its 59 siblings bottom up (1,920 bytes).
/// `proofs` holds one proof per leaf the instruction touches, in the order of its
/// accesses, each against the memory root as it is at that access.
contract RiscV {
    /// Bytes of an encoded state.
    uint256 internal constant STATE_SIZE = 362;
    /// Levels above the leaves of the memory tree.
    uint256 internal constant TREE_DEPTH = 59;
    /// One memory proof: the leaf and its 59 siblings.
    uint256 internal constant MEM_PROOF_SIZE = 32 * (TREE_DEPTH + 1);
    /// Mask of a leaf index (59 bits).
    uint64 internal constant LEAF_MASK = (uint64(1) << 59) - 1;

    /// The exit code of a faulted machine (status "panic").
    uint64 internal constant FAULT_EXIT_CODE = type(uint64).max;

    /// System call numbers (in a7), crates/fpvm/src/lib.rs.
    uint64 internal constant SYS_EXIT = 93;
    uint64 internal constant SYS_WRITE = 64;
    uint64 internal constant SYS_PREIMAGE_KEY = 0x1000;
    uint64 internal constant SYS_PREIMAGE_READ = 0x1001;

    /// Preimage key types (the key's first byte), crates/fpvm/src/oracle.rs.
    uint8 internal constant KEY_LOCAL = 1;
    uint8 internal constant KEY_KECCAK256 = 2;
    uint8 internal constant KEY_POSEIDON = 3;
    uint8 internal constant KEY_BLOB = 5;

    /// State statuses (the first byte of a state hash).
    uint8 internal constant STATUS_VALID = 0;
    uint8 internal constant STATUS_INVALID = 1;
    uint8 internal constant STATUS_PANIC = 2;
    uint8 internal constant STATUS_UNFINISHED = 3;

    /// What an instruction function returns: `OK`, or `FAULTED` for Rust's `Err(Faulted)`
    /// (the instruction has no effect but to stop the machine).
    bool internal constant OK = true;
    bool internal constant FAULTED = false;

    /// Every field of the VM's state (Rust's `VmState`). Rust's
    /// `reservation: Option<u64>` is `reserved` (is_some) and `reservation` (the address,
    /// 0 when none).
    struct VmState {
        bytes32 memRoot;
        bytes32 preimageKey;
        uint64 preimageOffset;
        uint64 pc;
        bool exited;
        uint64 exitCode;
        uint64 steps;
        bool reserved;
        uint64 reservation;
        uint64[32] regs;
    }

    /// One step in progress (Rust's `Step`): the state, the memory proofs and how many
    /// have been used, and what binds local preimage keys (the oracle is `oracle`).
    struct Step {
        VmState s;
        bytes proofs;
        uint256 nextProof;
        bytes32 localContext;
    }

    /// An instruction word's fields (Rust's locals in `execute`).
    struct Instr {
        uint64 opcode;
        uint64 rd;
        uint64 funct3;
        uint64 rs1;
        uint64 rs2;
        uint64 funct7;
    }

    /// The pre-state is not a valid 362-byte state encoding.
    error BadState();
    /// Memory proof `index` is missing.
    error MissingProof(uint256 index);
    /// Memory proof `index` (of leaf `leaf`) does not match the memory root.
    error BadProof(uint256 index, uint64 leaf);

    /// Serves the preimage parts that `SYS_PREIMAGE_READ` reads.
    IPreimageOracle public immutable oracle;

    constructor(IPreimageOracle oracle_) {
        oracle = oracle_;
    }

    // ---- the step (Rust's `verify_step`) ----

    /// Executes the instruction at the pre-state's pc. `localContext` names the disputed claim:
    /// a local key (type 1) is read from the oracle as `localize(key, msg.sender, localContext)`.
    /// Returns the post-state's hash (status byte first) and its 362-byte encoding.
    /// @dev Reverts `BadState` for a pre-state that does not decode, `MissingProof` /
    /// `BadProof` for a memory proof that is absent or wrong, and with the oracle's error
    /// for a part it has not loaded. A step on an exited state changes nothing (not even
    /// the step count) and needs no proof. A fault discards every effect but the exit.
    function step(bytes calldata state, bytes calldata proofs, bytes32 localContext)
        external
        view
        returns (bytes32 postHash, bytes memory post)
    {
        (bool valid, VmState memory s) = decode(state);
        if (!valid) revert BadState();
        if (s.exited) {
            post = encode(s);
            return (hashEncoded(post, status(s.exited, s.exitCode)), post);
        }
        uint64 preSteps = s.steps;
        Step memory st = Step({s: s, proofs: proofs, nextProof: 0, localContext: localContext});
        if (execute(st) == FAULTED) {
            // Discard every effect but the exit: pc, registers, memory as before. (`s` and
            // `st.s` are one struct in memory, so the pre-state is decoded afresh.)
            (, st.s) = decode(state);
            st.s.exited = true;
            st.s.exitCode = FAULT_EXIT_CODE;
        }
        unchecked {
            st.s.steps = preSteps + 1;
        }
        post = encode(st.s);
        postHash = hashEncoded(post, status(st.s.exited, st.s.exitCode));
    }

    /// The state hash of an encoded state (Rust's `VmState::hash`): keccak256 of the
    /// encoding, first byte the status. The game checks a step's pre-state against a
    /// claim with it.
    /// @dev Reverts `BadState` for an encoding `step` would refuse (decoding is
    /// canonical: a state that decodes has this one encoding).
    function stateHash(bytes calldata state) external pure returns (bytes32) {
        (bool valid, VmState memory s) = decode(state);
        if (!valid) revert BadState();
        return hashEncoded(state, status(s.exited, s.exitCode));
    }

    /// keccak256(abi.encode(key, caller, localContext)) with its first byte set to 1: the
    /// key the oracle serves local key `key` under for the game `caller` playing the claim
    /// `localContext`, so that local inputs are bound to the game that asks.
    function localize(bytes32 key, address caller, bytes32 localContext) public pure returns (bytes32) {
        return LocalKey.localize(key, caller, localContext);
    }

    // ---- the state encoding (crates/fpvm/src/state.rs) ----

    /// The big-endian u64 at `b[pos..pos + 8]`.
    function u64At(bytes calldata b, uint256 pos) internal pure returns (uint64) {
        return uint64(bytes8(b[pos:pos + 8]));
    }

    /// Decodes a state (Rust's `VmState::decode`); `valid` is false for a wrong length,
    /// a flag other than 0 or 1, a non-zero x0, a reservation address without the flag,
    /// a running state's non-zero exit code or an unaligned reservation address.
    function decode(bytes calldata b) internal pure returns (bool valid, VmState memory s) {
        if (b.length != STATE_SIZE || uint8(b[80]) > 1 || uint8(b[97]) > 1) {
            return (false, s);
        }
        for (uint256 i = 0; i < 32; i++) {
            s.regs[i] = u64At(b, 106 + 8 * i);
        }
        uint64 reservationAddr = u64At(b, 98);
        uint64 exitCode = u64At(b, 81);
        // One encoding per state: a running machine's exit code is 0, a
        // reservation is at an aligned address (LR only makes those).
        if (
            s.regs[0] != 0 || (uint8(b[97]) == 0 && reservationAddr != 0) || (uint8(b[80]) == 0 && exitCode != 0)
                || reservationAddr % 4 != 0
        ) {
            return (false, s);
        }
        s.memRoot = bytes32(b[0:32]);
        s.preimageKey = bytes32(b[32:64]);
        s.preimageOffset = u64At(b, 64);
        s.pc = u64At(b, 72);
        s.exited = uint8(b[80]) == 1;
        s.exitCode = exitCode;
        s.steps = u64At(b, 89);
        s.reserved = uint8(b[97]) == 1;
        s.reservation = reservationAddr;
        return (true, s);
    }

    /// The 362-byte encoding of `s` (Rust's `VmState::encode`).
    function encode(VmState memory s) internal pure returns (bytes memory) {
        // x0..x31 as 8 words of 4 big-endian registers each (packed, an array's
        // elements are 32 bytes each).
        uint256[8] memory regs;
        for (uint256 i = 0; i < 32; i++) {
            regs[i / 4] |= uint256(s.regs[i]) << (192 - 64 * (i % 4));
        }
        return abi.encodePacked(
            s.memRoot,
            s.preimageKey,
            s.preimageOffset,
            s.pc,
            s.exited,
            s.exitCode,
            s.steps,
            s.reserved,
            s.reserved ? s.reservation : uint64(0),
            regs
        );
    }

    /// The status byte of a state (Rust's `status`).
    function status(bool exited, uint64 exitCode) internal pure returns (uint8) {
        if (!exited) return STATUS_UNFINISHED;
        if (exitCode == 0) return STATUS_VALID;
        if (exitCode == 1) return STATUS_INVALID;
        return STATUS_PANIC;
    }

    /// The state hash of an encoded state whose status is `status_`: keccak256 of the
    /// encoding, first byte the status (Rust's `hash_encoded`).
    function hashEncoded(bytes memory encoded, uint8 status_) internal pure returns (bytes32) {
        return bytes32((uint256(keccak256(encoded)) & (type(uint256).max >> 8)) | (uint256(status_) << 248));
    }

    // ---- small helpers (Rust's `sign_extend`, `bits`, `u64::from(bool)`) ----

    /// `v`'s low `nbits` bits, sign-extended to 64.
    function signExtend(uint64 v, uint64 nbits) internal pure returns (uint64) {
        unchecked {
            uint64 sign = (v >> (nbits - 1)) & 1;
            uint64 mask = nbits == 64 ? type(uint64).max : (uint64(1) << nbits) - 1;
            return sign == 1 ? (v & mask) | ~mask : v & mask;
        }
    }

    /// `n` bits of `word` from bit `lo`.
    function bits(uint64 word, uint64 lo, uint64 n) internal pure returns (uint64) {
        unchecked {
            return (word >> lo) & ((uint64(1) << n) - 1);
        }
    }

    /// 1 for true, 0 for false.
    function b2u(bool b) internal pure returns (uint64) {
        return b ? 1 : 0;
    }

    /// Mask of the first `n` (0..=32) bytes of a word.
    function firstBytes(uint256 n) internal pure returns (uint256) {
        unchecked {
            return ~(type(uint256).max >> (8 * n));
        }
    }

    // ---- memory, through proofs ----

    /// The root a proof (at `proofs[start..start + MEM_PROOF_SIZE]`) gives for leaf `leaf`
    /// holding `value` (Rust's `memory::root_from`). The caller has checked the proof is
    /// within `proofs`.
    function rootFrom(uint64 leaf, bytes32 value, bytes memory proofs, uint256 start)
        internal
        pure
        returns (bytes32 node)
    {
        node = value;
        assembly ("memory-safe") {
            // Sibling h (0..59) is at proof[32 * (h + 1)..], the proof at proofs' data + start.
            let siblings := add(add(proofs, 0x40), start)
            for { let h := 0 } lt(h, 59) { h := add(h, 1) } {
                let sibling := mload(add(siblings, shl(5, h)))
                switch and(shr(h, leaf), 1)
                case 0 {
                    mstore(0x00, node)
                    mstore(0x20, sibling)
                }
                default {
                    mstore(0x00, sibling)
                    mstore(0x20, node)
                }
                node := keccak256(0x00, 0x40)
            }
        }
    }

    /// The 32 bytes at `proofs[pos..pos + 32]`.
    function wordAt(bytes memory proofs, uint256 pos) internal pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := mload(add(add(proofs, 0x20), pos))
        }
    }

    /// Takes the next proof; returns where it starts in `st.proofs`.
    function takeProof(Step memory st) internal pure returns (uint256 start) {
        uint256 index = st.nextProof;
        start = index * MEM_PROOF_SIZE;
        if (st.proofs.length < start + MEM_PROOF_SIZE) {
            revert MissingProof(index);
        }
        st.nextProof += 1;
    }

    /// Checks the next proof is of `leaf` under the current root; returns the
    /// leaf's bytes and the proof's position.
    function provenLeaf(Step memory st, uint64 leaf) internal pure returns (bytes32 value, uint256 index) {
        index = st.nextProof;
        bytes32 root = st.s.memRoot;
        uint256 start = takeProof(st);
        value = wordAt(st.proofs, start);
        if (rootFrom(leaf, value, st.proofs, start) != root) {
            revert BadProof(index, leaf);
        }
    }

    /// `n` (1..=32) bytes at `addr`, left-aligned, the rest zero.
    function loadBytes(Step memory st, uint64 addr, uint64 n) internal pure returns (bytes32) {
        unchecked {
            uint64 leaf = addr >> 5;
            (bytes32 a,) = provenLeaf(st, leaf);
            // pair = a ‖ b, b zero unless the access crosses into the next leaf.
            bytes32 b;
            if ((addr & 31) + n > 32) {
                (b,) = provenLeaf(st, (leaf + 1) & LEAF_MASK);
            }
            uint256 off = addr & 31;
            // out[..n] = pair[off..off + n] (a shift by 256 gives 0).
            uint256 window = (uint256(a) << (8 * off)) | (uint256(b) >> (256 - 8 * off));
            return bytes32(window & firstBytes(n));
        }
    }

    /// The first `len` bytes of `data` written at `addr`, all within one leaf.
    function storeInLeaf(Step memory st, uint64 addr, bytes32 data, uint256 len) internal pure {
        unchecked {
            uint64 leaf = addr >> 5;
            (bytes32 value, uint256 index) = provenLeaf(st, leaf);
            uint256 off = addr & 31;
            // value[off..off + len] = data[..len]
            uint256 mask = firstBytes(len) >> (8 * off);
            value = bytes32((uint256(value) & ~mask) | ((uint256(data) >> (8 * off)) & mask));
            uint256 start = index * MEM_PROOF_SIZE;
            st.s.memRoot = rootFrom(leaf, value, st.proofs, start);
        }
    }

    /// The first `len` (1..=32) bytes of `data` written at `addr`, split at the leaf boundary.
    function storeBytes(Step memory st, uint64 addr, bytes32 data, uint256 len) internal pure {
        unchecked {
            uint256 first = 32 - (addr & 31);
            if (len < first) first = len;
            storeInLeaf(st, addr, data, first);
            if (first < len) {
                storeInLeaf(st, addr + uint64(first), bytes32(uint256(data) << (8 * first)), len - first);
            }
        }
    }

    /// The `n`-byte (1..=8) little-endian integer at `addr`.
    function load(Step memory st, uint64 addr, uint64 n) internal pure returns (uint64) {
        unchecked {
            bytes32 b = loadBytes(st, addr, n);
            uint64 v = 0;
            for (uint64 i = 0; i < n; i++) {
                v |= uint64(uint8(b[i])) << (8 * i);
            }
            return v;
        }
    }

    /// The low `n` (1..=8) bytes of `value` written little-endian at `addr`.
    function store(Step memory st, uint64 addr, uint64 n, uint64 value) internal pure {
        unchecked {
            // le = value.to_le_bytes(), left-aligned.
            uint256 le = 0;
            for (uint256 i = 0; i < 8; i++) {
                le |= uint256(uint8(value >> (8 * i))) << (248 - 8 * i);
            }
            storeBytes(st, addr, bytes32(le), n);
        }
    }

    // ---- registers ----

    function reg(Step memory st, uint64 r) internal pure returns (uint64) {
        return st.s.regs[r];
    }

    function setReg(Step memory st, uint64 r, uint64 v) internal pure {
        if (r != 0) {
            st.s.regs[r] = v;
        }
    }

    // ---- one instruction ----

    /// Executes the instruction at pc; `FAULTED` for an instruction that faults.
    /// @dev Rust's locals `opcode`, `rd`, `funct3`, `rs1`, `rs2`, `funct7` are the fields of
    /// `i` here (one memory struct instead of six stack slots: the legacy code generator's
    /// stack is too shallow for them).
    function execute(Step memory st) internal view returns (bool) {
        unchecked {
            uint64 pc = st.s.pc;
            if (pc % 4 != 0) {
                return FAULTED;
            }
            uint64 word = load(st, pc, 4);
            if (word & 3 != 3) {
                return FAULTED;
            }
            Instr memory i = Instr({
                opcode: bits(word, 0, 7),
                rd: bits(word, 7, 5),
                funct3: bits(word, 12, 3),
                rs1: bits(word, 15, 5),
                rs2: bits(word, 20, 5),
                funct7: bits(word, 25, 7)
            });
            uint64 nextPc = pc + 4;
            uint64 opcode = i.opcode;
            if (opcode == 0x37) {
                setReg(st, i.rd, signExtend(word & 0xffff_f000, 32));
            } else if (opcode == 0x17) {
                setReg(st, i.rd, pc + signExtend(word & 0xffff_f000, 32));
            } else if (opcode == 0x6f) {
                uint64 imm = (bits(word, 31, 1) << 20) | (bits(word, 12, 8) << 12) | (bits(word, 20, 1) << 11)
                    | (bits(word, 21, 10) << 1);
                nextPc = pc + signExtend(imm, 21);
                if (nextPc % 4 != 0) {
                    return FAULTED;
                }
                setReg(st, i.rd, pc + 4);
            } else if (opcode == 0x67) {
                if (i.funct3 != 0) {
                    return FAULTED;
                }
                nextPc = (reg(st, i.rs1) + signExtend(bits(word, 20, 12), 12)) & ~uint64(1);
                if (nextPc % 4 != 0) {
                    return FAULTED;
                }
                setReg(st, i.rd, pc + 4);
            } else if (opcode == 0x63) {
                (bool valid, bool taken) = branchTaken(i.funct3, reg(st, i.rs1), reg(st, i.rs2));
                if (!valid) {
                    return FAULTED;
                }
                if (taken) {
                    uint64 imm = (bits(word, 31, 1) << 12) | (bits(word, 7, 1) << 11) | (bits(word, 25, 6) << 5)
                        | (bits(word, 8, 4) << 1);
                    nextPc = pc + signExtend(imm, 13);
                    if (nextPc % 4 != 0) {
                        return FAULTED;
                    }
                }
            } else if (opcode == 0x03) {
                uint64 addr = reg(st, i.rs1) + signExtend(bits(word, 20, 12), 12);
                uint64 funct3 = i.funct3;
                uint64 size;
                bool isSigned;
                if (funct3 == 0) {
                    (size, isSigned) = (1, true);
                } else if (funct3 == 1) {
                    (size, isSigned) = (2, true);
                } else if (funct3 == 2) {
                    (size, isSigned) = (4, true);
                } else if (funct3 == 3) {
                    (size, isSigned) = (8, false);
                } else if (funct3 == 4) {
                    (size, isSigned) = (1, false);
                } else if (funct3 == 5) {
                    (size, isSigned) = (2, false);
                } else if (funct3 == 6) {
                    (size, isSigned) = (4, false);
                } else {
                    return FAULTED;
                }
                uint64 v = load(st, addr, size);
                setReg(st, i.rd, isSigned ? signExtend(v, 8 * size) : v);
            } else if (opcode == 0x23) {
                if (i.funct3 > 3) {
                    return FAULTED;
                }
                uint64 imm = (bits(word, 25, 7) << 5) | bits(word, 7, 5);
                uint64 addr = reg(st, i.rs1) + signExtend(imm, 12);
                store(st, addr, uint64(1) << i.funct3, reg(st, i.rs2));
            } else if (opcode == 0x13) {
                if (opImm(st, word, i.rd, i.funct3, i.rs1) == FAULTED) return FAULTED;
            } else if (opcode == 0x33) {
                if (op(st, i.rd, i.funct3, i.funct7, reg(st, i.rs1), reg(st, i.rs2)) == FAULTED) return FAULTED;
            } else if (opcode == 0x1b) {
                if (opImm32(st, word, i.rd, i.funct3, i.funct7, i.rs1) == FAULTED) return FAULTED;
            } else if (opcode == 0x3b) {
                if (op32(st, i.rd, i.funct3, i.funct7, reg(st, i.rs1), reg(st, i.rs2)) == FAULTED) return FAULTED;
            } else if (opcode == 0x0f) {
                // FENCE: nothing to order on one hart.
            } else if (opcode == 0x73) {
                if (word == 0x73) {
                    if (ecall(st) == FAULTED) return FAULTED;
                } else {
                    return FAULTED;
                }
            } else if (opcode == 0x2f) {
                if (amo(st, word, i.rd, i.funct3, i.rs1, i.rs2) == FAULTED) return FAULTED;
            } else {
                return FAULTED;
            }
            st.s.pc = nextPc;
            return OK;
        }
    }

    /// Whether a branch (opcode 0x63) with `funct3` is taken for `a` and `b`; `valid`
    /// false for a `funct3` that is no branch (the `match` inside Rust's `execute`).
    function branchTaken(uint64 funct3, uint64 a, uint64 b) internal pure returns (bool valid, bool taken) {
        if (funct3 == 0) return (true, a == b);
        if (funct3 == 1) return (true, a != b);
        if (funct3 == 4) return (true, int64(a) < int64(b));
        if (funct3 == 5) return (true, int64(a) >= int64(b));
        if (funct3 == 6) return (true, a < b);
        if (funct3 == 7) return (true, a >= b);
        return (false, false);
    }

    /// OP-IMM (opcode 0x13).
    function opImm(Step memory st, uint64 word, uint64 rd, uint64 funct3, uint64 rs1) internal pure returns (bool) {
        unchecked {
            uint64 a = reg(st, rs1);
            uint64 imm = signExtend(bits(word, 20, 12), 12);
            uint64 shamt = bits(word, 20, 6);
            uint64 top = bits(word, 26, 6);
            uint64 v;
            if (funct3 == 0) {
                v = a + imm;
            } else if (funct3 == 2) {
                v = b2u(int64(a) < int64(imm));
            } else if (funct3 == 3) {
                v = b2u(a < imm);
            } else if (funct3 == 4) {
                v = a ^ imm;
            } else if (funct3 == 6) {
                v = a | imm;
            } else if (funct3 == 7) {
                v = a & imm;
            } else if (funct3 == 1 && top == 0) {
                v = a << shamt;
            } else if (funct3 == 5 && top == 0) {
                v = a >> shamt;
            } else if (funct3 == 5 && top == 0x10) {
                v = uint64(int64(a) >> shamt);
            } else {
                return FAULTED;
            }
            setReg(st, rd, v);
            return OK;
        }
    }

    /// OP (opcode 0x33): RV64I register-register and the M extension.
    function op(Step memory st, uint64 rd, uint64 funct3, uint64 funct7, uint64 a, uint64 b)
        internal
        pure
        returns (bool)
    {
        unchecked {
            uint64 shamt = b & 63;
            uint64 v;
            if (funct7 == 0 && funct3 == 0) {
                v = a + b;
            } else if (funct7 == 0x20 && funct3 == 0) {
                v = a - b;
            } else if (funct7 == 0 && funct3 == 1) {
                v = a << shamt;
            } else if (funct7 == 0 && funct3 == 2) {
                v = b2u(int64(a) < int64(b));
            } else if (funct7 == 0 && funct3 == 3) {
                v = b2u(a < b);
            } else if (funct7 == 0 && funct3 == 4) {
                v = a ^ b;
            } else if (funct7 == 0 && funct3 == 5) {
                v = a >> shamt;
            } else if (funct7 == 0x20 && funct3 == 5) {
                v = uint64(int64(a) >> shamt);
            } else if (funct7 == 0 && funct3 == 6) {
                v = a | b;
            } else if (funct7 == 0 && funct3 == 7) {
                v = a & b;
            } else if (funct7 == 1) {
                v = mulDiv(funct3, a, b);
            } else {
                return FAULTED;
            }
            setReg(st, rd, v);
            return OK;
        }
    }

    /// The M extension's 64-bit operations (the `(1, funct3)` arms of Rust's `op`).
    function mulDiv(uint64 funct3, uint64 a, uint64 b) internal pure returns (uint64) {
        unchecked {
            if (funct3 == 0) {
                return uint64(uint256(a) * uint256(b));
            }
            if (funct3 == 1) {
                return uint64(uint256((int256(int64(a)) * int256(int64(b))) >> 64));
            }
            if (funct3 == 2) {
                return uint64(uint256((int256(int64(a)) * int256(uint256(b))) >> 64));
            }
            if (funct3 == 3) {
                return uint64((uint256(a) * uint256(b)) >> 64);
            }
            if (funct3 == 4) {
                if (b == 0) {
                    return type(uint64).max;
                } else if (a == 1 << 63 && b == type(uint64).max) {
                    return a;
                } else {
                    return uint64(int64(a) / int64(b));
                }
            }
            if (funct3 == 5) {
                if (b == 0) {
                    return type(uint64).max;
                } else {
                    return a / b;
                }
            }
            if (funct3 == 6) {
                if (b == 0) {
                    return a;
                } else if (a == 1 << 63 && b == type(uint64).max) {
                    return 0;
                } else {
                    return uint64(int64(a) % int64(b));
                }
            }
            // funct3 == 7
            if (b == 0) {
                return a;
            } else {
                return a % b;
            }
        }
    }

    /// OP-IMM-32 (opcode 0x1b).
    function opImm32(Step memory st, uint64 word, uint64 rd, uint64 funct3, uint64 funct7, uint64 rs1)
        internal
        pure
        returns (bool)
    {
        unchecked {
            uint64 a = reg(st, rs1) & 0xffff_ffff;
            uint64 shamt = bits(word, 20, 5);
            uint64 v;
            if (funct3 == 0) {
                v = a + signExtend(bits(word, 20, 12), 12);
            } else if (funct3 == 1 && funct7 == 0) {
                v = a << shamt;
            } else if (funct3 == 5 && funct7 == 0) {
                v = a >> shamt;
            } else if (funct3 == 5 && funct7 == 0x20) {
                v = uint64(int64(signExtend(a, 32)) >> shamt);
            } else {
                return FAULTED;
            }
            setReg(st, rd, signExtend(v & 0xffff_ffff, 32));
            return OK;
        }
    }

    /// OP-32 (opcode 0x3b): RV64I word register-register and the M extension's word ops.
    function op32(Step memory st, uint64 rd, uint64 funct3, uint64 funct7, uint64 a, uint64 b)
        internal
        pure
        returns (bool)
    {
        unchecked {
            (a, b) = (a & 0xffff_ffff, b & 0xffff_ffff);
            uint64 shamt = b & 31;
            (int64 sa, int64 sb) = (int64(signExtend(a, 32)), int64(signExtend(b, 32)));
            uint64 v;
            if (funct7 == 0 && funct3 == 0) {
                v = a + b;
            } else if (funct7 == 0x20 && funct3 == 0) {
                v = a - b;
            } else if (funct7 == 0 && funct3 == 1) {
                v = a << shamt;
            } else if (funct7 == 0 && funct3 == 5) {
                v = a >> shamt;
            } else if (funct7 == 0x20 && funct3 == 5) {
                v = uint64(sa >> shamt);
            } else if (funct7 == 1 && funct3 == 0) {
                v = a * b;
            } else if (funct7 == 1 && funct3 == 4) {
                if (b == 0) {
                    v = type(uint64).max;
                } else if (a == 0x8000_0000 && b == 0xffff_ffff) {
                    v = a;
                } else {
                    v = uint64(sa / sb);
                }
            } else if (funct7 == 1 && funct3 == 5) {
                if (b == 0) {
                    v = type(uint64).max;
                } else {
                    v = a / b;
                }
            } else if (funct7 == 1 && funct3 == 6) {
                if (b == 0) {
                    v = a;
                } else if (a == 0x8000_0000 && b == 0xffff_ffff) {
                    v = 0;
                } else {
                    v = uint64(sa % sb);
                }
            } else if (funct7 == 1 && funct3 == 7) {
                if (b == 0) {
                    v = a;
                } else {
                    v = a % b;
                }
            } else {
                return FAULTED;
            }
            setReg(st, rd, signExtend(v & 0xffff_ffff, 32));
            return OK;
        }
    }

    /// AMO (opcode 0x2f): LR, SC and the read-modify-write operations, word and doubleword.
    function amo(Step memory st, uint64 word, uint64 rd, uint64 funct3, uint64 rs1, uint64 rs2)
        internal
        pure
        returns (bool)
    {
        unchecked {
            uint64 size;
            if (funct3 == 2) {
                size = 4;
            } else if (funct3 == 3) {
                size = 8;
            } else {
                return FAULTED;
            }
            uint64 addr = reg(st, rs1);
            uint64 funct5 = bits(word, 27, 5);
            bool isLr = funct5 == 0x02;
            if (isLr && rs2 != 0) {
                return FAULTED;
            }
            if (
                !(funct5 <= 0x04 || funct5 == 0x08 || funct5 == 0x0c || funct5 == 0x10 || funct5 == 0x14
                        || funct5 == 0x18 || funct5 == 0x1c)
            ) {
                return FAULTED;
            }
            if (addr % size != 0) {
                return FAULTED;
            }
            uint64 src = reg(st, rs2);
            if (isLr) {
                uint64 v = load(st, addr, size);
                st.s.reserved = true;
                st.s.reservation = addr;
                setReg(st, rd, signExtend(v, 8 * size));
                return OK;
            }
            if (funct5 == 0x03) {
                bool held = st.s.reserved && st.s.reservation == addr;
                st.s.reserved = false;
                st.s.reservation = 0;
                if (held) {
                    store(st, addr, size, src);
                }
                setReg(st, rd, b2u(!held));
                return OK;
            }
            amoRmw(st, funct5, rd, addr, size, src);
            return OK;
        }
    }

    /// The read-modify-write tail of Rust's `amo` (split off for the stack): loads the
    /// old value, stores the new one, sets rd to the old one.
    function amoRmw(Step memory st, uint64 funct5, uint64 rd, uint64 addr, uint64 size, uint64 src) internal pure {
        unchecked {
            uint64 old = signExtend(load(st, addr, size), 8 * size);
            uint64 arg = signExtend(src & (type(uint64).max >> (64 - 8 * size)), 8 * size);
            uint64 mask = type(uint64).max >> (64 - 8 * size);
            uint64 new_;
            if (funct5 == 0x01) {
                new_ = arg;
            } else if (funct5 == 0x00) {
                new_ = old + arg;
            } else if (funct5 == 0x04) {
                new_ = old ^ arg;
            } else if (funct5 == 0x0c) {
                new_ = old & arg;
            } else if (funct5 == 0x08) {
                new_ = old | arg;
            } else if (funct5 == 0x10) {
                new_ = int64(old) < int64(arg) ? old : arg;
            } else if (funct5 == 0x14) {
                new_ = int64(old) > int64(arg) ? old : arg;
            } else if (funct5 == 0x18) {
                new_ = (old & mask) < (arg & mask) ? old : arg;
            } else {
                new_ = (old & mask) > (arg & mask) ? old : arg;
            }
            store(st, addr, size, new_);
            setReg(st, rd, old);
        }
    }

    /// ECALL (the word 0x73): the system call in a7.
    function ecall(Step memory st) internal view returns (bool) {
        (uint64 a0, uint64 a1, uint64 a2) = (reg(st, 10), reg(st, 11), reg(st, 12));
        uint64 number = reg(st, 17);
        if (number == SYS_EXIT) {
            st.s.exited = true;
            st.s.exitCode = a0;
        } else if (number == SYS_WRITE) {
            setReg(st, 10, a2);
        } else if (number == SYS_PREIMAGE_KEY) {
            bytes32 key = loadBytes(st, a0, 32);
            st.s.preimageKey = key;
            st.s.preimageOffset = 0;
            setReg(st, 10, 0);
        } else if (number == SYS_PREIMAGE_READ) {
            if (!keyTypeSupported(st.s.preimageKey)) {
                return FAULTED;
            }
            // Asking for nothing reads nothing: no oracle part is needed.
            bytes32 part;
            uint256 len;
            if (a1 != 0) {
                (part, len) = readPart(st);
            }
            uint256 n = a1 < len ? a1 : len;
            if (32 - (a0 & 31) < n) n = 32 - (a0 & 31);
            if (n > 0) {
                storeInLeaf(st, a0, part, n);
            }
            // Checked, as Rust's `+=` (an oracle's part past 2^64 - 1 cannot exist).
            st.s.preimageOffset += uint64(n);
            setReg(st, 10, uint64(n));
        } else {
            return FAULTED;
        }
        return OK;
    }

    /// Whether the oracle serves keys of `key`'s type (Rust's `key_type_supported`).
    function keyTypeSupported(bytes32 key) internal pure returns (bool) {
        uint8 kind = uint8(key[0]);
        return kind == KEY_LOCAL || kind == KEY_KECCAK256 || kind == KEY_POSEIDON || kind == KEY_BLOB;
    }

    /// The oracle's part of the current preimage at the current offset (Rust's
    /// `oracle.part`): a local key is asked for as bound to the caller's claim.
    function readPart(Step memory st) internal view returns (bytes32 part, uint256 len) {
        bytes32 key = st.s.preimageKey;
        if (uint8(key[0]) == KEY_LOCAL) {
            key = localize(key, msg.sender, st.localContext);
        }
        return oracle.readPart(key, st.s.preimageOffset);
    }
}
