r"""D7: the stochastic primal averaging (SPA) form is SGD with heavy-ball momentum (Defazio 2020).

SPA: :math:`z_{k+1} = z_k - \eta_k g(x_k)`, :math:`x_{k+1} = (1-c_{k+1})x_k + c_{k+1}z_{k+1}`,
:math:`z_0 = x_0` (``optimizers/spa.py``). Constant case: SPA(:math:`\eta=\alpha/(1-\beta)`,
:math:`c=1-\beta`) against ``torch.optim.SGD(lr=alpha, momentum=beta)``. Time-varying case:
SPA(:math:`\eta_k, c_{k+1}`) is Polyak's heavy ball with :math:`\alpha_k = c_{k+1}\eta_k`,
:math:`\beta_k = c_{k+1}(1-c_k)/c_k` (:math:`c_0 := 1`), which is torch's form with lr
:math:`\alpha_k` and momentum :math:`\mu_k = \beta_k\alpha_{k-1}/\alpha_k`. An algebraic identity:
run in-process on the problems' own sample oracle, every variant fed the same index stream.

Rounding floor: Polyak's update :math:`w_{k+1}=w_k-\alpha_k g_k+\beta_k(w_k-w_{k-1})`, written
out, is another exact rewrite of the same recurrence; its distance to torch SGD is what rounding
alone produces along these trajectories.
"""

from __future__ import annotations

import math

from bench.claims import Check, Claim, Measurement, Plot, Series, in_processes

ALPHA_BETA = {"reddi2d:canonical": (1e-3, 0.9), "mlp-digits:small": (1e-3, 0.9)}
ABS_TOL_F64 = 1e-10
REL_TOL_F32 = 1e-4
EPS = {"float64": 2.0 ** -52, "float32": 2.0 ** -23}  # machine epsilons



def schedule(steps: int, alpha: float, beta: float) -> tuple[list[float], list[float]]:
    """Time-varying SPA parameters (eta_k, c_{k+1}), k < steps: c rises from 1-beta to 5(1-beta)
    (momentum beta -> 1 - 5(1-beta)) with a periodic wobble, eta halves at mid-run and wobbles."""
    etas, cs = [], []
    c0 = 1.0 - beta
    for k in range(steps):
        s = k / steps
        cs.append(c0 * (1.0 + 4.0 * s) * (1.0 + 0.2 * math.sin(2 * math.pi * k / 997)))
        etas.append(alpha / c0 * (1.0 if s < 0.5 else 0.5) * (1.0 + 0.3 * math.cos(2 * math.pi * k / 613)))
    return etas, cs


def compare(problem_id: str, dtype: str, steps: int, seeds: int, log_at=()):
    """Run torch SGD, the Polyak rewrite and SPA, constant and time-varying cases side by side.

    One (6S, d) block holds, per case, S rows each of SGD, Polyak and SPA (the optimizers'
    params are views of it, so one batched oracle call per step serves all). Returns per case
    the maxima over steps of max |x_k - w_k| (``abs``) and of that over max |w_k| (``rel``),
    for SPA and for Polyak (``floor_*``), mean f at the start and the end, and per step of
    ``log_at`` the running maxima of ``rel`` (SPA, then Polyak, over both cases)."""
    import torch

    from optimizers.spa import SPA, spa_to_polyak
    from problems import make_problem

    torch.set_num_threads(1)
    dtype = getattr(torch, dtype)
    p = make_problem(problem_id, 0, dtype=dtype)
    alpha, beta = ALPHA_BETA[problem_id]
    S = seeds
    w0 = torch.stack([p.initial_point(s) for s in range(S)])
    samples = torch.stack([p.draw(torch.Generator().manual_seed(1000 + s), steps)
                           for s in range(S)], dim=1)  # (steps, S, batch): one stream per seed
    block = torch.cat([w0] * 6)
    views = block.view(2, 3, S, -1)  # [case, variant (sgd, polyak, spa), seed, coordinate]
    sgd_params = [views[c, 0] for c in (0, 1)]
    spa_params = [views[c, 2] for c in (0, 1)]
    sgd = torch.optim.SGD([{"params": [q]} for q in sgd_params], lr=alpha, momentum=beta)
    spa = SPA([{"params": [q]} for q in spa_params], **SPA.from_pytorch(alpha, beta))
    prev = views[:, 1].clone()  # Polyak's w_{k-1} (w_{-1} = w_0)
    etas, cs = schedule(steps, alpha, beta)
    alphas, pol = spa_to_polyak(etas, cs)
    m_abs = torch.zeros(2, 2, dtype=dtype)  # [case, (polyak, spa)]
    m_rel = torch.zeros(2, 2, dtype=dtype)
    log = []
    for k in range(steps):
        mu = beta if k == 0 else pol[k] * alphas[k - 1] / alphas[k]  # torch form of Polyak's
        sgd.param_groups[1].update(lr=alphas[k], momentum=mu)
        spa.param_groups[1].update(lr=etas[k], c=cs[k])
        grads = p.sample_loss_grad_rows(block, samples[k].repeat(6, 1))[1].view(2, 3, S, -1)
        for c in (0, 1):
            sgd_params[c].grad, spa_params[c].grad = grads[c, 0], grads[c, 2]
        w = views[:, 1].clone()
        for c, (a, b) in enumerate(((alpha, 0.0 if k == 0 else beta), (alphas[k], pol[k]))):
            views[c, 1].add_(grads[c, 1], alpha=-a).add_(w[c] - prev[c], alpha=b)
        prev = w
        sgd.step()
        spa.step(lambda: None)
        diff = (views[:, 1:] - views[:, :1]).abs().amax(dim=(2, 3))
        m_abs = torch.maximum(m_abs, diff)
        m_rel = torch.maximum(m_rel, diff / views[:, 0].abs().amax(dim=(1, 2))[:, None])
        if k + 1 in log_at:
            log.append([k + 1, float(m_rel[:, 1].max()), float(m_rel[:, 0].max())])
    f = p.loss_rows(block).view(2, 3, S)
    out = {}
    for c, case in enumerate(("constant", "varying")):
        out[case] = {"abs": float(m_abs[c, 1]), "rel": float(m_rel[c, 1]),
                     "floor_abs": float(m_abs[c, 0]), "floor_rel": float(m_rel[c, 0]),
                     "f_start": float(p.loss_rows(w0).mean()), "f_end": float(f[c, 0].mean()),
                     "f_escape": p.saddle.value - p.saddle.escape_delta}
    return out, log


CONFIGS = [(pid, dt) for pid in ALPHA_BETA for dt in ("float64", "float32")]


def _run(args):
    problem_id, dtype, steps, seeds = args
    return compare(problem_id, dtype, steps, seeds, log_at=_log_steps(steps))


def _log_steps(steps: int) -> set[int]:
    return {min(steps, round(10 ** (i / 4))) for i in range(4 * int(math.log10(steps)) + 1)}


class SPAEqualsMomentum(Claim):
    id = "D7"
    title = "The primal-averaging (SPA) form is SGD with heavy-ball momentum"
    source = "Defazio (arXiv:2010.00406, 2020), the primal-averaging form of momentum"
    statement = ("Stochastic primal averaging, z_{k+1} = z_k - eta_k g(x_k), x_{k+1} = (1 - c_{k+1}) "
                 "x_k + c_{k+1} z_{k+1}, has exactly the iterates of heavy-ball SGD: with constant "
                 "parameters eta = alpha/(1-beta), c = 1-beta gives torch SGD(lr alpha, momentum "
                 "beta); with time-varying ones it is Polyak's heavy ball with alpha_k = c_{k+1} "
                 "eta_k and beta_k = c_{k+1}(1-c_k)/c_k (c_0 = 1). Momentum is an average of SGD "
                 "steps.")
    setting = ("reddi2d:canonical and mlp-digits:small (h = 4, batch 1), instance 0, start seeds 0-1; "
               "alpha = 1e-3, beta = 0.9 (effective step 1e-2); 1e5 steps; the SPA entry "
               "(optimizers/spa.py) against torch.optim.SGD with momentum and against Polyak's "
               "update written out, all fed one shared index stream per seed through the problems' "
               "batched sample oracle, in float64 and in float32. Time-varying case: c_{k+1} rises "
               "linearly from 0.1 to 0.5 with a 20% periodic wobble, eta_k halves at mid-run and "
               "wobbles by 30%; torch SGD gets lr alpha_k and momentum beta_k alpha_{k-1}/alpha_k "
               "(its PyTorch form). An algebraic identity, run in-process (no sealed runs).")
    metric = ("max over steps and coordinates of |x_k - w_k| (SPA vs torch SGD), absolute and "
              "relative to max |w_k|; the same for Polyak's rewrite vs torch SGD, the rounding floor "
              "of an exact rewrite of one recurrence.")
    expected = ("float64: max |x_k - w_k| <= 1e-10 over 1e5 steps; float32: relative difference "
                "<= 1e-4 (a threshold to be confirmed); no systematic drift: SPA's difference no "
                "larger than 10x the Polyak rewrite's (or 10 machine epsilons).")

    def _plan(self, scale: str):
        return {"steps": 500 if scale == "reduced" else 100_000, "seeds": 1 if scale == "reduced" else 2}

    def measure(self, records, scale):
        plan = self._plan(scale)
        jobs = [(pid, dt, plan["steps"], plan["seeds"]) for pid, dt in CONFIGS]
        results = in_processes(_run, jobs)
        values, table, series = {"scale": scale, "runs": {}}, [], []
        for (pid, dt, *_), (out, log) in zip(jobs, results):
            values["runs"][f"{pid} {dt}"] = out
            for case, o in out.items():
                table.append({"problem": pid, "dtype": dt, "case": case,
                              "SPA - SGD max abs": o["abs"], "SPA - SGD max rel": o["rel"],
                              "Polyak - SGD max abs": o["floor_abs"],
                              "Polyak - SGD max rel": o["floor_rel"],
                              "f start": o["f_start"], "f end": o["f_end"]})
            steps = [r[0] for r in log]
            series.append(Series(f"{pid} {dt}: SPA", steps, [r[1] for r in log]))
            series.append(Series(f"{pid} {dt}: Polyak rewrite", steps, [r[2] for r in log],
                                 highlight=False))
        notes = ["Both cases of a problem and dtype run in one batch: one oracle call per step "
                 "answers every variant's row, so all see the same sample of the shared stream.",
                 "The plot is the running maximum of the relative difference over both cases."]
        return Measurement(values, table, series,
                           Plot("step", "max |x_k - w_k| / max |w_k| so far", xscale="log",
                                yscale="log", hlines={"float32 threshold": REL_TOL_F32}), notes)

    def checks(self, m):
        runs = m.values["runs"]
        out = []
        for pid in ALPHA_BETA:
            r64, r32 = runs.get(f"{pid} float64", {}), runs.get(f"{pid} float32", {})
            worst = max((o["abs"] for o in r64.values()), default=None)
            out.append(Check(f"{pid}, float64: max |SPA - SGD| (constant, time-varying)",
                             f"<= {ABS_TOL_F64:g}", _fmt(r64, "abs"),
                             worst is not None and worst <= ABS_TOL_F64))
            worst = max((o["rel"] for o in r32.values()), default=None)
            out.append(Check(f"{pid}, float32: max relative |SPA - SGD|", f"<= {REL_TOL_F32:g}",
                             _fmt(r32, "rel"), worst is not None and worst <= REL_TOL_F32))
            drift = [f"{dt} {case}" for dt, r in (("float64", r64), ("float32", r32))
                     for case, o in r.items()
                     if o["rel"] > 10 * max(o["floor_rel"], EPS[dt])]
            out.append(Check(f"{pid}: no drift beyond rounding",
                             "SPA - SGD <= 10x (Polyak rewrite - SGD) in every run",
                             "none" if not drift else "larger in " + ", ".join(drift),
                             bool(r64 and r32) and not drift))
            if m.values["scale"] == "full":
                stuck = [f"{dt} {case}" for dt, r in (("float64", r64), ("float32", r32))
                         for case, o in r.items() if not o["f_end"] <= o["f_escape"]]
                out.append(Check(f"{pid}: the compared trajectories leave the saddle",
                                 "final f below the escape level in every run",
                                 "all" if not stuck else "not in " + ", ".join(stuck),
                                 bool(r64 and r32) and not stuck))
        return out


def _fmt(runs: dict, key: str) -> str:
    return ", ".join(f"{case} {o[key]:.2g}" for case, o in runs.items()) or "-"


CLAIM = SPAEqualsMomentum()
