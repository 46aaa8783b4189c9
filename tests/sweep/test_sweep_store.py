"""The sweep store's variable table (dysonsgd.sweep.store.VARIABLES) against a written store.

The table is the one description of the store's arrays: every array of a written store (the
coordinates aside) must be in it, with the dims and dtype it states, and the cell task must
return exactly its cell data. A one-cell sweep of 2 epochs keeps this file at a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dysonsgd import sweep
from dysonsgd.model import NetworkConfig
from dysonsgd.sweep import store

ONE_CELL = sweep.SweepConfig(
    T_values=[2.0**-5],
    sigma_values=[0.125],
    epochs=2,
    n_seeds=2,
    seed=0,
    network=NetworkConfig(n_batches=5),
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "one.zarr"
    report = sweep.run_sweep(ONE_CELL, path, client="inprocess")
    assert report.complete
    return path


def test_table_covers_every_array_of_a_written_store(written):
    ds = xr.open_zarr(written, consolidated=False)
    group = store._open_group(written, "r")
    arrays = set(group.array_keys()) - set(ds.coords)
    table = {v.name: v for v in store.VARIABLES}
    assert len(table) == len(store.VARIABLES), "a name appears twice in the table"
    assert arrays == set(table)
    for name, v in table.items():
        assert ds[name].dims == v.dims, name
        assert group[name].dtype == v.dtype, name
        assert ds[name].attrs["description"] == v.description, name
        assert not np.isnan(ds[name].values).any(), name  # the one cell is written whole


def test_cell_task_returns_exactly_the_cell_data():
    result = sweep.compute_cell(ONE_CELL, 0, 0)
    assert set(result) == {v.name for v in store.CELL_DATA} | {"compute_seconds"}
    net = ONE_CELL.network
    sizes = {"seed": ONE_CELL.n_seeds, "save": ONE_CELL.save_points, "level": net.K, "col": net.L}
    parts = {"observables", "records", "cell", *(f"criterion_{e}" for e in sweep.ESTIMATORS)}
    for v in store.CELL_DATA:
        assert v.per_cell and v.source.split(".")[0] in parts, v
        assert result[v.name].shape == tuple(sizes[d] for d in v.dims[2:]), v.name
        assert result[v.name].dtype == v.dtype, v.name
    # the arrays the store fills itself: the marks per cell, criterion_delta per column
    unsourced = [(v.name, v.per_cell) for v in store.VARIABLES if v.source is None]
    assert unsourced == [("cell_done", True), ("cell_checksum", True), ("criterion_delta", False)]
    assert store.SEED_VARS == tuple(v.name for v in store.CELL_DATA if v.dims == store.SEED_DIMS)
