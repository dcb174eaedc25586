"""`gaqmd analyze irreps`: norm shares per degree, ablations, embeddings, files and CLI errors."""

import json

import numpy as np
import pytest
import torch

from gaqmd.analysis import analyze_irreps, analyze_model_file, capture_layer_features, evaluate_ablated, norm_shares
from gaqmd.analysis import pca_2d, zeroed_degrees
from gaqmd.cli import main
from gaqmd.data import GraphDataset, edge_vectors, read_frames
from gaqmd.model.io import save_model
from gaqmd.quant import QuantConfig, calibrate, prepare_qat
from gaqmd.testing.model import make_model
from gaqmd.testing.runs import tiny_run_config
from gaqmd.train import Trainer
from gaqmd.train.metrics import evaluate, predict


@pytest.fixture(scope="module")
def ethanol_file(data_dir):
    return data_dir / "rmd17" / "train_1000.xyz"


@pytest.fixture(scope="module")
def ethanol(ethanol_file):
    return read_frames(ethanol_file, index="0:6")


@pytest.fixture(scope="module")
def model():
    return make_model(l_max=2, species=(1, 6, 8), num_layers=3)


@pytest.fixture(scope="module")
def dataset(model, ethanol):
    return GraphDataset(ethanol, model.config.species, model.config.cutoff)


@pytest.fixture(scope="module")
def trained_model(ethanol_file, tmp_path_factory):
    output = tmp_path_factory.mktemp("tiny")
    Trainer(tiny_run_config(ethanol_file, output, epochs=1)).fit()
    return output / "best.pt"


def direct_squared_norms(model, dataset) -> np.ndarray:
    """(layers, l_max + 1) sums of |x_l|^2 from the layers called by hand; hidden irreps are
    C x 0e + C x 1o + C x 2e, so degree l occupies columns [C l^2, C (l+1)^2)."""
    c, l_max = model.config.channels, model.config.l_max
    sums = np.zeros((len(model.layers), l_max + 1))
    with torch.no_grad():
        for graph in dataset:
            vectors = edge_vectors(graph)
            distance = vectors.norm(dim=-1)
            sh, basis, envelope = model.spherical_harmonics(vectors), model.basis(distance), model.envelope(distance)
            x = model.embedding(graph.species)
            for k, layer in enumerate(model.layers):
                x = layer(x, sh, basis, envelope, graph.edge_index)
                for l in range(l_max + 1):
                    sums[k, l] += float((x[:, c * l * l : c * (l + 1) ** 2] ** 2).sum())
    return sums


def test_norm_shares_are_fractions_that_sum_to_one_per_layer(model, dataset):
    shares = norm_shares(capture_layer_features(model, dataset, batch_size=4), degrees=(0, 1, 2))
    values = np.array(shares.shares)
    assert values.shape == (3, 3)
    assert (values >= 0).all()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_norm_shares_match_a_direct_forward_of_the_layers(model, dataset):
    shares = norm_shares(capture_layer_features(model, dataset, batch_size=4), degrees=(0, 1, 2))
    expected = direct_squared_norms(model, dataset)
    np.testing.assert_allclose(np.array(shares.squared_norms), expected, rtol=1e-10)
    np.testing.assert_allclose(np.array(shares.shares), expected / expected.sum(axis=1, keepdims=True), rtol=1e-10)


def test_zeroing_nothing_changes_nothing(model, dataset):
    assert evaluate_ablated(model, dataset, degrees=()) == evaluate(model, dataset)


def test_zeroing_vectors_changes_the_forces_except_after_the_last_layer(model, dataset):
    reference = predict(model, dataset)
    with zeroed_degrees(model, (1, 2)):
        ablated = predict(model, dataset)
    change = np.abs(ablated.forces_pred - reference.forces_pred).max()
    assert change > 1e-3 * np.abs(reference.forces_pred).max()
    # The readout reads only the last layer's scalars, so its l > 0 block is dead weight.
    with zeroed_degrees(model, (1, 2), layers=[len(model.layers) - 1]):
        np.testing.assert_array_equal(predict(model, dataset).forces_pred, reference.forces_pred)
    np.testing.assert_array_equal(predict(model, dataset).forces_pred, reference.forces_pred)  # hooks removed


def test_analysis_reports_every_degree_and_single_layer_ablations(model, dataset):
    analysis = analyze_irreps(model, dataset, projection="pca", batch_size=4)
    labels = [(row.label, row.layers) for row in analysis.ablation.rows]
    assert labels == [("l=0", (0, 1, 2)), ("l=1", (0, 1, 2)), ("l=2", (0, 1, 2)),
                      ("l=1,2", (0,)), ("l=1,2", (1,)), ("l=1,2", (2,))]
    assert analysis.ablation.rows[-1].force_mae_change == 0.0
    assert analysis.ablation.rows[1].force_mae_change != 0.0
    assert [(p.layer, p.degree) for p in analysis.embeddings.panels] == [(k, l) for k in range(3) for l in range(3)]
    assert all(p.coords.shape == (analysis.n_atoms, 2) for p in analysis.embeddings.panels)


def test_pca_recovers_a_planar_point_cloud():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(50, 2)) * [3.0, 1.0]
    rotation = np.linalg.qr(rng.normal(size=(5, 5)))[0][:2]
    coords = pca_2d(plane @ rotation + 7.0)
    distances = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(distances(coords), distances(plane), atol=1e-10)


def test_qat_model_file_is_analyzed_with_its_quantizers(ethanol, ethanol_file, tmp_path):
    model = make_model(species=(1, 6, 8))
    config = QuantConfig(mode="w4a8")
    prepare_qat(model, config)
    calibrate(model, GraphDataset(ethanol, model.config.species, model.config.cutoff).batches(3), torch.float64)
    save_model(model, tmp_path / "qat.pt", {"quant": config.to_dict()})
    analysis = analyze_model_file(tmp_path / "qat.pt", ethanol_file, frames=4, projection="pca")
    assert analysis.mode == "w4a8" and analysis.n_frames == 4
    np.testing.assert_allclose(np.array(analysis.shares.shares).sum(axis=1), 1.0, atol=1e-12)
    assert abs(analysis.ablation.rows[1].force_mae_change) > 0  # l=1 in every layer


def test_cli_writes_plots_json_and_markdown_and_prints_the_table(trained_model, ethanol_file, tmp_path, capsys):
    output = tmp_path / "analysis"
    args = ["analyze", "irreps", str(trained_model), "--data", str(ethanol_file), "--split", "test",
            "--frames", "5", "--output", str(output)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "l=0" in printed and "l=1" in printed and "ΔF MAE" in printed and "PCA" in printed
    for name in ("irreps_norm_share.png", "irreps_ablation.png", "irreps_embeddings.png"):
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((output / "irreps_analysis.json").read_text())
    assert summary["n_frames"] == 5 and summary["split"] == "test" and summary["embeddings"]["method"] == "PCA"
    np.testing.assert_allclose(np.sum(summary["norm_shares"]["shares"], axis=1), 1.0, atol=1e-12)
    assert "| layer | irreps | l=0 | l=1 |" in (output / "irreps_analysis.md").read_text()


def test_cli_rejects_data_with_elements_the_model_does_not_know(ethanol_file, tmp_path, capsys):
    save_model(make_model(species=(1, 6)), tmp_path / "hc.pt")
    args = ["analyze", "irreps", str(tmp_path / "hc.pt"), "--data", str(ethanol_file),
            "--output", str(tmp_path / "out")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "gaqmd analyze: error:" in error and "O not in the model's species list" in error
    assert not (tmp_path / "out").exists()
