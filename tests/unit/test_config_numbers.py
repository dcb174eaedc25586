"""Numbers in run configs: YAML reads 3e-5 as text; number fields take it as the number it spells."""

import pytest

from gaqmd.quant import QuantConfig
from gaqmd.train.config import load_run_config


def write_config(tmp_path, train_lines: str):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  path: frames.xyz\ntrain:\n" + train_lines)
    return path


def test_exponent_numbers_from_the_file_and_from_set_are_floats(tmp_path):
    config = load_run_config(write_config(tmp_path, "  lr: 3e-5\n  max_minutes: 2\n"),
                             assignments=["train.quantizer_lr_factor=1e-2", "train.epochs=7"])
    assert config.train.lr == pytest.approx(3e-5) and isinstance(config.train.lr, float)
    assert config.train.quantizer_lr_factor == pytest.approx(1e-2)
    assert config.train.max_minutes == 2.0 and isinstance(config.train.max_minutes, float)
    assert config.train.epochs == 7 and isinstance(config.train.epochs, int)


def test_text_that_is_not_a_number_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="'lr' must be a number, got 'fast'"):
        load_run_config(write_config(tmp_path, "  lr: fast\n"))
    with pytest.raises(ValueError, match="'epochs' must be an integer"):
        load_run_config(write_config(tmp_path, "  epochs: 2.5\n"))
    assert QuantConfig.from_dict({"codebook_bits": "12", "group_size": 8.0}).group_size == 8
