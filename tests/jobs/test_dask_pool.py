"""The Dask executor: a real ``dask scheduler`` and ``dask worker`` processes on
loopback (one of them killed mid-run) and a LocalCluster give results byte-identical
to the local process pool, for the parameter search and the Monte Carlo job."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytaaa.config import load_config
from pytaaa.jobs.dask_pool import DaskPool, DaskUnavailable, check_address
from pytaaa.jobs.executors import LocalPool
from pytaaa.models.optimize import draw_search, load_prices, run_search
from pytaaa.models.optimize_out import folds_csv_text, trials_csv_text
from pytaaa.montecarlo.outputs import MC_CSV_FILE, MC_PARAMS_FILE
from pytaaa.montecarlo.start import start_montecarlo
from pytaaa.montecarlo.trials import prepare

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str, log: Path) -> subprocess.Popen:
    fh = open(log, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        fh.close()


@contextlib.contextmanager
def cluster(tmp_path: Path, n_workers: int = 2) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A scheduler and ``n_workers`` single-threaded workers (no nanny) on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                   log=tmp_path / "scheduler.log")]
    workers = [_dask("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--host", "127.0.0.1", log=tmp_path / f"worker{i}.log")
               for i in range(n_workers)]
    procs += workers
    try:
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=90)
        yield address, workers
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture(scope="module")
def search_inputs(synth_workspace: Path):
    cfg = load_config(synth_workspace)
    prices = load_prices(cfg)
    return prices, prepare(prices, cfg.valuation), draw_search(cfg.valuation, 40, 9)


@pytest.fixture(scope="module")
def local_csv(search_inputs) -> tuple[str, str]:
    prices, data, params = search_inputs
    res = run_search(data, params, pool=LocalPool(2), in_years=3, out_years=1)
    return trials_csv_text("HMAs", res), folds_csv_text(res, prices.dates)


def test_real_scheduler_and_workers_one_killed_mid_run_same_bytes(
        tmp_path: Path, search_inputs, local_csv) -> None:
    prices, data, params = search_inputs
    with cluster(tmp_path) as (address, workers):
        seen: list[object] = []

        def on_result(item: object) -> None:
            seen.append(item)
            if len(seen) == 5:
                workers[0].kill()  # SIGKILL: the worker vanishes with its in-flight trials

        with DaskPool(address) as pool:
            assert pool.workers == 2 and "scheduler tcp://127.0.0.1" in pool.label
            res = run_search(data, params, pool=pool, on_result=on_result, in_years=3,
                             out_years=1)
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
        assert not res.errors and [r.index for r in res.results] == list(range(40))
        assert (trials_csv_text("HMAs", res), folds_csv_text(res, prices.dates)) == local_csv


def test_local_cluster_same_bytes(search_inputs, local_csv) -> None:
    prices, data, params = search_inputs
    with DaskPool("local", workers=2) as pool:
        assert "LocalCluster" in pool.label and not pool.local_files
        res = run_search(data, params, pool=pool, in_years=3, out_years=1)
    assert (trials_csv_text("HMAs", res), folds_csv_text(res, prices.dates)) == local_csv


def test_montecarlo_job_on_the_cluster_matches_the_local_pool(tmp_path: Path,
                                                               synth_workspace: Path) -> None:
    def config(folder: Path):
        data = json.loads(synth_workspace.read_text())
        v = data["Valuation"]
        v["symbols_file"] = str(synth_workspace.parent / v["symbols_file"])
        v.update(performance_store=str(folder / "perf"), webpage=str(folder / "web"),
                 montecarlo_trials=6)
        folder.mkdir()
        (folder / "c.json").write_text(json.dumps(data))
        return load_config(folder / "c.json")

    local, remote = config(tmp_path / "local"), config(tmp_path / "remote")
    assert start_montecarlo(local, sync=True, force=True).exit_code == 0
    with cluster(tmp_path, 2) as (address, _):
        res = start_montecarlo(remote, sync=True, force=True, scheduler=address)
    assert res.exit_code == 0, res.reason
    log = (remote.webpage / "montecarlo_backtest.log").read_text()
    assert f"Dask scheduler: {address}" in log and "Dask: 2 worker(s)" in log
    for name in (MC_CSV_FILE, MC_PARAMS_FILE):
        assert (remote.performance_store / name).read_bytes() == \
            (local.performance_store / name).read_bytes()


def test_bad_or_unreachable_scheduler_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="invalid Dask scheduler address 'http://x'"):
        check_address("http://x")
    assert check_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert check_address("node7:8786") == "node7:8786"
    with pytest.raises(DaskUnavailable, match="cannot reach the Dask scheduler"):
        DaskPool(f"tcp://127.0.0.1:{free_port()}", timeout=2)
