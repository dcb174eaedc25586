"""Coefficients the e3nn modules actually use, found by probing them with basis inputs.

The native engine must not depend on e3nn's conventions (Clebsch–Gordan phases, path and irrep
normalizations, weight layouts), so the exporter measures them: a channel-wise tensor product
is evaluated on unit inputs, one path weight at a time, and an e3nn Linear on unit features, and
what comes out is, by linearity, the exact coefficient the module applies.
"""

from dataclasses import dataclass

import torch
from e3nn import o3


@dataclass(frozen=True)
class ChannelwisePath:
    """One "uvu" path: out[u, k] += sum_ij coefficients[i, j, k] * x1[u, i] * x2[j] * w[u].

    i_in1, i_in2, i_out index the irreps of input 1, input 2 and the output; coefficients
    (2l1+1, 2l2+1, 2l3+1) include the path normalization; weight_offset is where this path's
    mul weights start in the flat weight vector.
    """

    i_in1: int
    i_in2: int
    i_out: int
    weight_offset: int
    coefficients: torch.Tensor


@dataclass(frozen=True)
class LinearBlock:
    """out[..., i_out block] += in[..., i_in block] @ matrix, per component m (same for all m);
    matrix (mul_in, mul_out) is the effective weight, normalization included."""

    i_in: int
    i_out: int
    matrix: torch.Tensor


@torch.no_grad()
def tensor_product_paths(tp: o3.TensorProduct) -> list[ChannelwisePath]:
    """Probe every "uvu" path of a TensorProduct with external weights (float64)."""
    tp = tp.to(torch.float64)
    paths, offset = [], 0
    for ins in tp.instructions:
        if ins.connection_mode != "uvu" or tp.irreps_in2[ins.i_in2].mul != 1:
            raise ValueError("only channel-wise (uvu) paths with a single second-input channel are exported")
        mul, ir1 = tp.irreps_in1[ins.i_in1]
        ir2, ir3 = tp.irreps_in2[ins.i_in2].ir, tp.irreps_out[ins.i_out].ir
        weight = torch.zeros(tp.weight_numel, dtype=torch.float64)
        weight[offset] = 1.0  # channel u = 0 of this path
        coefficients = torch.zeros(ir1.dim, ir2.dim, ir3.dim, dtype=torch.float64)
        start1, start2 = tp.irreps_in1.slices()[ins.i_in1].start, tp.irreps_in2.slices()[ins.i_in2].start
        out_slice = tp.irreps_out.slices()[ins.i_out]
        for i in range(ir1.dim):
            for j in range(ir2.dim):
                x1 = torch.zeros(1, tp.irreps_in1.dim, dtype=torch.float64)
                x2 = torch.zeros(1, tp.irreps_in2.dim, dtype=torch.float64)
                x1[0, start1 + i] = 1.0  # channel 0, component i
                x2[0, start2 + j] = 1.0
                out = tp(x1, x2, weight.unsqueeze(0))[0, out_slice]
                coefficients[i, j] = out.reshape(mul, ir3.dim)[0]
        paths.append(ChannelwisePath(ins.i_in1, ins.i_in2, ins.i_out, offset, coefficients))
        offset += mul
    return paths


@torch.no_grad()
def linear_blocks(linear: o3.Linear) -> list[LinearBlock]:
    """Probe the effective (mul_in, mul_out) matrix of every path of an e3nn Linear (float64)."""
    linear = linear.to(torch.float64)
    blocks = []
    for ins in linear.instructions:
        (mul_in, ir_in), (mul_out, _) = linear.irreps_in[ins.i_in], linear.irreps_out[ins.i_out]
        start_in = linear.irreps_in.slices()[ins.i_in].start
        out_slice = linear.irreps_out.slices()[ins.i_out]
        basis = torch.zeros(mul_in, linear.irreps_in.dim, dtype=torch.float64)
        basis[torch.arange(mul_in), start_in + torch.arange(mul_in) * ir_in.dim] = 1.0  # component m = 0
        out = linear(basis)[:, out_slice].reshape(mul_in, mul_out, ir_in.dim)[:, :, 0]
        blocks.append(LinearBlock(ins.i_in, ins.i_out, out.clone()))
    return blocks
