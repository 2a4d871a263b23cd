//! The `cuda` backend: the G1 multi-scalar multiplications of Groth16 on an
//! NVIDIA GPU (BN254 and BLS12-381), through the CUDA driver API loaded at run
//! time (cudarc, `dynamic-loading`), with the kernels of [`crate::gpu`]
//! compiled by NVRTC when the device opens. It builds without a GPU or a CUDA
//! toolkit; opening the device without one fails with a clear error.
//!
//! The proving key's G1 queries are uploaded once, when the prover is made, and
//! stay on the device; each proof uploads its scalars only.

// cudarc's kernel launches are `unsafe`: the argument lists below are checked by
// hand against the kernel signatures in `cuda/msm.cu`.
#![allow(unsafe_code)]

use crate::{
    ProverError,
    gpu::{self, GpuCurve, Plan, Query},
};
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ff::PrimeField;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use std::{collections::HashMap, sync::Arc};

fn gpu_err(what: &str, e: impl std::fmt::Debug) -> ProverError {
    ProverError::Unsupported(format!("proof.backend = \"cuda\": {what}: {e:?}"))
}

struct Kernels {
    _module: Arc<CudaModule>,
    count: CudaFunction,
    scatter: CudaFunction,
    buckets: CudaFunction,
    segments: CudaFunction,
    windows: CudaFunction,
}

/// An open GPU with the MSM kernels loaded for both curves.
pub struct CudaDevice {
    stream: Arc<CudaStream>,
    name: String,
    kernels: HashMap<&'static str, Kernels>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaDevice").field("name", &self.name).finish()
    }
}

/// Bases uploaded once: Montgomery coordinates on the device, and which of
/// them are the identity (their scalars are zeroed on the host).
pub struct DeviceBases<P: GpuCurve> {
    points: CudaSlice<u32>,
    identity: Vec<bool>,
    _curve: std::marker::PhantomData<P>,
}

impl<P: GpuCurve> DeviceBases<P> {
    pub fn len(&self) -> usize {
        self.identity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
    }
}

fn grid(threads: usize, block: u32) -> LaunchConfig {
    let n = u32::try_from(threads).unwrap_or(u32::MAX);
    LaunchConfig {
        grid_dim: (n.div_ceil(block).max(1), 1, 1),
        block_dim: (block, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl CudaDevice {
    /// Opens GPU 0 and compiles the kernels (NVRTC). Fails, saying why, on a
    /// machine without an NVIDIA driver, GPU or NVRTC library.
    pub fn open() -> Result<Arc<Self>, ProverError> {
        if !crate::cuda_driver_present() {
            return Err(ProverError::Unsupported(
                "proof.backend = \"cuda\": no NVIDIA driver on this machine (libcuda.so.1 not found): use proof.backend = \"cpu\", or run on a machine with an NVIDIA GPU and its driver".into(),
            ));
        }
        if !gpu::library_present(&[
            "libnvrtc.so",
            "libnvrtc.so.12",
            "libnvrtc.so.13",
            "libnvrtc.so.11.2",
        ]) {
            return Err(ProverError::Unsupported(
                "proof.backend = \"cuda\": the NVRTC library (libnvrtc.so, from the CUDA toolkit) is not found: the MSM kernels are compiled for the GPU at start; install it or set LD_LIBRARY_PATH".into(),
            ));
        }
        let ctx = std::panic::catch_unwind(|| CudaContext::new(0))
            .map_err(|_| gpu_err("loading the CUDA driver", "it panicked"))?
            .map_err(|e| gpu_err("opening GPU 0", e))?;
        let name = ctx.name().unwrap_or_else(|_| "an NVIDIA GPU".into());
        let stream = ctx.default_stream();
        let mut kernels = HashMap::new();
        kernels.insert(
            ark_bn254::g1::Config::NAME,
            Self::load(&ctx, &gpu::kernel_source::<ark_bn254::g1::Config>())?,
        );
        kernels.insert(
            ark_bls12_381::g1::Config::NAME,
            Self::load(&ctx, &gpu::kernel_source::<ark_bls12_381::g1::Config>())?,
        );
        tracing::info!(target: "prover", gpu = %name, "CUDA MSM kernels compiled");
        Ok(Arc::new(Self { stream, name, kernels }))
    }

    fn load(ctx: &Arc<CudaContext>, source: &str) -> Result<Kernels, ProverError> {
        let ptx = std::panic::catch_unwind(|| cudarc::nvrtc::compile_ptx(source))
            .map_err(|_| gpu_err("loading NVRTC", "it panicked"))?
            .map_err(|e| gpu_err("compiling the MSM kernels", e))?;
        let module = ctx.load_module(ptx).map_err(|e| gpu_err("loading the kernels", e))?;
        let f = |name: &str| module.load_function(name).map_err(|e| gpu_err(name, e));
        Ok(Kernels {
            count: f("msm_count")?,
            scatter: f("msm_scatter")?,
            buckets: f("msm_buckets")?,
            segments: f("msm_segments")?,
            windows: f("msm_windows")?,
            _module: module,
        })
    }

    /// The GPU's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Uploads bases for later MSMs.
    pub fn upload<P: GpuCurve>(&self, bases: &[Affine<P>]) -> Result<DeviceBases<P>, ProverError> {
        let (points, identity) = gpu::pack_points(bases);
        let points = self.stream.clone_htod(&points).map_err(|e| gpu_err("upload", e))?;
        Ok(DeviceBases { points, identity, _curve: std::marker::PhantomData })
    }

    /// `sum_i scalars_i bases_i` over the first `min(len)` pairs.
    pub fn msm<P: GpuCurve>(
        &self,
        bases: &DeviceBases<P>,
        scalars: &[<P::ScalarField as PrimeField>::BigInt],
    ) -> Result<Projective<P>, ProverError> {
        let n = bases.len().min(scalars.len());
        let plan = Plan::new(n, P::ScalarField::MODULUS_BIT_SIZE);
        self.msm_with(bases, scalars, plan)
    }

    /// [`Self::msm`] with an explicit plan.
    pub fn msm_with<P: GpuCurve>(
        &self,
        bases: &DeviceBases<P>,
        scalars: &[<P::ScalarField as PrimeField>::BigInt],
        plan: Plan,
    ) -> Result<Projective<P>, ProverError> {
        let n = bases.len().min(scalars.len());
        if n == 0 {
            return Ok(Projective::default());
        }
        let k = self.kernels.get(P::NAME).ok_or_else(|| gpu_err("no kernels for", P::NAME))?;
        let s = &self.stream;
        let e = |what: &'static str| move |err| gpu_err(what, err);
        let packed = gpu::pack_scalars(&scalars[..n], &bases.identity[..n]);
        let scal = s.clone_htod(&packed).map_err(e("scalars"))?;
        let (n32, c, windows, seg_bits) = (n as u32, plan.c, plan.windows, plan.seg_bits);
        let total = plan.buckets();
        let mut counts = s.alloc_zeros::<u32>(total).map_err(e("alloc"))?;
        // msm_count(scalars, n, c, windows, counts)
        unsafe {
            s.launch_builder(&k.count)
                .arg(&scal)
                .arg(&n32)
                .arg(&c)
                .arg(&windows)
                .arg(&mut counts)
                .launch(grid(n, 256))
        }
        .map_err(e("msm_count"))?;
        let starts = gpu::bucket_starts(&s.clone_dtoh(&counts).map_err(e("counts"))?);
        let entries = starts.last().copied().unwrap_or(0) as usize;
        let starts_dev = s.clone_htod(&starts).map_err(e("starts"))?;
        let mut cursor = s.clone_htod(&starts[..total]).map_err(e("cursor"))?;
        let mut index = s.alloc_zeros::<u32>(entries.max(1)).map_err(e("alloc"))?;
        // msm_scatter(scalars, n, c, windows, cursor, index)
        unsafe {
            s.launch_builder(&k.scatter)
                .arg(&scal)
                .arg(&n32)
                .arg(&c)
                .arg(&windows)
                .arg(&mut cursor)
                .arg(&mut index)
                .launch(grid(n, 256))
        }
        .map_err(e("msm_scatter"))?;
        let words = 3 * P::LIMBS;
        let mut buckets = s.alloc_zeros::<u32>(total * words).map_err(e("alloc"))?;
        let total32 = total as u32;
        // msm_buckets(points, index, starts, total, buckets)
        unsafe {
            s.launch_builder(&k.buckets)
                .arg(&bases.points)
                .arg(&index)
                .arg(&starts_dev)
                .arg(&total32)
                .arg(&mut buckets)
                .launch(grid(total, 128))
        }
        .map_err(e("msm_buckets"))?;
        let segments = plan.segments();
        let mut sums = s.alloc_zeros::<u32>(segments * words).map_err(e("alloc"))?;
        let mut totals = s.alloc_zeros::<u32>(segments * words).map_err(e("alloc"))?;
        // msm_segments(buckets, c, windows, seg_bits, sums, totals)
        unsafe {
            s.launch_builder(&k.segments)
                .arg(&buckets)
                .arg(&c)
                .arg(&windows)
                .arg(&seg_bits)
                .arg(&mut sums)
                .arg(&mut totals)
                .launch(grid(segments, 64))
        }
        .map_err(e("msm_segments"))?;
        let mut out = s.alloc_zeros::<u32>(windows as usize * words).map_err(e("alloc"))?;
        // msm_windows(sums, totals, c, windows, seg_bits, out)
        unsafe {
            s.launch_builder(&k.windows)
                .arg(&sums)
                .arg(&totals)
                .arg(&c)
                .arg(&windows)
                .arg(&seg_bits)
                .arg(&mut out)
                .launch(grid(windows as usize, 32))
        }
        .map_err(e("msm_windows"))?;
        let host = s.clone_dtoh(&out).map_err(e("result"))?;
        Ok(gpu::combine(&host, &plan))
    }
}

/// A Groth16 proving key's G1 queries on the device.
pub struct GpuKey<P: GpuCurve> {
    pub device: Arc<CudaDevice>,
    queries: HashMap<Query, DeviceBases<P>>,
}

impl<P: GpuCurve> GpuKey<P> {
    /// Uploads the four G1 queries ([`Query::bases`]).
    pub fn upload(
        device: Arc<CudaDevice>,
        bases: impl Fn(Query) -> Vec<Affine<P>>,
    ) -> Result<Self, ProverError> {
        let mut queries = HashMap::new();
        for q in Query::ALL {
            queries.insert(q, device.upload(&bases(q))?);
        }
        Ok(Self { device, queries })
    }

    pub fn msm(
        &self,
        q: Query,
        scalars: &[<P::ScalarField as PrimeField>::BigInt],
    ) -> Result<Projective<P>, ProverError> {
        let bases = self.queries.get(&q).ok_or_else(|| gpu_err("no bases for", q))?;
        self.device.msm(bases, scalars)
    }
}
