"""Probed coefficients rebuild the e3nn modules' outputs exactly (the engine will use them)."""

import torch
from e3nn import o3

from gaqmd.export import linear_blocks, tensor_product_paths
from gaqmd.nn.interaction import convolution_paths, hidden_irreps


def rebuild_tensor_product(tp, paths, x1, x2, weight):
    out = torch.zeros(x1.shape[0], tp.irreps_out.dim, dtype=torch.float64)
    for path in paths:
        mul, ir1 = tp.irreps_in1[path.i_in1]
        ir2, ir3 = tp.irreps_in2[path.i_in2].ir, tp.irreps_out[path.i_out].ir
        a = x1[:, tp.irreps_in1.slices()[path.i_in1]].reshape(-1, mul, ir1.dim)
        b = x2[:, tp.irreps_in2.slices()[path.i_in2]]
        w = weight[:, path.weight_offset : path.weight_offset + mul]
        block = torch.einsum("ijk,nui,nj,nu->nuk", path.coefficients, a, b, w)
        out[:, tp.irreps_out.slices()[path.i_out]] += block.reshape(-1, mul * ir3.dim)
    return out


def test_tensor_product_rebuilt_from_probed_paths_l2():
    irreps_in, irreps_sh = hidden_irreps(3, 2), o3.Irreps.spherical_harmonics(2)
    irreps_mid, instructions = convolution_paths(irreps_in, irreps_sh, irreps_in)
    tp = o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, instructions, shared_weights=False, internal_weights=False)
    tp = tp.to(torch.float64)
    x1 = torch.randn(5, irreps_in.dim, dtype=torch.float64)
    x2 = o3.spherical_harmonics(irreps_sh, torch.randn(5, 3, dtype=torch.float64), normalize=True, normalization="component")
    weight = torch.randn(5, tp.weight_numel, dtype=torch.float64)
    rebuilt = rebuild_tensor_product(tp, tensor_product_paths(tp), x1, x2, weight)
    torch.testing.assert_close(rebuilt, tp(x1, x2, weight), atol=1e-12, rtol=0)


def test_linear_rebuilt_from_probed_blocks_with_repeated_output_irreps():
    linear = o3.Linear("4x0e+3x1o+2x1o+4x0e", "5x0e+2x1o").to(torch.float64)
    x = torch.randn(6, linear.irreps_in.dim, dtype=torch.float64)
    out = torch.zeros(6, linear.irreps_out.dim, dtype=torch.float64)
    for block in linear_blocks(linear):
        (mul_in, ir), (mul_out, _) = linear.irreps_in[block.i_in], linear.irreps_out[block.i_out]
        a = x[:, linear.irreps_in.slices()[block.i_in]].reshape(-1, mul_in, ir.dim)
        out[:, linear.irreps_out.slices()[block.i_out]] += torch.einsum("nim,io->nom", a, block.matrix).reshape(-1, mul_out * ir.dim)
    torch.testing.assert_close(out, linear(x), atol=1e-12, rtol=0)
