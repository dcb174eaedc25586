"""QuantConfig validation and the byte accounting of each mode."""

import pytest
from e3nn import o3

from gaqmd.quant import QuantConfig
from gaqmd.quant.footprint import feature_bytes

IRREPS = o3.Irreps("32x0e+32x1o+32x2e")


def test_bytes_per_atom_by_hand():
    assert feature_bytes(IRREPS, QuantConfig(mode="fp32")) == 4 * 32 * (1 + 3 + 5)
    assert feature_bytes(IRREPS, QuantConfig(mode="w4a32")) == 4 * 32 * (1 + 3 + 5)
    assert feature_bytes(IRREPS, QuantConfig(mode="w4a8-naive")) == 32 * (1 + 3 + 5)
    gaq = QuantConfig(mode="w4a8", codebook_bits=16, l2_mode="int8-shared")
    assert feature_bytes(IRREPS, gaq) == 32 * (1 + (1 + 2) + 5)


def test_mixed_precision_counts_bits():
    mixed = QuantConfig(mode="w4a8", codebook_bits=20, irrep_bits=(6, 6, 8), l2_mode="int8-shared")
    assert mixed.bits_for(0) == 6 and mixed.bits_for(1) == 6 and mixed.bits_for(2) == 8
    assert feature_bytes(IRREPS, mixed) == 32 * (6 + (6 + 20) + 5 * 8) / 8


@pytest.mark.parametrize(
    "values", [{"mode": "int3"}, {"l2_mode": "bf16"}, {"edge_basis": "fp32"}, {"int8_ste": "straight"},
               {"group_size": 0}, {"irrep_bits": (8, 1)}, {"codebook": 4}]
)
def test_invalid_settings_are_refused(values):
    with pytest.raises(ValueError):
        QuantConfig.from_dict(values)


def test_round_trip_through_a_plain_dict():
    config = QuantConfig(mode="w4a8", irrep_bits=[8, 6])
    assert QuantConfig.from_dict(config.to_dict()) == config
    assert isinstance(config.to_dict()["irrep_bits"], list)
