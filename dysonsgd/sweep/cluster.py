"""Dask clients for a sweep: an existing scheduler, a dask-jobqueue cluster, or a LocalCluster."""

from __future__ import annotations

import os

from dysonsgd._validate import positive_int as _positive_int

#: Extra package needed by ``cluster="slurm"`` / ``"pbs"``.
CLUSTER_EXTRA = "pip install 'dysonsgd[cluster]'  (or: pip install dask-jobqueue)"
CLUSTERS: tuple[str, ...] = ("slurm", "pbs")


def make_cluster(kind: str, **options):
    """A dask-jobqueue cluster (``SLURMCluster`` or ``PBSCluster``), not yet scaled.

    Parameters
    ----------
    kind : {"slurm", "pbs"}
    **options
        Passed to the jobqueue class (``cores``, ``memory``, ``walltime``, ``queue``,
        ``account``, ...). ``processes=cores`` and one thread per process are the defaults,
        as the sweep's tasks are single-threaded cells.

    Raises
    ------
    ValueError
        Unknown kind, or dask-jobqueue is not installed (the message names the extra).
    """
    if kind not in CLUSTERS:
        raise ValueError(f"cluster must be one of {', '.join(CLUSTERS)}, got {kind!r}")
    try:
        import dask_jobqueue
    except ImportError:
        raise ValueError(f"--cluster {kind} needs dask-jobqueue: {CLUSTER_EXTRA}") from None
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    opts = {"cores": 1, "memory": "2GB", "processes": None, **options}
    if opts["processes"] is None:
        opts["processes"] = opts["cores"]
    return cls(**opts)


def connect(
    scheduler: str | None = None,
    *,
    cluster: str | None = None,
    workers: int | None = None,
    timeout: float = 3.0,
    cluster_options: dict | None = None,
):
    """A Dask client: an existing scheduler, a jobqueue cluster, or a new LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, ``tcp://HOST:PORT``; ``"inprocess"`` computes the
        cells one after another in this process, without Dask (debugging, profiling).
    cluster : {"slurm", "pbs"}, optional
        Start workers through dask-jobqueue (``workers`` jobs' worth of processes).
    workers : int, optional
        Worker processes of the LocalCluster (default: the machine's cores) or of the
        jobqueue cluster (default 1).
    timeout : float
        Seconds to wait for an existing scheduler.

    Returns
    -------
    (client, close) : distributed.Client and a function that shuts down what was started.

    Raises
    ------
    ValueError
        Unreachable scheduler (naming the address), bad arguments, missing dask-jobqueue.
    """
    from distributed import Client, LocalCluster

    if scheduler == "inprocess":
        if cluster is not None or workers is not None:
            raise ValueError("--scheduler inprocess runs in this process: no --cluster/--workers")
        return "inprocess", lambda: None
    if scheduler is not None and cluster is not None:
        raise ValueError("give at most one of --scheduler and --cluster")
    if workers is not None:
        _positive_int("workers", workers)
    if scheduler is not None:
        if workers is not None:
            raise ValueError("--workers sizes a cluster this command starts; not with --scheduler")
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({reason})"
            ) from None
        return client, client.close
    if cluster is not None:
        jq = make_cluster(cluster, **(cluster_options or {}))
        jq.scale(jobs=workers or 1)
        client = Client(jq)

        def close_jq():
            client.close()
            jq.close()

        return client, close_jq
    n = workers or os.cpu_count() or 1
    lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)

    def close_local():
        client.close()
        lc.close()

    return client, close_local
