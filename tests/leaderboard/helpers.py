"""Hand-made RunRecords for leaderboard tests (real format, no runs)."""

from __future__ import annotations

from bench.records import RunRecord


def make_record(entry: str, problem: str, seed: int, calls: int | None, *, budget: int = 1000,
                suite: str = "smoke", version: str = "1", profile: str = "cpu", seconds: float | None = None,
                hardware_id: str = "hw0", status: str | None = None, sealed: bool = True,
                track: str = "custom", harness_version: str = "h1", instance_seed: int = 0,
                final_f: float | None = -0.02, f_star: float | None = -0.02,
                saddle_value: float | None = 0.0, created_at: str | None = None) -> RunRecord:
    family = problem.split(":")[0]
    certified = calls is not None
    cost = [0, 10, 100, calls if certified else budget]
    f = [0.0, -0.001, -0.01, -0.02]
    return RunRecord(
        entry=entry, entry_name=entry.split("[")[0], hparams={"lr": 0.01}, entry_source_hash="abc",
        oracle_class="first-order", problem=problem, family=family, dim=2, instance_seed=instance_seed,
        init_seed=seed, run_seed=seed, profile=profile, suite=suite, suite_version=version,
        status=status or ("certified" if certified else "budget_exhausted"),
        calls_to_sosp=calls, seconds_to_sosp=(seconds if seconds is not None else (calls or 0) / 1e4) if certified else None,
        escape_calls=(calls // 2 if certified else None), counts={"cost": calls or budget},
        eps_g=1e-3, eps_h=1e-2, budget=budget, saddle_value=saddle_value, f_star=f_star, final_f=final_f,
        trajectory={"cost": cost, "seconds": [0.0, 0.001, 0.01, 0.1], "f": f,
                    "grad_norm": [0.0, 0.1, 0.01, 0.001], "lambda_min": [-0.1, None, -0.05, 0.5]},
        hardware={"id": hardware_id, "cpu": "Test CPU", "cores": 2, "profile": profile},
        versions={"torch": "x"}, created_at=created_at or f"2026-01-01T00:00:{seed % 60:02d}+00:00",
        sealed=sealed, track=track, harness_version=harness_version)


def standard(entry: str, problem: str, seed: int, calls: int | None, **kw) -> RunRecord:
    """A record of the ranked board: suite standard v2, profile cpu, track tuned (by default)."""
    kw.setdefault("track", "tuned")
    return make_record(entry, problem, seed, calls, suite="standard", version="2", **kw)
