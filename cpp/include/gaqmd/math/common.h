#pragma once
// Shared by the CPU engine and the CUDA kernels: GAQMD_HD marks functions callable on both.

#include <cmath>

#ifdef __CUDACC__
#define GAQMD_HD __host__ __device__
#else
#define GAQMD_HD
#endif

namespace gaqmd::math {

struct Vec3 {
  double x, y, z;
};

GAQMD_HD inline double dot(const double* a, const double* b) {
  return (a[0] * b[0] + a[1] * b[1]) + a[2] * b[2];
}

/// |v| summed as (v0² + v1²) + v2², the order PyTorch's MDDQ uses.
GAQMD_HD inline double norm3(const double* v) { return sqrt((v[0] * v[0] + v[1] * v[1]) + v[2] * v[2]); }

GAQMD_HD inline void cross(const double* a, const double* b, double* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

}  // namespace gaqmd::math
