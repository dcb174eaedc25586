#pragma once
// Per-thread work of the w4a8 activation quantizers (docs/format.md, "Quantizers"): LSQ, the
// irreps-block kinds (MDDQ with the codebook lookup fused in, int8, MDDQ-fp16, fp16), per-atom
// local frames, and their straight-through backward. The backward recomputes each quantizer's
// decisions from its input instead of storing them: same inputs, same decisions.

#include "gaqmd/cuda/CodebookCells.h"
#include "gaqmd/cuda/Layout.h"
#include "gaqmd/math/frames.h"
#include "gaqmd/math/quant.h"

namespace gaqmd::cuda {

/// LSQ of x_k (identity without a quantizer); *mask = the straight-through derivative.
template <typename Real>
GAQMD_HD inline double lsqValue(const Params<Real>& P, const LsqRef& q, int k, double x, double* mask) {
  if (q.scale < 0) {
    *mask = 1.0;
    return x;
  }
  return math::lsqFakeQuant(x, P.values[q.scale + k], q.qmin, q.qmax, mask, q.clipped != 0);
}

/// Thread i: the local frame of atom i (format.md, "Local frame"): its neighbours in the order of
/// (distance, neighbour index), taken one at a time by selection (rows are short), into frames[9 i].
template <typename Real>
GAQMD_HD inline void localFrame(int i, Edges<Real> edges, EdgeGeometry<Real> geo) {
  const int begin = i * edges.capacity, count = edges.count[i];
  // dirs[0..2]: the nearest neighbour's direction (e1); dirs[3..5]: the first later one with a
  // component orthogonal to e1 above kFrameMinSine (math::localFrame then builds the frame from them
  // exactly as from the whole sorted list).
  double dirs[6] = {0, 0, 0, 0, 0, 0};
  int previous = -1, used = 0;
  for (int rank = 0; rank < count && used < 2; ++rank) {
    int best = -1;  // the next edge after `previous` in (d, j) order
    for (int k = 0; k < count; ++k) {
      const int e = begin + k, j = edges.neighbour[e];
      const double d = geo.d[e];
      if (previous >= 0) {
        const double dp = geo.d[previous];
        if (!(d > dp || (d == dp && j > edges.neighbour[previous]))) continue;
      }
      if (best < 0 || d < geo.d[best] || (d == geo.d[best] && j < edges.neighbour[best])) best = e;
    }
    previous = best;
    double* dir = dirs + 3 * used;
    for (int a = 0; a < 3; ++a) dir[a] = edges.r[3 * best + a] / static_cast<double>(geo.d[best]);
    if (used == 0) {
      used = 1;
      continue;
    }
    const double along = math::dot(dir, dirs);
    double e2[3];
    for (int a = 0; a < 3; ++a) e2[a] = dir[a] - along * dirs[a];
    if (math::norm3(e2) > math::kFrameMinSine) used = 2;
  }
  double F[9];
  math::localFrame(dirs, used, F);
  for (int k = 0; k < 9; ++k) geo.frames[9 * i + k] = static_cast<Real>(F[k]);
}

/// The decisions of a magnitude-direction quantizer (mddq, mddq-fp16) for one d-vector v:
/// m, m̂, in-range, zero, codeword c (d).
struct MagnitudeDirection {
  double m = 0, mHat = 0, inRange = 0;
  bool zero = true;
  double c[5] = {0, 0, 0, 0, 0};
};

template <typename Real>
GAQMD_HD inline MagnitudeDirection magnitudeDirection(const Params<Real>& P, const BlockQuant& q, int u, const double* v,
                                                      int d, const Real* frame) {
  MagnitudeDirection md;
  double sq = v[0] * v[0];
  for (int a = 1; a < d; ++a) sq += v[a] * v[a];  // ((v0² + v1²) + v2²) + ..., as PyTorch
  md.m = sqrt(sq);
  md.zero = !(md.m >= P.zeroThreshold) || md.m == 0.0;
  if (md.zero) return md;
  const double logMin = q.logDomain ? static_cast<double>(P.values[q.logMin + u]) : 0.0;
  md.mHat = math::mddqMagnitude(md.m, P.values[q.scale + u], q.qmax, q.logDomain != 0, logMin, &md.inRange);
  if (q.kind == kQuantMddqFp16) {
    for (int a = 0; a < d; ++a) md.c[a] = math::roundToHalf(v[a] / md.m);
    return md;
  }
  double dir[3] = {v[0] / md.m, v[1] / md.m, v[2] / md.m}, F[9], inFrame[3];
  if (!P.directionFrames) frame = nullptr;
  if (frame) {
    for (int k = 0; k < 9; ++k) F[k] = frame[k];
    math::frameApply(F, dir, inFrame);
  } else {
    for (int a = 0; a < 3; ++a) inFrame[a] = dir[a];
  }
  const Real* p = P.values + P.codebook + 3 * nearestCodeword(P, inFrame);
  const double point[3] = {p[0], p[1], p[2]};
  if (frame) math::frameApplyTransposed(F, point, md.c);
  else
    for (int a = 0; a < 3; ++a) md.c[a] = point[a];
  return md;
}

/// v (d) -> out (d) = D v (transposed: Dᵀ v) for a local l = 2 block (D from the atom's frame);
/// a copy otherwise.
template <typename Real>
GAQMD_HD inline void toBlockFrame(const BlockQuant& q, const Real* frame, bool transposed, int d, const double* v,
                                  double* out) {
  if (!q.local) {
    for (int a = 0; a < d; ++a) out[a] = v[a];
    return;
  }
  double F[9], D[25];
  for (int k = 0; k < 9; ++k) F[k] = frame[k];
  math::wigner2FromFrame(F, D);
  math::wigner2Apply(D, transposed, v, out);
}

/// Quantizes channel u of block b of one atom's features: x (D) -> xq (D), the block's components only
/// (a local block in the atom's frame: x̂ = Dᵀ q(D x)).
template <typename Real>
GAQMD_HD inline void quantizeChannel(const Params<Real>& P, const BlockQuant& q, const Blocks& blocks, int b, int u,
                                     const Real* x, const Real* frame, Real* xq) {
  const int d = 2 * blocks.l[b] + 1, off = blocks.offset[b] + u * d;
  double given[5], v[5] = {0, 0, 0, 0, 0}, out[5], result[5], mask;  // v zeroed: gcc cannot see d <= 5
  for (int a = 0; a < d; ++a) given[a] = x[off + a];
  toBlockFrame(q, frame, false, d, given, v);
  switch (q.kind) {
    case kQuantLsq:
    case kQuantInt8:
      for (int a = 0; a < d; ++a) out[a] = math::lsqFakeQuant(v[a], P.values[q.scale + u], q.qmin, q.qmax, &mask);
      break;
    case kQuantMddq:
    case kQuantMddqFp16: {
      const MagnitudeDirection md = magnitudeDirection(P, q, u, v, d, frame);
      for (int a = 0; a < d; ++a) out[a] = md.mHat * md.c[a];
      break;
    }
    case kQuantFp16:
      for (int a = 0; a < d; ++a) out[a] = math::roundToHalf(v[a]);
      break;
    default:
      for (int a = 0; a < d; ++a) out[a] = v[a];
  }
  toBlockFrame(q, frame, true, d, out, result);
  for (int a = 0; a < d; ++a) xq[off + a] = static_cast<Real>(result[a]);
}

/// Straight-through backward of quantizeChannel: g = dE/dxq -> gx = dE/dx on the channel's components
/// (a local block: gx = Dᵀ (q's backward at D x)(D g), the frame held constant).
template <typename Real>
GAQMD_HD inline void quantizeChannelBackward(const Params<Real>& P, const BlockQuant& q, const Blocks& blocks, int b,
                                             int u, const Real* x, const Real* frame, const Real* g, Real* gx) {
  const int d = 2 * blocks.l[b] + 1, off = blocks.offset[b] + u * d;
  double given[5], givenG[5], v[5] = {0, 0, 0, 0, 0}, gv[5], out[5], result[5], mask;  // as above
  for (int a = 0; a < d; ++a) given[a] = x[off + a], givenG[a] = g[off + a];
  toBlockFrame(q, frame, false, d, given, v);
  toBlockFrame(q, frame, false, d, givenG, gv);
  switch (q.kind) {
    case kQuantLsq:
    case kQuantInt8:
      for (int a = 0; a < d; ++a) {
        math::lsqFakeQuant(v[a], P.values[q.scale + u], q.qmin, q.qmax, &mask, q.clipped != 0);
        out[a] = gv[a] * mask;
      }
      break;
    case kQuantMddq:
    case kQuantMddqFp16: {
      const MagnitudeDirection md = magnitudeDirection(P, q, u, v, d, frame);
      math::geometricSteN(gv, v, md.m, md.mHat, md.c, md.inRange, md.zero, d, out);
      break;
    }
    default:  // fp16 and none: identity
      for (int a = 0; a < d; ++a) out[a] = gv[a];
  }
  toBlockFrame(q, frame, true, d, out, result);
  for (int a = 0; a < d; ++a) gx[off + a] = static_cast<Real>(result[a]);
}

/// Thread (i, b, u): in_q (which = 0: x -> xq) or up_q (which = 1: xuPre -> xu) of one channel.
template <typename Real>
GAQMD_HD inline void quantizeFeatures(int item, const Params<Real>& P, int t, int which, LayerBuffers<Real> B,
                                      EdgeGeometry<Real> geo) {
  const LayerRef& L = P.layers[t];
  const int C = P.channels, i = item / (L.in.count * C), b = (item / C) % L.in.count, u = item % C;
  const Real* frame = P.localFrames ? geo.frames + 9 * i : nullptr;
  const BlockQuant& q = which == 0 ? L.inQ[b] : L.upQ[b];
  const Real* x = (which == 0 ? B.x : B.xuPre) + i * L.in.dim;
  quantizeChannel(P, q, L.in, b, u, x, frame, (which == 0 ? B.xq : B.xu) + i * L.in.dim);
}

/// Thread (i, b, u): the backward of quantizeFeatures: which = 0: Gxq -> Gx; which = 1: Gxu -> GxuPre.
template <typename Real>
GAQMD_HD inline void quantizeFeaturesBackward(int item, const Params<Real>& P, int t, int which, LayerBuffers<Real> B,
                                              EdgeGeometry<Real> geo, const Real* g, Real* gx) {
  const LayerRef& L = P.layers[t];
  const int C = P.channels, i = item / (L.in.count * C), b = (item / C) % L.in.count, u = item % C;
  const Real* frame = P.localFrames ? geo.frames + 9 * i : nullptr;
  const BlockQuant& q = which == 0 ? L.inQ[b] : L.upQ[b];
  const Real* x = (which == 0 ? B.x : B.xuPre) + i * L.in.dim;
  quantizeChannelBackward(P, q, L.in, b, u, x, frame, g + i * L.in.dim, gx + i * L.in.dim);
}

}  // namespace gaqmd::cuda
