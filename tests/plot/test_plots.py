"""The figures run on small inputs and carry what a reader needs to read them.

Structure, not pixels: legends name the lines, colour keys exist, axes are labelled, titles use
the paper's ``1/sigma_W`` convention. The figure functions close their figures after saving,
so each test catches the figure at the save call (and one test per kind writes a real file).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from dysonsgd.plot import _base  # noqa: E402
from dysonsgd.plot import langevin as plot_langevin  # noqa: E402
from dysonsgd.plot import training as plot_training  # noqa: E402


@pytest.fixture
def caught(monkeypatch):
    """Figures passed to the single-file savers, kept open for inspection."""
    figs = []

    def keep(fig, path):
        figs.append(fig)

    monkeypatch.setattr(_base, "_save", keep)
    monkeypatch.setattr(plot_training, "_save", keep)
    yield figs
    import matplotlib.pyplot as plt

    for fig in figs:
        plt.close(fig)


def _langevin_result(n_seeds, n_saves, K=5, model="network", positive=True):
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0.01, 1.0, size=(n_seeds, n_saves, K)), axis=-1)[..., ::-1]
    if not positive:
        x = x - 0.5
    return types.SimpleNamespace(
        times=np.linspace(0.0, 10.0, n_saves), x=np.ascontiguousarray(x), temperature=0.03125,
        model=model, status=np.zeros(n_seeds, dtype=np.int64), domain="positive",
    )  # fmt: skip


def _legend_texts(ax):
    leg = ax.get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


def _colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.mark.parametrize("n_seeds", [1, 3, 4])
def test_langevin_figure_one_panel_per_seed(caught, n_seeds):
    res = _langevin_result(n_seeds, 7)
    teacher = np.linspace(2.0, 0.1, 5)
    plot_langevin.langevin_flow_figure(
        res, "unused.png", teacher=teacher, sigma_w=0.125, phases=["ordered"] * n_seeds
    )
    (fig,) = caught
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(panels) == n_seeds
    assert [ax.get_title() for ax in panels] == [f"seed {k}: ordered" for k in range(n_seeds)]
    legend = _legend_texts(panels[0])
    assert any("student" in t and "x_i(t)" in t for t in legend)
    assert any("teacher" in t for t in legend)
    assert _colorbar_labels(fig) == ["level index $i$ (1 = largest)"]
    assert panels[0].get_yscale() == "log"
    title = fig._suptitle.get_text()
    assert "$1/\\sigma_W$ = 8" in title and "sigma_W=" not in title
    # the highlighted flow: K solid lines per panel, K dashed references
    lines = panels[-1].get_lines()
    assert sum(ln.get_linestyle() == "-" for ln in lines) == 5
    assert sum(ln.get_linestyle() == "--" for ln in lines) == 5


def test_langevin_figure_many_seeds_highlights_seed_0(caught):
    res = _langevin_result(6, 200)
    plot_langevin.langevin_flow_figure(res, "unused.png", teacher=np.linspace(2.0, 0.1, 5))
    (fig,) = caught
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert any("other seeds (5)" in t for t in _legend_texts(ax))
    lines = ax.get_lines()
    grey = [ln for ln in lines if ln.get_color() == "0.6"]
    assert len(grey) == 5 * 5  # the other seeds, faint, no references
    # 200 save points: no markers; the title has T in the paper's notation
    assert all(ln.get_marker() in (None, "None", "") for ln in lines)
    assert "$T$ = $2^{-5}$" in fig._suptitle.get_text()


def test_langevin_figure_marks_coarse_save_points_and_real_domain(caught):
    res = _langevin_result(2, 3, positive=False, model="harmonic")
    plot_langevin.langevin_flow_figure(res, "unused.png", teacher=np.linspace(0.4, -0.4, 5))
    (fig,) = caught
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    assert any(ln.get_marker() == "." for ln in ax.get_lines())
    assert any("harmonic targets" in t for t in _legend_texts(ax))


def test_langevin_figure_writes_file(tmp_path):
    path = tmp_path / "flow.png"
    plot_langevin.langevin_flow_figure(_langevin_result(2, 5), path, sigma_w=256.0)
    assert path.stat().st_size > 1000


def test_width_label_paper_convention():
    assert _base.width_label(0.125) == "$1/\\sigma_W$ = 8"
    assert _base.width_label(256.0) == "$1/\\sigma_W$ = $2^{-8}$"
    assert _base.width_label(2.0) == "$1/\\sigma_W$ = 0.5"


def test_training_figure(caught, tmp_path):
    import dysonsgd
    from dysonsgd import observables

    cfg = dysonsgd.NetworkConfig(K=3, L=6, n_batches=4, n_test=8)
    res = dysonsgd.train(cfg, sigma_w=0.125, temperature=0.03125, epochs=3, n_seeds=2,
                         engine="numpy")  # fmt: skip
    plot_training.training_figure(res, observables.summarize(res), tmp_path / "t.png")
    (fig,) = caught
    flow_ax, loss_ax = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert flow_ax.get_xlabel() == "epoch" and "X = WW^T" in flow_ax.get_ylabel()
    assert loss_ax.get_ylabel() == "epoch-mean training loss"
    legend = _legend_texts(flow_ax)
    assert any("student" in t for t in legend) and any("teacher" in t for t in legend)
    assert _legend_texts(loss_ax) == ["other seeds (1), grey", "seed 0"]
    assert _colorbar_labels(fig) == ["level index $i$ (1 = largest)"]
    assert "$1/\\sigma_W$ = 8" in fig._suptitle.get_text()


def test_comparison_figure(caught):
    from dysonsgd import NetworkConfig
    from dysonsgd.compare import compare
    from dysonsgd.plot import compare as plot_compare

    cfg = NetworkConfig(K=4, L=8, n_batches=4, n_test=8)
    comp = compare(cfg, temperature=0.03125, sigma_w=0.125, epochs=2, n_seeds=3, n_bootstrap=10)
    plot_compare.comparison_figure(comp, "unused.png")
    (fig,) = caught
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    # one flow panel per rung, then <x_1>(t), W1 to SGD, final spectra, spacing ratios
    assert len(axes) == len(comp.rungs) + 4 == 9
    flows = axes[: len(comp.rungs)]
    assert flows[0].get_title().startswith("SGD\n")
    assert flows[-1].get_title().startswith("DBM, frozen vectors\n")
    for ax, r in zip(flows, comp.rungs, strict=True):
        assert r.phase in ax.get_title()
        assert ax.get_shared_y_axes().joined(ax, flows[0])  # shared axes: flows comparable
    legend = _legend_texts(flows[0])
    assert any("student" in t for t in legend) and any("teacher" in t for t in legend)
    assert any("other seeds (2)" in t for t in legend)
    assert len(_legend_texts(axes[len(comp.rungs)])) == len(comp.rungs) + 1  # + the teacher
    assert _colorbar_labels(fig) == ["level index $i$ (1 = largest)"]
    assert all(ax.get_xlabel() for ax in axes)
    assert "$1/\\sigma_W$ = 8" in fig._suptitle.get_text()


def _phase_store(n_T=3, n_sigma=4, n_seeds=4):
    """The variables the map overlays read, on a small grid (no training)."""
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(2)
    T = 2.0 ** np.arange(-5, -5 + 2 * n_T, 2)
    sigma = 2.0 ** np.linspace(8, -3, n_sigma)
    frac = (rng.uniform(size=(n_T, n_sigma, n_seeds)) < 0.6).astype(np.float64)
    done = np.ones((n_T, n_sigma))
    return xr.Dataset(
        {
            "ordered_exact": (("T", "sigma_w", "seed"), frac),
            "ordered_paper": (("T", "sigma_w", "seed"), frac[..., ::-1]),
            "cell_done": (("T", "sigma_w"), done),
            "a_rms": (("T", "sigma_w", "seed"), np.full((n_T, n_sigma, n_seeds), 0.58)),
        },
        coords={"T": T, "sigma_w": sigma, "seed": np.arange(n_seeds)},
    )


def test_phase_map_one_legend_entry_per_label_present():
    import matplotlib.pyplot as plt

    from dysonsgd.plot import phase as plot_phase

    ds = _phase_store()
    labels = np.array(
        [
            ["ordered", "ordered", "crossover", "high-temperature"],
            ["disordered", "undetermined", "a-new-label", "ordered"],
            ["", "disordered", "high-temperature", "high-temperature"],
        ]
    )
    fig, ax = plt.subplots()
    try:
        leg = plot_phase.phase_map(ax, ds, labels)
        entries = [t.get_text() for t in leg.get_texts()]
        assert entries == [
            "ordered (3)", "disordered (2)", "high-temperature (3)", "crossover (1)",
            "undetermined (1)", "a-new-label (1)", "not computed (1)",
        ]  # fmt: skip
        colors = [tuple(h.get_facecolor()) for h in leg.legend_handles]
        assert len(set(colors)) == len(colors)  # every category its own colour
        assert ax.get_xlabel() == r"$1/\sigma_W$" and ax.get_ylabel()
        # no continuous colour bar for categories
        assert not any(a.get_label() == "<colorbar>" for a in fig.axes)
        # the overlay legend says what the contours are, with their levels
        overlay = ax.get_legend()
        assert "Langevin criterion" in overlay.get_title().get_text()
        texts = [t.get_text() for t in overlay.get_texts()]
        assert [t.split()[0] for t in texts[:3]] == ["0.68", "0.95", "0.997"]
        assert "unresolved" in texts[1] and "unresolved" not in texts[0]
    finally:
        plt.close(fig)


def test_phase_colors_fixed_for_known_labels_and_distinct_fallbacks():
    from dysonsgd.plot import phase as plot_phase

    c = plot_phase.phase_colors(["disordered", "zeta", "alpha", "ordered", ""])
    assert c["ordered"] == plot_phase.PHASE_COLORS["ordered"]
    assert c["disordered"] == plot_phase.PHASE_COLORS["disordered"]
    assert c["alpha"] == plot_phase.FALLBACK_COLORS[0]
    assert c["zeta"] == plot_phase.FALLBACK_COLORS[1]
    assert "" not in c
