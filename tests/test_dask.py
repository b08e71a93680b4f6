"""The Dask route (wavelens.use_dask, --scheduler): the same results as the local run, on a 2-worker cluster.

The cluster is started as on real machines, with the `dask scheduler` and `dask worker`
commands, in processes of their own: a LocalCluster would leave its multiprocessing
resource tracker behind in this process, which other tests count as a leftover child.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import wavelens
from wavelens import WavelensError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(file)], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        started.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(file), "--nworkers", "2",
                                         "--nthreads", "1", "--no-dashboard"], **quiet))
        address = json.loads(file.read_text())["address"]
        with distributed.Client(address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


@pytest.fixture
def client(scheduler_address):
    with distributed.Client(scheduler_address, set_as_default=False) as client:
        yield client


def _figures(result):
    summary = result.to_dict()
    summary.pop("timings_s", None)
    return json.dumps(summary, sort_keys=True, default=str)


def _fashion_or_digits(limit):
    try:
        return wavelens.load_dataset("fashion-mnist", split="train", limit=limit)
    except WavelensError:
        return wavelens.load_dataset("digits")


def test_chunks_run_on_the_workers(client):
    from wavelens._parallel import for_each_chunk

    with wavelens.use_dask(client):
        pids = for_each_chunk(lambda start, stop: (os.getpid(), start, stop), 10, chunk_size=3)
    assert [(start, stop) for _, start, stop in pids] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert os.getpid() not in {pid for pid, _, _ in pids}
    assert len({pid for pid, _, _ in pids}) == 2  # both workers took chunks


def test_analyze_on_dask_gives_the_local_figures(client):
    dataset = _fashion_or_digits(6000)
    local = wavelens.analyze(dataset, random_repeats=3)
    with wavelens.use_dask(client):
        remote = wavelens.analyze(dataset, random_repeats=3)
    assert _figures(remote) == _figures(local)
    assert remote.per_image.equals(local.per_image)
    np.testing.assert_array_equal(remote.dictionary.prototypes, local.dictionary.prototypes)
    np.testing.assert_array_equal(remote.dataset_patterns.components, local.dataset_patterns.components)


def test_large_images_take_the_randomized_route_on_dask_too(client, rng):
    pixels = (rng.random((120, 6)) @ rng.random((6, 72 * 72)) * 40).astype(np.uint8).reshape(120, 72, 72)
    dataset = wavelens.from_arrays(pixels, np.arange(120) % 3)
    local = wavelens.analyze(dataset, n_patterns=8, random_repeats=2)
    with wavelens.use_dask(client):
        remote = wavelens.analyze(dataset, n_patterns=8, random_repeats=2)
    assert _figures(remote) == _figures(local)


def test_communities_on_dask_give_the_local_communities(client):
    dataset = wavelens.load_dataset("digits")
    local = wavelens.find_communities(dataset)
    with wavelens.use_dask(client):
        remote = wavelens.find_communities(dataset)
    assert remote.per_image.equals(local.per_image)


def test_the_command_line_runs_on_a_scheduler_address(scheduler_address, tmp_path):
    def run(*extra):
        out = tmp_path / f"out{len(extra)}"
        done = subprocess.run([sys.executable, "-m", "wavelens", "analyze", "digits", "--out", str(out),
                               "--no-report", "--quiet", *extra], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        summary = json.loads((out / "summary.json").read_text())
        summary.pop("timings_s")
        summary.pop("command")
        return summary, (out / "per_image.csv").read_bytes()

    assert run("--scheduler", scheduler_address) == run()


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "wavelens", "analyze", "digits", "--out", str(tmp_path / "out"),
                           "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wavelens: error: Cannot reach the Dask scheduler at "
                                                   "'tcp://127.0.0.1:9'"), done.stderr
    assert not (tmp_path / "out").exists()


def test_use_dask_wants_a_client_or_an_address():
    with pytest.raises(WavelensError, match=r"'client' parameter must be a dask.distributed.Client or a scheduler "
                                            r"address .* not int"):
        with wavelens.use_dask(3):
            pass


def test_the_images_go_to_the_workers_once(client, monkeypatch, rng):
    pixels = (rng.random((120, 6)) @ rng.random((6, 72 * 72)) * 40).astype(np.uint8).reshape(120, 72, 72)
    dataset = wavelens.from_arrays(pixels, np.arange(120) % 3)
    sent = []
    scatter = client.scatter

    def counting(data, **kwargs):
        sent.extend(data)
        return scatter(data, **kwargs)

    monkeypatch.setattr(client, "scatter", counting)
    with wavelens.use_dask(client):  # the randomized route: 11 passes over the images
        wavelens.analyze(dataset, n_patterns=8, random_repeats=2)
    arrays = [x for x in sent if isinstance(x, np.ndarray)]
    assert len(arrays) == 1 and arrays[0] is dataset.pixels


def test_each_chunk_sees_every_chunk_on_dask(client, rng):
    images = rng.random((300, 8, 8)).astype(np.float32)
    seen = []
    with wavelens.use_dask(client):
        wavelens.decompose_images(images, chunk_size=64, each_chunk=lambda chunk: seen.append(len(chunk)))
    assert sorted(seen) == [44, 64, 64, 64, 64]


def test_an_empty_scheduler_address_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "wavelens", "analyze", "digits", "--out", str(tmp_path / "out"),
                           "--scheduler", " "], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("wavelens: error: The Dask scheduler address is empty; give one such as "
                           "'tcp://host:8786'.\n"), done.stderr
    assert not (tmp_path / "out").exists()


def test_audit_on_dask_gives_the_local_table(client):
    data = _fashion_or_digits(3000)
    checks = ["label_errors", "outliers", "classes"]
    local = wavelens.audit(data, checks=checks)
    with wavelens.use_dask(client):
        remote = wavelens.audit(data, checks=checks)
    assert remote.per_image.equals(local.per_image)
