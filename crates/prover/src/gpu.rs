//! Multi-scalar multiplication on a GPU, the parts that need no GPU: the kernel
//! source (`cuda/msm.cu`) with its field constants, the host's share of the
//! algorithm (window plan, packing, the final sum of windows), a CPU emulation
//! of the kernels, and a Groth16 prover whose G1 MSMs are pluggable.
//!
//! ```text
//! scalars (canonical) + bases (Montgomery, as arkworks holds them)
//!   -> count -> prefix sum (host) -> scatter -> bucket sums -> segment sums
//!   -> window sums -> sum_w 2^(c w) window_w (host) -> a point arkworks checks
//! ```
//!
//! The `cuda` feature (`crate::cuda`) launches the kernels on an NVIDIA GPU; the
//! emulation ([`emulate_msm`]) compiles the same source as C++ and runs the
//! kernels' bodies thread by thread, so tests on machines without a GPU still
//! check the kernels' arithmetic and algorithm against arkworks.

use crate::ProverError;
use ark_ec::{
    AffineRepr, VariableBaseMSM,
    pairing::Pairing,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_ff::{AdditiveGroup, BigInteger, PrimeField, Zero};
use ark_groth16::{Proof, ProvingKey, r1cs_to_qap::R1CSToQAP};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// The kernels, without the field prelude ([`kernel_source`] adds it).
pub const KERNEL: &str = include_str!("cuda/msm.cu");

/// Scalars go to the device as 8 little-endian 32-bit limbs (both scalar fields
/// are under 2^256).
pub const SCALAR_LIMBS: usize = 8;

/// A G1 curve the kernels handle: `a = 0`, base field elements as 32-bit limbs
/// of their Montgomery form (`R = 2^(32 LIMBS)`, arkworks' own `R`).
pub trait GpuCurve: SWCurveConfig {
    /// 32-bit limbs of a base-field element.
    const LIMBS: usize;
    const NAME: &'static str;
    /// Appends `x`'s Montgomery limbs.
    fn push_mont(x: &Self::BaseField, out: &mut Vec<u32>);
    /// The element whose Montgomery limbs these are (not checked: the kernels
    /// only produce reduced values).
    fn from_mont(limbs: &[u32]) -> Self::BaseField;
    /// The base field's modulus, little-endian limbs.
    fn modulus() -> Vec<u32>;
}

macro_rules! gpu_curve {
    ($config:ty, $fq:ty, $u64s:expr, $name:expr) => {
        impl GpuCurve for $config {
            const LIMBS: usize = 2 * $u64s;
            const NAME: &'static str = $name;
            fn push_mont(x: &$fq, out: &mut Vec<u32>) {
                for l in (x.0).0 {
                    out.push(l as u32);
                    out.push((l >> 32) as u32);
                }
            }
            fn from_mont(limbs: &[u32]) -> $fq {
                let mut raw = [0u64; $u64s];
                for (r, pair) in raw.iter_mut().zip(limbs.chunks(2)) {
                    let lo = pair.first().copied().unwrap_or(0) as u64;
                    let hi = pair.get(1).copied().unwrap_or(0) as u64;
                    *r = lo | (hi << 32);
                }
                <$fq>::new_unchecked(ark_ff::BigInt(raw))
            }
            fn modulus() -> Vec<u32> {
                let m = <$fq as PrimeField>::MODULUS;
                m.0.iter().flat_map(|l| [*l as u32, (*l >> 32) as u32]).collect()
            }
        }
    };
}

gpu_curve!(ark_bn254::g1::Config, ark_bn254::Fq, 4, "bn254");
gpu_curve!(ark_bls12_381::g1::Config, ark_bls12_381::Fq, 6, "bls12-381");

/// The kernel source for `P`'s base field: `#define`s of its constants, then
/// [`KERNEL`].
pub fn kernel_source<P: GpuCurve>() -> String {
    let p = P::modulus();
    // -p^-1 mod 2^32 by Newton's iteration (p is odd).
    let p0 = p.first().copied().unwrap_or(1);
    let mut inv: u32 = 1;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(p0.wrapping_mul(inv)));
    }
    let mut one = Vec::with_capacity(P::LIMBS);
    P::push_mont(&<P::BaseField as ark_ff::Field>::ONE, &mut one);
    let list = |v: &[u32]| v.iter().map(|x| format!("0x{x:08x}u")).collect::<Vec<_>>().join(", ");
    format!(
        "// {} G1\n#define NL {}\n#define P_INV 0x{:08x}u\n#define P_MOD_INIT {{{}}}\n#define R_ONE_INIT {{{}}}\n{KERNEL}",
        P::NAME,
        P::LIMBS,
        inv.wrapping_neg(),
        list(&p),
        list(&one)
    )
}

/// How an MSM of `n` points is cut: `c`-bit windows, `windows` of them, and
/// segments of `2^seg_bits` buckets for the reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub c: u32,
    pub windows: u32,
    pub seg_bits: u32,
}

impl Plan {
    pub fn new(n: usize, scalar_bits: u32) -> Self {
        let log = usize::BITS - n.max(1).leading_zeros();
        let c = log.saturating_sub(4).clamp(4, 16);
        Self::with_window(c, scalar_bits)
    }

    /// A plan with `c`-bit windows (`1..=16`).
    pub fn with_window(c: u32, scalar_bits: u32) -> Self {
        let c = c.clamp(1, 16);
        Self { c, windows: scalar_bits.div_ceil(c), seg_bits: c.div_ceil(2) }
    }

    /// Buckets in all windows (bucket 0 of each is unused).
    pub fn buckets(&self) -> usize {
        (self.windows as usize) << self.c
    }

    /// Segments in all windows.
    pub fn segments(&self) -> usize {
        (self.windows as usize) << (self.c - self.seg_bits)
    }
}

/// `n` distinct points (consecutive multiples of a random point: one addition
/// each, not a scalar multiplication) and `n` random scalars, from `seed`:
/// inputs for tests and benches.
pub fn sample_inputs<P: GpuCurve>(
    n: usize,
    seed: u64,
) -> (Vec<Affine<P>>, Vec<<P::ScalarField as PrimeField>::BigInt>) {
    use ark_ec::CurveGroup;
    use ark_std::{UniformRand, rand::SeedableRng};
    let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(seed);
    let g = Projective::<P>::rand(&mut rng);
    let mut acc = g;
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        points.push(acc);
        acc += g;
    }
    let scalars = (0..n).map(|_| P::ScalarField::rand(&mut rng).into_bigint()).collect();
    (Projective::normalize_batch(&points), scalars)
}

/// The points' Montgomery coordinates, `x` then `y`, `2 LIMBS` words each; the
/// identity (which has no affine coordinates) as zeros, flagged in the second
/// vector so its scalar can be zeroed ([`pack_scalars`]).
pub fn pack_points<P: GpuCurve>(bases: &[Affine<P>]) -> (Vec<u32>, Vec<bool>) {
    let mut out = Vec::with_capacity(bases.len() * 2 * P::LIMBS);
    let mut identity = Vec::with_capacity(bases.len());
    for b in bases {
        match b.xy() {
            Some((x, y)) => {
                P::push_mont(&x, &mut out);
                P::push_mont(&y, &mut out);
                identity.push(false);
            }
            None => {
                out.extend(std::iter::repeat_n(0, 2 * P::LIMBS));
                identity.push(true);
            }
        }
    }
    (out, identity)
}

/// Scalars as [`SCALAR_LIMBS`] words each, zero where the base is the identity.
pub fn pack_scalars<B: BigInteger>(scalars: &[B], identity: &[bool]) -> Vec<u32> {
    use rayon::prelude::*;
    let n = scalars.len().min(identity.len());
    let mut out = vec![0u32; n * SCALAR_LIMBS];
    out.par_chunks_mut(SCALAR_LIMBS).zip(scalars.par_iter().zip(identity.par_iter())).for_each(
        |(dst, (s, skip))| {
            if !*skip {
                let words = s.as_ref().iter().flat_map(|l| [*l as u32, (*l >> 32) as u32]);
                for (d, w) in dst.iter_mut().zip(words) {
                    *d = w;
                }
            }
        },
    );
    out
}

/// The exclusive prefix sum of the bucket counts: `buckets + 1` starts.
pub fn bucket_starts(counts: &[u32]) -> Vec<u32> {
    let mut starts = Vec::with_capacity(counts.len() + 1);
    let mut acc = 0u32;
    starts.push(0);
    for c in counts {
        acc = acc.wrapping_add(*c);
        starts.push(acc);
    }
    starts
}

/// The point the kernels wrote at `words` (Jacobian, Montgomery limbs).
pub fn jacobian<P: GpuCurve>(words: &[u32]) -> Projective<P> {
    let l = P::LIMBS;
    let coord = |i: usize| P::from_mont(words.get(i * l..(i + 1) * l).unwrap_or(&[]));
    Projective::new_unchecked(coord(0), coord(1), coord(2))
}

/// `sum_w 2^(c w) window_w` from the window sums the last kernel wrote.
pub fn combine<P: GpuCurve>(windows: &[u32], plan: &Plan) -> Projective<P> {
    let step = 3 * P::LIMBS;
    let mut acc = Projective::<P>::zero();
    for w in (0..plan.windows as usize).rev() {
        for _ in 0..plan.c {
            acc.double_in_place();
        }
        acc += jacobian::<P>(windows.get(w * step..(w + 1) * step).unwrap_or(&[]));
    }
    acc
}

/// The MSM by the kernels compiled as C++ and run on the CPU, thread by thread
/// (slow: for tests of the kernels on machines without a GPU). Needs a C++
/// compiler (`$CXX`, else `c++`).
pub fn emulate_msm<P: GpuCurve>(
    bases: &[Affine<P>],
    scalars: &[<P::ScalarField as PrimeField>::BigInt],
    plan: Plan,
) -> Result<Projective<P>, ProverError> {
    let n = bases.len().min(scalars.len());
    let exe = emulator::<P>()?;
    let (points, identity) = pack_points(&bases[..n]);
    let packed = pack_scalars(&scalars[..n], &identity);
    let mut input = Vec::with_capacity(4 * (4 + points.len() + packed.len()));
    for w in [n as u32, plan.c, plan.windows, plan.seg_bits].iter().chain(&points).chain(&packed) {
        input.extend_from_slice(&w.to_le_bytes());
    }
    let fail = |e: String| ProverError::Unsupported(format!("the MSM emulation: {e}"));
    let mut child = Command::new(&exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("{}: {e}", exe.display())))?;
    let mut stdin = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    writer.join().map_err(|_| fail("writer".into()))?.map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(format!("exited with {}", out.status)));
    }
    let words: Vec<u32> =
        out.stdout.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if words.len() != plan.windows as usize * 3 * P::LIMBS {
        return Err(fail(format!("{} words of output", words.len())));
    }
    Ok(combine(&words, &plan))
}

/// Compiles the emulation of `P`'s kernels once per source text.
fn emulator<P: GpuCurve>() -> Result<PathBuf, ProverError> {
    let source = kernel_source::<P>();
    let tag = alloy::primitives::keccak256(source.as_bytes());
    let dir = std::env::temp_dir().join(format!("infra-msm-emulation-{}", &tag.to_string()[2..18]));
    let exe = dir.join(format!("msm-{}", P::NAME));
    // Threads of one process (tests) share the temporary file names below.
    static COMPILING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
    if exe.exists() {
        return Ok(exe);
    }
    let fail = |e: String| ProverError::Unsupported(format!("compiling the MSM emulation: {e}"));
    std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
    let src = dir.join(format!("msm-{}-{}.cpp", P::NAME, std::process::id()));
    std::fs::write(&src, source).map_err(|e| fail(e.to_string()))?;
    let tmp = dir.join(format!("msm-{}-{}.tmp", P::NAME, std::process::id()));
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let out = Command::new(&cxx)
        .args(["-O2", "-std=c++11", "-Wall", "-Werror", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .map_err(|e| fail(format!("{cxx}: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    std::fs::rename(&tmp, &exe).map_err(|e| fail(e.to_string()))?;
    Ok(exe)
}

/// Where the dynamic loader looks for a library, as far as can be seen without
/// loading it: `LD_LIBRARY_PATH`, the loader cache and the usual directories.
pub fn library_present(names: &[&str]) -> bool {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(d.into());
    }
    if names.iter().any(|n| dirs.iter().any(|d| d.join(n).exists())) {
        return true;
    }
    std::process::Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| {
            let list = String::from_utf8_lossy(&o.stdout);
            names.iter().any(|n| list.contains(n))
        })
        .unwrap_or(false)
}

/// The proving-key query a G1 MSM of the prover runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Query {
    /// `a_query[1..]` against the full assignment (less the constant one).
    A,
    /// `b_g1_query[1..]` against the full assignment.
    BG1,
    /// `h_query` against the QAP's `h`.
    H,
    /// `l_query` against the witness assignment.
    L,
}

impl Query {
    pub const ALL: [Query; 4] = [Query::A, Query::BG1, Query::H, Query::L];

    /// The bases of this query in `pk`.
    pub fn bases<E: Pairing>(self, pk: &ProvingKey<E>) -> &[E::G1Affine] {
        match self {
            Query::A => pk.a_query.get(1..).unwrap_or(&[]),
            Query::BG1 => pk.b_g1_query.get(1..).unwrap_or(&[]),
            Query::H => &pk.h_query,
            Query::L => &pk.l_query,
        }
    }
}

/// Scalars as the MSMs take them.
pub type Scalars<E> = [<<E as Pairing>::ScalarField as PrimeField>::BigInt];

/// A G1 MSM over one of the proving key's queries.
pub type MsmFn<'a, E> = dyn Fn(Query, &Scalars<E>) -> Result<<E as Pairing>::G1, ProverError> + 'a;

/// arkworks' MSM on the CPU, the reference.
pub fn cpu_msm<E: Pairing>(
    pk: &ProvingKey<E>,
    q: Query,
    scalars: &Scalars<E>,
) -> Result<E::G1, ProverError> {
    Ok(E::G1::msm_bigint(q.bases(pk), scalars))
}

/// Groth16's prover (arkworks' `create_proof_with_reduction`, step for step: the
/// same synthesis, witness map and formulae) with the four G1 MSMs done by
/// `msm`; the G2 MSM stays on the CPU. With the same `r` and `s` it gives
/// arkworks' proof exactly when `msm` is right.
pub fn prove_with_msm<E: Pairing, C: ConstraintSynthesizer<E::ScalarField>>(
    pk: &ProvingKey<E>,
    circuit: C,
    r: E::ScalarField,
    s: E::ScalarField,
    msm: &MsmFn<'_, E>,
) -> Result<Proof<E>, ProverError> {
    let err = |e: ark_relations::gr1cs::SynthesisError| ProverError::Synthesis(e.to_string());
    let cs = ConstraintSystem::<E::ScalarField>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices: true, generate_lc_assignments: false });
    circuit.generate_constraints(cs.clone()).map_err(err)?;
    cs.finalize();
    let h = ark_groth16::r1cs_to_qap::LibsnarkReduction::witness_map::<
        E::ScalarField,
        ark_poly::GeneralEvaluationDomain<E::ScalarField>,
    >(cs.clone())
    .map_err(err)?;
    let prover = cs.borrow().ok_or_else(|| ProverError::Synthesis("constraint system".into()))?;
    let instance = prover.instance_assignment().map_err(err)?;
    let input: Vec<_> = instance.get(1..).unwrap_or(&[]).iter().map(|x| x.into_bigint()).collect();
    let aux: Vec<_> =
        prover.witness_assignment().map_err(err)?.iter().map(|x| x.into_bigint()).collect();
    drop(prover);
    let h: Vec<_> = h.iter().map(|x| x.into_bigint()).collect();

    let h_acc = msm(Query::H, &h)?;
    let l_aux_acc = msm(Query::L, &aux)?;
    let r_s_delta_g1 = pk.delta_g1 * (r * s);
    let assignment = [&input[..], &aux[..]].concat();

    let mut g_a = pk.delta_g1 * r;
    g_a += pk.a_query[0];
    g_a += msm(Query::A, &assignment)?;
    g_a += pk.vk.alpha_g1;
    let s_g_a = g_a * s;

    let g1_b = if r.is_zero() {
        E::G1::zero()
    } else {
        let mut b = pk.delta_g1 * s;
        b += pk.b_g1_query[0];
        b += msm(Query::BG1, &assignment)?;
        b += pk.beta_g1;
        b
    };
    let mut g2_b = pk.vk.delta_g2 * s;
    g2_b += pk.b_g2_query[0];
    g2_b += E::G2::msm_bigint(pk.b_g2_query.get(1..).unwrap_or(&[]), &assignment);
    g2_b += pk.vk.beta_g2;
    let r_g1_b = g1_b * r;

    let mut g_c = s_g_a;
    g_c += r_g1_b;
    g_c -= r_s_delta_g1;
    g_c += l_aux_acc;
    g_c += h_acc;
    use ark_ec::CurveGroup;
    Ok(Proof { a: g_a.into_affine(), b: g2_b.into_affine(), c: g_c.into_affine() })
}

/// Fresh proof randomness, as arkworks' `prove` draws it.
pub fn proof_randomness<F: PrimeField>(rng: &mut impl ark_std::rand::Rng) -> (F, F) {
    (F::rand(rng), F::rand(rng))
}
