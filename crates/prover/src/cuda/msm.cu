// Multi-scalar multiplication on short Weierstrass curves with a = 0 (BN254 G1,
// BLS12-381 G1): Pippenger's bucket method, one GPU thread per point, bucket
// or segment.
//
// The host (crates/prover/src/cuda.rs) prepends a prelude of #defines that
// fixes the base field: NL (32-bit limbs), P_MOD_INIT (the modulus), R_ONE_INIT
// (1 in Montgomery form, R = 2^(32 NL)), P_INV (-p^-1 mod 2^32). Field elements are in Montgomery form
// exactly as arkworks stores them; scalars are canonical, 8 limbs.
//
// The same text compiles as plain C++ (no __CUDACC__): the kernels' bodies are
// ordinary functions of the thread index, and the CPU emulation at the end of
// this file runs them in loops. The tests compare that emulation with
// arkworks on machines without a GPU, so the arithmetic and the algorithm are
// checked everywhere; only the launches need a GPU.
//
// Steps, for c-bit windows (W windows, B = 2^c buckets each, bucket 0 unused):
//   msm_count    histogram of (window, digit) over the points
//   (host)       exclusive prefix sum -> bucket starts
//   msm_scatter  point indices sorted by (window, digit)
//   msm_buckets  one thread per bucket: the sum of its points (mixed additions)
//   msm_segments one thread per segment of 2^s buckets: running sums give
//                sum_d (d - lo) B_d and sum_d B_d over the segment
//   msm_windows  one thread per window: sum_d d B_d from the segments
//   (host)       sum_w 2^(c w) window_w

typedef unsigned int u32;
typedef unsigned long long u64;

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#define INFRA_EMULATED 1
#define __device__
#define __global__
#define __constant__
#define __forceinline__ inline
static inline u32 atomicAdd(u32 *a, u32 v) {
  u32 old = *a;
  *a = old + v;
  return old;
}
#endif

#define SCALAR_LIMBS 8

__constant__ u32 P_MOD[NL] = P_MOD_INIT;
__constant__ u32 R_ONE[NL] = R_ONE_INIT;

struct Fe {
  u32 v[NL];
};
struct Aff {
  Fe x, y;
};
struct Jac {
  Fe x, y, z;
};

__device__ __forceinline__ bool fe_is_zero(const Fe &a) {
  u32 r = 0;
  for (int i = 0; i < NL; i++) r |= a.v[i];
  return r == 0;
}

__device__ __forceinline__ Fe fe_one() {
  Fe r;
  for (int i = 0; i < NL; i++) r.v[i] = R_ONE[i];
  return r;
}

__device__ __forceinline__ Fe fe_zero() {
  Fe r;
  for (int i = 0; i < NL; i++) r.v[i] = 0;
  return r;
}

// a < 2^(32 NL) + hi * 2^(32 NL), a < 2p: subtracts p once when a >= p.
__device__ __forceinline__ void fe_reduce_once(Fe &a, u32 hi) {
  Fe t;
  u64 borrow = 0;
  for (int i = 0; i < NL; i++) {
    u64 d = (u64)a.v[i] - (u64)P_MOD[i] - borrow;
    t.v[i] = (u32)d;
    borrow = (d >> 32) & 1;
  }
  if (hi != 0 || borrow == 0) a = t;
}

__device__ __forceinline__ Fe fe_add(const Fe &a, const Fe &b) {
  Fe r;
  u64 c = 0;
  for (int i = 0; i < NL; i++) {
    u64 s = (u64)a.v[i] + (u64)b.v[i] + c;
    r.v[i] = (u32)s;
    c = s >> 32;
  }
  fe_reduce_once(r, (u32)c);
  return r;
}

__device__ __forceinline__ Fe fe_sub(const Fe &a, const Fe &b) {
  Fe r;
  u64 borrow = 0;
  for (int i = 0; i < NL; i++) {
    u64 d = (u64)a.v[i] - (u64)b.v[i] - borrow;
    r.v[i] = (u32)d;
    borrow = (d >> 32) & 1;
  }
  if (borrow != 0) {
    u64 c = 0;
    for (int i = 0; i < NL; i++) {
      u64 s = (u64)r.v[i] + (u64)P_MOD[i] + c;
      r.v[i] = (u32)s;
      c = s >> 32;
    }
  }
  return r;
}

// Montgomery multiplication (CIOS): a b R^-1 mod p.
__device__ __forceinline__ Fe fe_mul(const Fe &a, const Fe &b) {
  u32 t[NL + 2];
  for (int i = 0; i < NL + 2; i++) t[i] = 0;
  for (int i = 0; i < NL; i++) {
    u64 c = 0;
    for (int j = 0; j < NL; j++) {
      u64 x = (u64)t[j] + (u64)a.v[j] * (u64)b.v[i] + c;
      t[j] = (u32)x;
      c = x >> 32;
    }
    u64 x = (u64)t[NL] + c;
    t[NL] = (u32)x;
    t[NL + 1] = (u32)(x >> 32);
    u32 m = t[0] * (u32)P_INV;
    x = (u64)t[0] + (u64)m * (u64)P_MOD[0];
    c = x >> 32;
    for (int j = 1; j < NL; j++) {
      x = (u64)t[j] + (u64)m * (u64)P_MOD[j] + c;
      t[j - 1] = (u32)x;
      c = x >> 32;
    }
    x = (u64)t[NL] + c;
    t[NL - 1] = (u32)x;
    t[NL] = t[NL + 1] + (u32)(x >> 32);
  }
  Fe r;
  for (int i = 0; i < NL; i++) r.v[i] = t[i];
  fe_reduce_once(r, t[NL]);
  return r;
}

__device__ __forceinline__ Fe fe_sqr(const Fe &a) { return fe_mul(a, a); }
__device__ __forceinline__ Fe fe_dbl(const Fe &a) { return fe_add(a, a); }

__device__ __forceinline__ Jac jac_zero() {
  Jac r;
  r.x = fe_one();
  r.y = fe_one();
  r.z = fe_zero();
  return r;
}

__device__ __forceinline__ bool jac_is_zero(const Jac &p) { return fe_is_zero(p.z); }

// dbl-2009-l (a = 0).
__device__ Jac jac_dbl(const Jac &p) {
  if (jac_is_zero(p)) return p;
  Fe a = fe_sqr(p.x);
  Fe b = fe_sqr(p.y);
  Fe c = fe_sqr(b);
  Fe d = fe_dbl(fe_sub(fe_sub(fe_sqr(fe_add(p.x, b)), a), c));
  Fe e = fe_add(fe_dbl(a), a);
  Fe f = fe_sqr(e);
  Jac r;
  r.z = fe_dbl(fe_mul(p.y, p.z));
  r.x = fe_sub(f, fe_dbl(d));
  Fe c8 = fe_dbl(fe_dbl(fe_dbl(c)));
  r.y = fe_sub(fe_mul(e, fe_sub(d, r.x)), c8);
  return r;
}

// madd-2007-bl: p + q with q affine (never the identity: the host skips those).
__device__ Jac jac_add_aff(const Jac &p, const Aff &q) {
  if (jac_is_zero(p)) {
    Jac r;
    r.x = q.x;
    r.y = q.y;
    r.z = fe_one();
    return r;
  }
  Fe z1z1 = fe_sqr(p.z);
  Fe u2 = fe_mul(q.x, z1z1);
  Fe s2 = fe_mul(fe_mul(q.y, p.z), z1z1);
  Fe h = fe_sub(u2, p.x);
  Fe rr = fe_dbl(fe_sub(s2, p.y));
  if (fe_is_zero(h)) {
    if (fe_is_zero(rr)) return jac_dbl(p);
    return jac_zero();
  }
  Fe hh = fe_sqr(h);
  Fe i = fe_dbl(fe_dbl(hh));
  Fe j = fe_mul(h, i);
  Fe v = fe_mul(p.x, i);
  Jac r;
  r.x = fe_sub(fe_sub(fe_sqr(rr), j), fe_dbl(v));
  r.y = fe_sub(fe_mul(rr, fe_sub(v, r.x)), fe_dbl(fe_mul(p.y, j)));
  r.z = fe_sub(fe_sub(fe_sqr(fe_add(p.z, h)), z1z1), hh);
  return r;
}

// add-2007-bl.
__device__ Jac jac_add(const Jac &p, const Jac &q) {
  if (jac_is_zero(p)) return q;
  if (jac_is_zero(q)) return p;
  Fe z1z1 = fe_sqr(p.z);
  Fe z2z2 = fe_sqr(q.z);
  Fe u1 = fe_mul(p.x, z2z2);
  Fe u2 = fe_mul(q.x, z1z1);
  Fe s1 = fe_mul(fe_mul(p.y, q.z), z2z2);
  Fe s2 = fe_mul(fe_mul(q.y, p.z), z1z1);
  Fe h = fe_sub(u2, u1);
  Fe rr = fe_dbl(fe_sub(s2, s1));
  if (fe_is_zero(h)) {
    if (fe_is_zero(rr)) return jac_dbl(p);
    return jac_zero();
  }
  Fe i = fe_sqr(fe_dbl(h));
  Fe j = fe_mul(h, i);
  Fe v = fe_mul(u1, i);
  Jac r;
  r.x = fe_sub(fe_sub(fe_sqr(rr), j), fe_dbl(v));
  r.y = fe_sub(fe_mul(rr, fe_sub(v, r.x)), fe_dbl(fe_mul(s1, j)));
  r.z = fe_mul(fe_sub(fe_sub(fe_sqr(fe_add(p.z, q.z)), z1z1), z2z2), h);
  return r;
}

__device__ __forceinline__ Aff load_aff(const u32 *points, u32 i) {
  Aff a;
  const u32 *s = points + (u64)i * (2 * NL);
  for (int k = 0; k < NL; k++) {
    a.x.v[k] = s[k];
    a.y.v[k] = s[NL + k];
  }
  return a;
}

__device__ __forceinline__ Jac load_jac(const u32 *buf, u32 i) {
  Jac p;
  const u32 *s = buf + (u64)i * (3 * NL);
  for (int k = 0; k < NL; k++) {
    p.x.v[k] = s[k];
    p.y.v[k] = s[NL + k];
    p.z.v[k] = s[2 * NL + k];
  }
  return p;
}

__device__ __forceinline__ void store_jac(u32 *buf, u32 i, const Jac &p) {
  u32 *d = buf + (u64)i * (3 * NL);
  for (int k = 0; k < NL; k++) {
    d[k] = p.x.v[k];
    d[NL + k] = p.y.v[k];
    d[2 * NL + k] = p.z.v[k];
  }
}

// Bits [w c, w c + c) of a scalar (c <= 16, so at most two limbs).
__device__ __forceinline__ u32 digit(const u32 *s, u32 w, u32 c) {
  u32 bit = w * c;
  u32 limb = bit >> 5, off = bit & 31;
  u64 v = s[limb];
  if (limb + 1 < SCALAR_LIMBS) v |= (u64)s[limb + 1] << 32;
  return (u32)(v >> off) & ((1u << c) - 1u);
}

__device__ void k_count(u32 i, const u32 *scalars, u32 n, u32 c, u32 windows, u32 *counts) {
  if (i >= n) return;
  const u32 *s = scalars + (u64)i * SCALAR_LIMBS;
  u32 b = 1u << c;
  for (u32 w = 0; w < windows; w++) {
    u32 d = digit(s, w, c);
    if (d != 0) atomicAdd(&counts[w * b + d], 1u);
  }
}

__device__ void k_scatter(u32 i, const u32 *scalars, u32 n, u32 c, u32 windows, u32 *cursor,
                          u32 *index) {
  if (i >= n) return;
  const u32 *s = scalars + (u64)i * SCALAR_LIMBS;
  u32 b = 1u << c;
  for (u32 w = 0; w < windows; w++) {
    u32 d = digit(s, w, c);
    if (d != 0) {
      u32 pos = atomicAdd(&cursor[w * b + d], 1u);
      index[pos] = i;
    }
  }
}

__device__ void k_buckets(u32 t, const u32 *points, const u32 *index, const u32 *starts,
                          u32 total, u32 *buckets) {
  if (t >= total) return;
  Jac acc = jac_zero();
  u32 end = starts[t + 1];
  for (u32 p = starts[t]; p < end; p++) acc = jac_add_aff(acc, load_aff(points, index[p]));
  store_jac(buckets, t, acc);
}

// Segment t = (window w, segment s) covers buckets lo = s 2^seg_bits .. lo + 2^seg_bits - 1.
__device__ void k_segments(u32 t, const u32 *buckets, u32 c, u32 windows, u32 seg_bits,
                           u32 *sums, u32 *totals) {
  u32 per_window = 1u << (c - seg_bits);
  if (t >= windows * per_window) return;
  u32 w = t / per_window, s = t % per_window;
  u32 len = 1u << seg_bits;
  u32 base = w * (1u << c) + s * len;
  Jac running = jac_zero(), sum = jac_zero();
  for (u32 k = len - 1; k > 0; k--) {
    running = jac_add(running, load_jac(buckets, base + k));
    sum = jac_add(sum, running);
  }
  running = jac_add(running, load_jac(buckets, base));
  store_jac(sums, t, sum);
  store_jac(totals, t, running);
}

// Window w: sum_s sums_s + 2^seg_bits sum_s s totals_s.
__device__ void k_windows(u32 w, const u32 *sums, const u32 *totals, u32 c, u32 windows,
                          u32 seg_bits, u32 *out) {
  if (w >= windows) return;
  u32 per_window = 1u << (c - seg_bits);
  u32 base = w * per_window;
  Jac acc = load_jac(sums, base);
  Jac running = jac_zero(), weighted = jac_zero();
  for (u32 s = per_window - 1; s > 0; s--) {
    running = jac_add(running, load_jac(totals, base + s));
    weighted = jac_add(weighted, running);
    acc = jac_add(acc, load_jac(sums, base + s));
  }
  for (u32 k = 0; k < seg_bits; k++) weighted = jac_dbl(weighted);
  store_jac(out, w, jac_add(acc, weighted));
}

#ifndef INFRA_EMULATED
#define TID (blockIdx.x * blockDim.x + threadIdx.x)
extern "C" __global__ void msm_count(const u32 *scalars, u32 n, u32 c, u32 windows, u32 *counts) {
  k_count(TID, scalars, n, c, windows, counts);
}
extern "C" __global__ void msm_scatter(const u32 *scalars, u32 n, u32 c, u32 windows,
                                       u32 *cursor, u32 *index) {
  k_scatter(TID, scalars, n, c, windows, cursor, index);
}
extern "C" __global__ void msm_buckets(const u32 *points, const u32 *index, const u32 *starts,
                                       u32 total, u32 *buckets) {
  k_buckets(TID, points, index, starts, total, buckets);
}
extern "C" __global__ void msm_segments(const u32 *buckets, u32 c, u32 windows, u32 seg_bits,
                                        u32 *sums, u32 *totals) {
  k_segments(TID, buckets, c, windows, seg_bits, sums, totals);
}
extern "C" __global__ void msm_windows(const u32 *sums, const u32 *totals, u32 c, u32 windows,
                                       u32 seg_bits, u32 *out) {
  k_windows(TID, sums, totals, c, windows, seg_bits, out);
}
#else
// CPU emulation: reads (n, c, windows, seg_bits, points, scalars) as
// little-endian u32 from stdin, runs every kernel's body for every thread
// index in order, writes the windows' Jacobian sums to stdout.
#include <cstdio>
#include <vector>

static bool read_all(u32 *dst, size_t n) { return fread(dst, 4, n, stdin) == n; }

int main() {
  u32 head[4];
  if (!read_all(head, 4)) return 2;
  u32 n = head[0], c = head[1], windows = head[2], seg_bits = head[3];
  std::vector<u32> points((size_t)n * 2 * NL), scalars((size_t)n * SCALAR_LIMBS);
  if (!read_all(points.data(), points.size()) || !read_all(scalars.data(), scalars.size()))
    return 2;
  u32 total = windows << c;
  std::vector<u32> counts(total, 0), starts(total + 1, 0);
  for (u32 i = 0; i < n; i++) k_count(i, scalars.data(), n, c, windows, counts.data());
  for (u32 t = 0; t < total; t++) starts[t + 1] = starts[t] + counts[t];
  std::vector<u32> cursor(starts.begin(), starts.end() - 1), index(starts[total] + 1);
  for (u32 i = 0; i < n; i++)
    k_scatter(i, scalars.data(), n, c, windows, cursor.data(), index.data());
  std::vector<u32> buckets((size_t)total * 3 * NL);
  for (u32 t = 0; t < total; t++)
    k_buckets(t, points.data(), index.data(), starts.data(), total, buckets.data());
  u32 segments = windows << (c - seg_bits);
  std::vector<u32> sums((size_t)segments * 3 * NL), totals((size_t)segments * 3 * NL);
  for (u32 t = 0; t < segments; t++)
    k_segments(t, buckets.data(), c, windows, seg_bits, sums.data(), totals.data());
  std::vector<u32> out((size_t)windows * 3 * NL);
  for (u32 w = 0; w < windows; w++)
    k_windows(w, sums.data(), totals.data(), c, windows, seg_bits, out.data());
  return fwrite(out.data(), 4, out.size(), stdout) == out.size() ? 0 : 3;
}
#endif
