r"""D6: momentum enlarges the fluctuation near a minimum unless it is annealed (Liu et al. 2018).

Heavy ball in PyTorch form (:math:`m_t=\beta_t m_{t-1}+g_t`, :math:`w_{t+1}=w_t-\eta m_t`): a
quadratic direction of curvature h and gradient-noise variance :math:`\sigma^2` adds
:math:`e_\beta=\eta\sigma^2(1+\beta)/(2(1-\beta)(2(1+\beta)-\eta h))` (h/2 times its stationary
variance) to :math:`\mathbb E[f-f^\star]`, about :math:`1/(1-\beta)` times the :math:`\beta=0`
value; a problem's prediction sums it over the Hessian's eigendirections at the minimum.
"""

from __future__ import annotations

import math
import statistics

from bench.claims import (Check, Claim, Measurement, Plot, Series, in_processes, quantiles,
                          within_factor)

P1_PROBLEMS = ("reddi2d:canonical", "quad-saddle:medium")
P1_ETA, P1_BETAS = 5e-4, (0.0, 0.5, 0.9)
P2_PROBLEM, P2_ETA = "reddi2d:canonical", 5e-5
P2_CONFIGS = ("beta 0.9", "beta 0", "anneal 0.9->0 at T/2")
RATIO_FACTOR = 1.2  # measured / predicted tail ratio
P2_FACTOR = 1.5  # anneal vs beta 0.9 (escape) and vs beta 0 (tail)
BLOCKS = 100  # part 2: f - f* averaged over T/BLOCKS steps (plot, T_opt)
PLANS = {"full": {"p1_steps": 1_000_000, "p1_seeds": (16, 8), "p2_steps": 2_000_000,
                  "p2_seeds": 16, "every": 50, "p2_eta": P2_ETA},
         "reduced": {"p1_steps": 5_000, "p1_seeds": (4, 2), "p2_steps": 8_000, "p2_seeds": 4,
                     "every": 20, "p2_eta": 1e-2}}


def minimum(p):
    """A global minimum (Newton on the exact oracle from u = +u* on the negative directions,
    0 elsewhere) and its gradient norm."""
    import torch

    u = torch.zeros(p.dim, dtype=torch.float64)
    u[torch.diagonal(p.hessian(u)) < 0] = getattr(p, "u_star", 0.56)
    w = u if getattr(p, "Q", None) is None else p.Q @ u
    for _ in range(20):
        w = w - torch.linalg.solve(p.hessian(w), p.grad(w))
    return w, float(p.grad(w).norm())


def predicted(p, w, eta: float, betas) -> dict[str, float]:
    """Predicted stationary E[f - f*] per beta: the sum of e_beta over the Hessian's
    eigendirections at w, with the exact covariance of one oracle call's gradient noise."""
    import torch

    if hasattr(p, "noise_std"):  # quad-saddle, population oracle
        cov = torch.diag(p.noise_std ** 2)
        cov = cov if p.Q is None else p.Q @ cov @ p.Q.T
    else:  # reddi2d: b_i of one uniform index
        b = p.b - p.b.mean(dim=0)
        cov = b.T @ b / b.shape[0]
    h, V = torch.linalg.eigh(p.hessian(w))
    s2 = torch.diagonal(V.T @ cov @ V)
    return {str(b): float((eta * s2 * (1 + b) / (2 * (1 - b) * (2 * (1 + b) - eta * h))).sum())
            for b in betas}


def simulate(problem_id: str, start, groups: list[dict], steps: int, seeds: int, every: int,
             seed0: int, shared: bool):
    """Each param group (hyperparameters) on ``seeds`` rows from ``start`` (None: the problem's
    start), one optimizer: the momentum-annealing entry if the groups name a ``schedule``, else
    torch.optim.SGD. ``shared``: group g's row s sees seed s's stream, else its own. Returns
    f - f* at every ``every``-th step, shaped (evaluations, groups, seeds)."""
    import torch

    from optimizers.momentum_annealing import MomentumAnnealing
    from problems import make_problem

    torch.set_num_threads(1)
    p = make_problem(problem_id, 0)
    C, S = len(groups), seeds
    w0 = torch.stack([p.initial_point(s) if start is None else start for s in range(S)])
    block = torch.cat([w0] * C)
    params = list(block.view(C, S, -1))  # one view per group: the optimizer's params
    cls = MomentumAnnealing if "schedule" in groups[0] else torch.optim.SGD
    opt = cls([{"params": [q], **g} for q, g in zip(params, groups)])
    gens = [torch.Generator().manual_seed(seed0 + i) for i in range(S if shared else C * S)]
    out, chunk, t = [], 2000, 0
    while t < steps:
        n = min(chunk, steps - t)
        samples = torch.stack([p.draw(g, n) for g in gens], dim=1)  # (n, streams, ...)
        for k in range(n):
            sk = samples[k].repeat(C, *[1] * (samples.ndim - 2)) if shared else samples[k]
            grads = p.sample_loss_grad_rows(block, sk)[1].view(C, S, -1)
            for q, g in zip(params, grads):
                q.grad = g
            opt.step(lambda: None)
            t += 1
            if t % every == 0:
                out.append(p.loss_rows(block) - p.f_star)
    return torch.stack(out).view(-1, C, S)


def _job(args):
    """("p1", problem, steps, seeds, every) or ("p2", steps, seeds, every, eta): per
    (configuration, seed) summaries of f - f*, and what the checks need."""
    import torch

    from problems import make_problem

    if args[0] == "p1":
        _, pid, steps, seeds, every = args
        p = make_problem(pid, 0)
        w, gnorm = minimum(p)
        groups = [{"lr": P1_ETA, "momentum": b, "foreach": False} for b in P1_BETAS]
        f = simulate(pid, w, groups, steps, seeds, every, 0, True)
        return {"tails": f[len(f) // 10:].mean(dim=0).tolist(), "grad_norm": gnorm,
                "gap_start": float(p.loss(w)) - p.f_star,
                "predicted": predicted(p, w, P1_ETA, P1_BETAS)}
    _, steps, seeds, every, eta = args
    p = make_problem(P2_PROBLEM, 0)
    w, _ = minimum(p)
    groups = [{"lr": eta, "momentum": b, "momentum_end": 0.0, "schedule": s, "t1_frac": 0.5,
               "total_steps": steps}
              for b, s in ((0.9, "constant"), (0.0, "constant"), (0.9, "step"))]
    f = simulate(P2_PROBLEM, None, groups, steps, seeds, every, 1000, False)
    level = p.saddle.value - p.saddle.escape_delta - p.f_star
    below = f <= level
    first = torch.where(below.any(dim=0), below.double().argmax(dim=0) + 1, 0) * every  # 0: never
    E = len(f) // BLOCKS * BLOCKS
    return {"escape": first.tolist(), "tails": f[E - E // 10:E].mean(dim=0).tolist(),
            "blocks": f[:E].view(BLOCKS, -1, *f.shape[1:]).mean(dim=1).tolist(),
            "block_steps": E // BLOCKS * every, "level": level,
            "predicted": predicted(p, w, eta, (0.0, 0.9))}


class MomentumNearOptima(Claim):
    id = "D6"
    title = "Momentum hurts convergence near optima unless it is annealed"
    source = ("Liu, Chen, Zhou, Zhao, Toward deeper understanding of nonconvex stochastic "
              "optimization with momentum using diffusion approximations (arXiv:1802.05155, 2018)")
    statement = ("Heavy-ball momentum beta acts like a step amplified by 1/(1-beta): it shortens "
                 "the escape from saddles but enlarges the fluctuation around a minimum by about "
                 "1/(1-beta), unless the step or the momentum is annealed; annealing the momentum "
                 "(high while escaping, low near the minimum) gets both.")
    setting = ("In-process (part 1 starts at a minimum and runs far past the SOSP, part 2 needs f "
               "along the whole path; neither is a counted cost): the rows of one float64 block "
               "are independent runs fed by the problem's batched sample oracle (instance 0), f "
               "evaluated with the exact oracle every 50 steps. Part 1: reddi2d:canonical (16 "
               "seeds) and quad-saddle:medium (d = 100, k = 5, axis-aligned; 8 seeds) from a "
               "global minimum w* (u = +u* on the negative directions, Newton-polished), "
               "torch.optim.SGD lr 5e-4, momentum 0, 0.5, 0.9 (a seed's three runs share its "
               "sample stream), 1e6 steps. Part 2: reddi2d:canonical from the saddle w = 0, lr "
               "5e-5, T = 2e6, 16 seeds per configuration on independent streams: the "
               "momentum-annealing entry (three param groups) with schedule constant at 0.9 and "
               "at 0 (torch SGD's update) and schedule step (0.9, then 0 from t1 = T/2).")
    metric = ("Part 1: f - f* averaged over the last 90% of the steps and over seeds; its ratio to "
              "beta 0 against sum_j e_beta / sum_j e_0 over the Hessian eigendirections at w*, "
              "e_beta = eta s_j^2 (1+beta) / (2(1-beta)(2(1+beta) - eta h_j)) (curvature h_j, "
              "noise variance s_j^2 of one call along v_j). Part 2: escape time (first evaluated "
              "step with f <= f_s - Delta_esc; median over seeds), tail f - f* (last 10% of T), "
              "T_opt(eps_f) (first step where the seed mean of f - f* over a block of T/100 steps "
              "is <= eps_f, the geometric mean of the predicted floors of beta 0 and 0.9).")
    expected = ("Part 1 (a reference value measured with an independent numpy implementation): "
                "ratio (1+beta)(2-eta h)/((1-beta)(2(1+beta)-eta h)) per direction, about 2 (beta "
                f"0.5) and 10 (beta 0.9); measured within x{RATIO_FACTOR} of the prediction, and "
                "beta 0.9 > 0.5 > 0. Part 2: the annealed run escapes like beta 0.9 (median within "
                f"x{P2_FACTOR}), ends at the floor of beta 0 (tail within x{P2_FACTOR}) and has "
                "the smallest T_opt(eps_f).")

    def measure(self, records, scale):
        plan = PLANS[scale]
        every, T = plan["every"], plan["p2_steps"]
        jobs = [("p2", T, plan["p2_seeds"], every, plan["p2_eta"])]
        jobs += [("p1", pid, plan["p1_steps"], S, every)
                 for pid, S in zip(P1_PROBLEMS, plan["p1_seeds"])]
        r2, *r1 = in_processes(_job, jobs)
        values = {"scale": scale, "part1": {}, "part2": {}}
        table, series = [], []
        for pid, r in zip(P1_PROBLEMS, r1):
            tails, pred = r["tails"], r["predicted"]  # tails[beta][seed]
            v = values["part1"][pid] = {"grad_norm_start": r["grad_norm"],
                                        "gap_start": r["gap_start"], "betas": {}}
            for b, tail in zip(P1_BETAS, tails):
                per_seed = [x / y for x, y in zip(tail, tails[0])]
                v["betas"][str(b)] = x = {
                    "tail": statistics.fmean(tail), "predicted_tail": pred[str(b)], "tails": tail,
                    "ratio": statistics.fmean(tail) / statistics.fmean(tails[0]),
                    "predicted_ratio": pred[str(b)] / pred["0.0"]}
                table.append({"part": "1", "problem": pid, "config": f"beta {b:g}",
                              "seeds": len(tail), "tail f - f*": x["tail"],
                              "predicted f - f*": pred[str(b)], "ratio to beta 0": x["ratio"],
                              "predicted ratio": x["predicted_ratio"],
                              "per-seed ratio range": f"{min(per_seed):.3g}-{max(per_seed):.3g}"})
        S, W = plan["p2_seeds"], r2["block_steps"]
        floor0, floor9 = r2["predicted"]["0.0"], r2["predicted"]["0.9"]
        eps_f = math.sqrt(floor0 * floor9)
        p2 = values["part2"] = {"eps_f": eps_f, "level": r2["level"], "T": T, "configs": {}}
        for c, name in enumerate(P2_CONFIGS):
            esc = [math.inf if e == 0 else e for e in r2["escape"][c]]
            tails = r2["tails"][c]
            settled = [t for t, e in zip(tails, esc) if e <= 0.85 * T]
            curve = [statistics.fmean(blk[c]) for blk in r2["blocks"]]
            hit = next((i for i, x in enumerate(curve) if x <= eps_f), None)
            q25, med, q75 = quantiles(esc)
            p2["configs"][name] = x = {
                "escape_median": med, "escapes": esc, "tail": statistics.fmean(tails),
                "tail_settled": statistics.fmean(settled) if settled else None,
                "settled": len(settled), "T_opt": None if hit is None else (hit + 1) * W}
            table.append({"part": "2", "problem": P2_PROBLEM, "config": name, "seeds": S,
                          "escape median": med, "escape q25": q25, "escape q75": q75,
                          "escaped": sum(e < math.inf for e in esc) / S, "tail f - f*": x["tail"],
                          "tail f - f*, escaped by 0.85T": x["tail_settled"],
                          "T_opt(eps_f)": x["T_opt"]})
            series.append(Series(f"part 2: {name}", [(i + 1) * W for i in range(len(curve))],
                                 curve, highlight=name.startswith("anneal")))
        notes = ["Part 1 starts: ||grad f(w*)|| " + ", ".join(
                     f"{k} {v['grad_norm_start']:.1g}" for k, v in values["part1"].items()) + ".",
                 f"Part 2 predicted floors at lr {plan['p2_eta']:g}: beta 0 {floor0:.3g}, beta 0.9 "
                 f"{floor9:.3g}; eps_f = {eps_f:.3g}. Escape level: f - f* <= {r2['level']:.4g}.",
                 "Before t1 the annealed run is the beta 0.9 run (same update) on its own sample "
                 "streams, so its escape time is an independent measurement.",
                 "The annealed tail is compared with the beta 0 tail of the seeds that escaped by "
                 "0.85 T (settled before the last 10%)."]
        return Measurement(values, table, series,
                           Plot("step", "f - f* (mean over seeds, blocks of T/100)", yscale="log",
                                hlines={"eps_f": eps_f, "predicted floor, beta 0": floor0,
                                        "predicted floor, beta 0.9": floor9}), notes)

    def checks(self, m):
        out = []
        for pid, v in m.values["part1"].items():
            b = v["betas"]
            for beta, x in ((k, b[k]) for k in ("0.5", "0.9")):
                out.append(Check(f"{pid}: tail ratio beta {beta} / beta 0",
                                 f"{x['predicted_ratio']:.3f} within x{RATIO_FACTOR}",
                                 f"{x['ratio']:.3f}",
                                 within_factor(x["ratio"], x["predicted_ratio"], RATIO_FACTOR)))
            out.append(Check(f"{pid}: order of the tails", "beta 0.9 > 0.5 > 0",
                             " > ".join(f"{b[k]['tail']:.3g}" for k in ("0.9", "0.5", "0.0")),
                             b["0.9"]["tail"] > b["0.5"]["tail"] > b["0.0"]["tail"]))
        c = m.values["part2"]["configs"]
        hi, lo, an = (c[k] for k in P2_CONFIGS)
        for what, x, ref, extra in (("escape time (median) vs beta 0.9", an["escape_median"],
                                     hi["escape_median"], ""),
                                    ("tail f - f* vs beta 0 (seeds escaped by 0.85 T)", an["tail"],
                                     lo["tail_settled"], f" ({lo['settled']} seeds)")):
            out.append(Check(f"part 2: annealed {what}", f"within x{P2_FACTOR} of {_g(ref)}{extra}",
                             _g(x), ref is not None and within_factor(x, ref, P2_FACTOR)))
        t = {k: (math.inf if c[k]["T_opt"] is None else c[k]["T_opt"]) for k in P2_CONFIGS}
        out.append(Check(f"part 2: smallest T_opt(eps_f = {m.values['part2']['eps_f']:.3g})",
                         "annealed < beta 0.9 and < beta 0",
                         ", ".join(f"{k} {_g(c[k]['T_opt'])}" for k in P2_CONFIGS),
                         t[P2_CONFIGS[2]] < min(t[P2_CONFIGS[0]], t[P2_CONFIGS[1]])))
        return out


def _g(x) -> str:
    return "censored" if x is None else f"{x:.3g}"


CLAIM = MomentumNearOptima()
