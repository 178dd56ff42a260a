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


# ---------------------------------------------------------------------------- claims
from bench.claims import Check, Claim, Measurement, Plot, Series  # noqa: E402


class TinyClaim(Claim):
    """A real claim of the framework with nothing to run: its measurement is made up, its checks
    pass or fail as ``outcomes`` says. Its text holds what Markdown would misread (stars, pipes,
    underscores) and TeX between dollars."""

    title = "Momentum *helps*: T_esc falls as $\\beta$ grows | a tiny claim"
    source = "Tiny, Test (2026), Fig. 1"
    statement = ("With $\\beta \\to 1$ the escape time T_esc falls like (1 - beta).\n\n"
                 "A second paragraph, with ``code`` and a **bold** word.")
    setting = "reddi2d:canonical; sgd-momentum[lr=5e-5]; 3 seeds"
    metric = "median T_esc over runs, $\\lambda_{\\min}$ at the end"
    expected = "decreasing in beta, T(0.9)/T(0) about 0.1"

    def __init__(self, cid: str, outcomes: tuple[bool, ...], plot: bool = True):
        self.id = cid
        self.outcomes = outcomes
        self.with_plot = plot

    def measure(self, records, scale):
        betas = [0.0, 0.5, 0.9]
        series = [Series("measured (median)", betas, [1.2e6, 6e5, None]),
                  Series("reference (numpy)", betas, [1e6, 5e5, 1e5], highlight=False)]
        return Measurement({"t": dict(zip(map(str, betas), [1.2e6, 6e5, None]))},
                           [{"beta": b, "runs": 3, "T_esc median": t, "escaped": e}
                            for b, t, e in zip(betas, [1.2e6, 6e5, None], [1.0, 1.0, 0.5])],
                           series if self.with_plot else [],
                           Plot("beta (momentum)", "median T_esc (sample gradients)", yscale="log",
                                hlines={"budget": 4e6}) if self.with_plot else None,
                           ["Censored at beta 0.9: half the runs | did not escape."])

    def checks(self, m):
        names = ["T_esc decreasing in beta", "T(0.9) / T(0) near 0.1", "every run escapes"]
        return [Check(names[i % 3], "decreasing" if i == 0 else "0.1 within x1.5",
                      "1.2e+06, 6e+05, censored", ok) for i, ok in enumerate(self.outcomes)]


def write_tiny_results(root) -> dict[str, str]:
    """Results of three tiny claims under ``root`` (partly with a plot, not reproduced without
    one, reproduced) and a reduced one that must never be published; returns id -> verdict."""
    import pathlib

    from bench.claims import result_data, result_path, write_result

    root = pathlib.Path(root)
    records = [make_record("sgd-momentum[momentum=0.9]", "reddi2d:canonical", s, 100 + s,
                           suite="claim-D901") for s in range(3)]
    out = {}
    for claim in (TinyClaim("D901", (True, False, True)), TinyClaim("D902", (False, False), plot=False),
                  TinyClaim("D903", (True, True))):
        m = claim.measure(records, "full")
        data = result_data(claim, "full", m, claim.checks(m), records, 1.5)
        write_result(result_path(root, claim.id, "full"), data)
        out[claim.id] = data["verdict"]
    reduced = TinyClaim("D904", (True,))
    m = reduced.measure([], "reduced")
    write_result(result_path(root, "D904", "reduced"), result_data(reduced, "reduced", m,
                                                                  reduced.checks(m), [], 0.1))
    return out
