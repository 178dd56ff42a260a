"""README.md's tour is executed: every line of its ```bash block runs, in order, in a clone of
this repository, on the smoke suite, so the tour cannot promise a command that fails.

What the test changes, and only that (each change must apply, or the test fails):

* ``--suite standard`` becomes ``--suite smoke``, and a ``bench run`` with neither a suite nor a
  problem (the quick suite) gets ``--suite smoke``; the sweep on one problem gets ``--budget
  2000``; ``bench tune`` gets ``--trials 2`` (seconds instead of hours);
* ``my_opt.py:MyOptimizer`` is written into the clone first (a small torch optimizer);
* ``tcp://HOST:8786`` is a real local Dask cluster (2 worker processes);
* ``bench throughput`` gets ``--quick`` (tiny sizes);
* ``bench leaderboard serve`` is started in the background and must answer on its page;
* ``bench reproduce D1`` must run nothing: the committed runs of the claim are complete for
  this code (they are re-measured and re-judged);
* ``bench validate --since origin/main`` on a clone with no change must say there is nothing to
  validate (exit 2): what it checks on a branch with a new entry runs in
  tests/test_submitting_doc.py and tests/bench/test_validate.py.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```bash\n(.*?)^```\s*$", re.M | re.S)
MY_OPT = '''import torch


class MyOptimizer(torch.optim.Optimizer):
    """Plain gradient descent, as a user's optimizer."""

    def __init__(self, params, lr=0.05):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"])
        return loss
'''


def tour_lines(readme: str) -> list[str]:
    """The commands of the README's tour block (the bash block under "A 60-second tour")."""
    section = readme[readme.index("## A 60-second tour"):]
    body = FENCE.search(section).group(1)
    return [line.split("  #")[0].strip() for line in body.splitlines() if line.strip()]


def adapt(line: str, scheduler: str) -> tuple[list[list[str]], str]:
    """(argv lists to run in order, what kind of check applies) for one tour line."""
    if line == "bench leaderboard build && bench leaderboard serve":
        return [["bench", "leaderboard", "build"]], "serve"
    argv = shlex.split(line)
    assert argv[0] == "bench", line
    kind = "run"
    if argv[1] == "run":
        if "tcp://HOST:8786" in argv:
            argv[argv.index("tcp://HOST:8786")] = scheduler
        if "--suite" in argv:
            argv[argv.index("--suite") + 1] = "smoke"
        elif "-p" not in argv and "--problem" not in argv:
            argv += ["--suite", "smoke"]
        else:
            argv += ["--budget", "2000"]
    elif argv[1] == "tune":
        argv[argv.index("--suite") + 1] = "smoke"
        argv += ["--trials", "2"]
    elif argv[1] == "throughput":
        argv += ["--quick"]
    elif argv[1] == "validate":
        kind = "validate"
    elif argv[1] == "reproduce" and "--list" not in argv:
        kind = "reproduce"
    return [argv], kind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_serve(cmd: list[str], cwd: pathlib.Path, env: dict, port: int) -> None:
    """Start ``bench leaderboard serve`` and read its home page."""
    server = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        page = ""
        for _ in range(100):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/").read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "SaddleBench" in page
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_every_tour_command_runs_in_a_clone(tmp_path):
    import distributed

    lines = tour_lines((ROOT / "README.md").read_text())
    assert any("--scheduler" in line for line in lines) and any("serve" in line for line in lines)
    clone = tmp_path / "saddlebench"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # origin/main as a fork's clone has it (a CI checkout's clone may lack the branch)
    subprocess.run(["git", "-C", str(clone), "update-ref", "refs/remotes/origin/main", "HEAD"],
                   check=True)
    (clone / "my_opt.py").write_text(MY_OPT)
    env = {**os.environ, "PYTHONPATH": str(clone), "SADDLEBENCH_CACHE": str(tmp_path / "cache"),
           "COLUMNS": "100"}
    bench = [sys.executable, "-m", "bench"]
    port = _free_port()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit=0) as cluster:
        for line in lines:
            cmds, kind = adapt(line, cluster.scheduler_address)
            for cmd in cmds:
                out = subprocess.run(bench + cmd[1:], cwd=clone, env=env, capture_output=True,
                                     text=True, timeout=600)
                if kind == "validate":
                    assert out.returncode == 2 and "nothing to validate" in out.stderr, line
                    continue
                assert out.returncode == 0, f"{line}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
                assert "Traceback" not in out.stderr, line
                if kind == "reproduce":  # the committed runs are complete: nothing re-runs
                    assert " 0 to run)" in out.stderr and "(full scale): " in out.stdout, line
            if kind == "serve":
                _check_serve(bench + ["leaderboard", "serve", "--port", str(port)], clone, env, port)
    stored = {p.name for p in (clone / "bench-results").rglob("*.jsonl")}
    assert {"adam.jsonl", "sgd-momentum.jsonl"} <= stored
    assert any(name.startswith("MyOptimizer_") for name in stored)  # the file entry's label
