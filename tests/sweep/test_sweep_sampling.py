"""SweepConfig.sampling: recorded in the store, passed to SGD, absent from older stores.

Stores written before the field existed record a configuration without ``sampling``; they
must open, resume and read as ``fixed`` (what they ran), under the same default name.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from dysonsgd import sweep
from dysonsgd.model import NetworkConfig
from dysonsgd.sgd import train

# One cell pair, 2 seeds, 6 epochs of 5 batches: plumbing, not statistics (seed 0, any).
TINY = sweep.SweepConfig(
    T_values=[2.0**-5],
    sigma_values=[0.125, 2.0],
    epochs=6,
    n_seeds=2,
    seed=0,
    network=NetworkConfig(n_batches=5),
)


_TO_DICT = sweep.SweepConfig.to_dict


def _old_to_dict(config):
    """The configuration as stores recorded it before sampling modes (no "sampling" key, and
    no "save_schedule", a later field)."""
    d = dict(_TO_DICT(config))
    assert d.pop("sampling") == "fixed"
    assert d.pop("save_schedule") == "even"
    return d


def _recorded(path) -> dict:
    """The configuration attribute as written in the store's group metadata."""
    attrs = json.loads((path / "zarr.json").read_text())["attributes"]
    return json.loads(attrs["dysonsgd_sweep"])


def test_sampling_defaults_to_fixed_and_round_trips():
    assert TINY.sampling == "fixed" and TINY.to_dict()["sampling"] == "fixed"
    iid = sweep.SweepConfig(**{**TINY.__dict__, "sampling": "iid"})
    assert sweep.SweepConfig.from_dict(iid.to_dict()) == iid != TINY
    assert sweep.SweepConfig.from_dict(_old_to_dict(TINY)) == TINY
    with pytest.raises(ValueError, match="sampling must be one of fixed, shuffle, iid"):
        sweep.SweepConfig(**{**TINY.__dict__, "sampling": "perm"})


def test_default_store_name_of_fixed_sweeps_is_unchanged():
    """The name hashes the configuration as recorded before sampling modes (so that rerunning
    an old command finds its store); other modes get their own name."""
    h = hashlib.blake2b(json.dumps(_old_to_dict(TINY), sort_keys=True).encode(), digest_size=4)
    assert TINY.default_store_name() == f"sweep-1x2-e6-s2-{h.hexdigest()}.zarr"
    iid = sweep.SweepConfig(**{**TINY.__dict__, "sampling": "iid"})
    assert iid.default_store_name() != TINY.default_store_name()


def test_cell_trains_with_the_sweeps_sampling():
    iid = sweep.SweepConfig(**{**TINY.__dict__, "sampling": "iid"})
    cell = sweep.compute_cell(iid, 0, 1, threads=1)
    direct = train(iid.network, sigma_w=2.0, temperature=2.0**-5, epochs=6, n_seeds=2, seed=0,
                   save_points=iid.save_points, sampling="iid")  # fmt: skip
    np.testing.assert_array_equal(cell["W_final"], direct.W[:, -1])
    fixed = sweep.compute_cell(TINY, 0, 1, threads=1)
    assert not np.allclose(cell["W_final"], fixed["W_final"])


def test_store_from_before_sampling_opens_resumes_and_reads_fixed(tmp_path, monkeypatch):
    """A store created with the old attribute (no sampling), its cells computed by the
    current code: it reads as fixed, resumes without complaint, refuses an iid sweep, and
    its attribute stays as it was written."""
    path = tmp_path / "old.zarr"
    with monkeypatch.context() as m:
        m.setattr(sweep.SweepConfig, "to_dict", _old_to_dict)
        sweep.open_store(path, TINY)
    assert "sampling" not in _recorded(path)  # really the old form
    assert sweep.read_store_config(path).sampling == "fixed"
    report = sweep.run_sweep(TINY, path, client="inprocess", threads=1)
    assert report.complete and len(report.computed) == TINY.n_cells
    again = sweep.run_sweep(TINY, path, client="inprocess", threads=1)
    assert again.already_done == TINY.n_cells and again.computed == []
    assert "sampling" not in _recorded(path)  # the store is not rewritten
    ds = sweep.load(path)
    assert np.isfinite(ds["W_final"].values).all()
    iid = sweep.SweepConfig(**{**TINY.__dict__, "sampling": "iid"})
    with pytest.raises(sweep.StoreError, match="sampling: 'fixed' in the store, 'iid' requested"):
        sweep.check_store(path, iid)
