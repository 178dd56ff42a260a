r"""D16: normalized gradient descent with noise evades saddles faster than noisy SGD (Levy,
arXiv:1611.04831, 2016).

NGD + noise: :math:`x_{t+1} = x_t - \eta\,g_t/\|g_t\| + \sigma_n\zeta_t`,
:math:`\zeta_t\sim\mathcal N(0, I_d/d)`, :math:`\sigma_n = \eta` (a step of fixed length eta, so
it does not slow down where the gradient is small). PSGD:
:math:`x_{t+1} = x_t - \eta(g_t + \sigma_n n_t)`, :math:`n_t` uniform on the unit sphere. Stated
rates: :math:`\tilde O(\eta^{-3/2})` iterations for NGD against :math:`\tilde O(\eta^{-2})` for
noisy SGD, i.e. log-log slopes of T against eta of about -3/2 and -2.

Matched final suboptimality: every run goes on to its budget (stop rule ``budget``) and its final
suboptimality is :math:`G = (\bar f_{tail} - f^\star)/(f_s - f^\star)`, :math:`\bar f_{tail}` the mean
of f over the last 10% of the budget. Each lr of an entry gives a point (median G, median T_esc);
the two entries are compared at the same G by interpolating ln T against ln G between their
points, at every G of either entry inside the range both reach.
"""

from __future__ import annotations

import math

from bench.claims import Check, Claim, Measurement, Plot, Series, choice, escape_summary, quantiles

SIGMA_N = 0.1  # PSGD's noise norm
RATES = {"ngd": -1.5, "psgd": -2.0}
TOLERANCE = 0.5
TENSOR_GRID = (5e-4, 1e-3, 2e-3, 4e-3)
# (label, problem id, lr grid, budget per entry in sample gradients)
FULL = [("tensor k=2", "tensor:small", TENSOR_GRID, {"ngd": 10_000, "psgd": 20_000}),
        ("tensor k=d", "tensor:small[saddle=d]", TENSOR_GRID, {"ngd": 10_000, "psgd": 40_000}),
        ("quad-saddle", "quad-saddle:small", (2.5e-3, 5e-3, 1e-2, 2e-2),
         {"ngd": 25_000, "psgd": 25_000})]
REDUCED = [("quad-saddle", "quad-saddle:small", (2e-2,), {"ngd": 5_000, "psgd": 5_000})]


def _spec(entry, lr):
    return f"ngd[lr={lr}]" if entry == "ngd" else f"psgd[lr={lr},sigma_n={SIGMA_N}]"


class NGDEvadesFaster(Claim):
    id = "D16"
    title = "Normalized gradient descent with noise escapes saddles in fewer iterations than noisy SGD"
    source = "Levy, arXiv:1611.04831 (2016)"
    statement = ("Normalizing the (stochastic) gradient keeps the step length fixed where the "
                 "gradient is small, as near a saddle; with added noise, normalized GD leaves "
                 "strict saddles and reaches a local minimum in about eta^(-3/2) iterations, "
                 "against eta^(-2) for noisy SGD, so it escapes faster.")
    setting = ("tensor:small (d = 10, finite-sum oracle) started 1e-6 from the k = 2 and k = d "
               "saddles, lr in {5e-4, 1e-3, 2e-3, 4e-3}; quad-saddle:small (d = 10, aniso noise) "
               "at the saddle, lr in {2.5e-3, 5e-3, 1e-2, 2e-2}. Entries ngd (noise every step, "
               "sigma_n = lr, batch 1) and psgd (unit-sphere noise, sigma_n = 0.1), 4 runs per "
               "lr (instance 0). Every run goes on to its budget (stop rule budget): tensor ngd "
               "1e4, psgd 2e4 (k = 2) and 4e4 (k = d); quad-saddle 2.5e4 sample gradients.")
    metric = ("T_esc (tensor: f <= f_s - (f_s - f*)/2; quad-saddle: the projection test), median "
              "over runs. Final suboptimality G = (mean f over the last 10% of the budget - f*) / "
              "(f_s - f*), median over runs (a diverged run counts as infinite). Matched "
              "comparison: T_esc(PSGD) / T_esc(NGD) at equal G, ln T interpolated linearly in ln G "
              "between each entry's lrs, at every G of either entry in the range both reach. "
              "Slope: least-squares slope of ln(median T_esc) against ln lr over the steps where "
              "the median is not censored.")
    expected = ("NGD needs fewer iterations to escape than PSGD at matched final suboptimality "
                "(magnitude unknown); log-log slopes of T against lr about -3/2 for NGD and -2 "
                "for PSGD (rates from a secondary summary, not verified).")
    version = "2"

    def _plan(self, scale):
        return REDUCED if scale == "reduced" else FULL

    def tasks(self, scale):
        out, seeds = [], 2 if scale == "reduced" else 4
        for _, problem, grid, budgets in self._plan(scale):
            for entry in ("ngd", "psgd"):
                for lr in grid:
                    out += [self.task(choice(_spec(entry, lr)), problem, s, budget=budgets[entry],
                                      scale=scale, stop="budget") for s in range(seeds)]
        return out

    def measure(self, records, scale):
        from problems import canonical_id

        values, table, series = {"scale": scale, "configs": {}}, [], []
        for label, problem, grid, _ in self._plan(scale):
            pid, per = canonical_id(problem), {}
            for entry in ("ngd", "psgd"):
                med, cert, esc, gap, tail = [], [], [], [], []
                for lr in grid:
                    runs = [r for r in records if r.problem == pid
                            and r.entry == choice(_spec(entry, lr)).label]
                    s = escape_summary(runs)
                    c = sum(r.calls_to_sosp is not None for r in runs) / max(1, len(runs))
                    fs = sorted((r.final_f - r.saddle_value) for r in runs if r.final_f is not None)
                    g = quantiles([_tail_gap(r) for r in runs], (0.5,))[0]
                    med.append(s["median"])
                    cert.append(c)
                    esc.append(s["escaped"])
                    gap.append(fs[len(fs) // 2] if fs else None)
                    tail.append(g)
                    table.append({"config": label, "entry": entry, "lr": lr, "runs": s["runs"],
                                  "escaped": s["escaped"], "T_esc q25": s["q25"],
                                  "T_esc median": s["median"], "T_esc q75": s["q75"],
                                  "certified on the way": c, "final f - f_s median": gap[-1],
                                  "G (tail) median": g,
                                  "diverged": sum(r.status == "diverged" for r in runs)})
                per[entry] = {"lr": list(grid), "median": med, "certified": cert, "escaped": esc,
                              "final_minus_fs": gap, "tail_gap": tail, "slope": slope(grid, med)}
                series.append(Series(f"{entry}, {label}", list(grid), med))
            values["configs"][label] = {"problem": pid, "entries": per,
                                        "matched": matched(per["ngd"], per["psgd"])}
        notes = [
            "Every run goes on to its budget, so its final suboptimality G is measured at the same "
            "cost for every lr of an entry (the tail mean of f); a larger lr escapes sooner but "
            "ends higher, and the matched comparison trades one against the other (module "
            "docstring). Matched T_esc(PSGD) / T_esc(NGD) at G: " + _matched_line(values) + ".",
            "NGD normalizes each batch-1 stochastic gradient (the tensor family has no batch "
            "option): on the finite-sum tensor most components' gradients 8||x||^6 x point along "
            "x, so the normalized steps are biased toward x = 0 (f = 0). Median final f - f_s of "
            "NGD: " + _ngd_gaps(values) + ".",
            "Equal-lr ratio T_esc(PSGD) / T_esc(NGD) (medians, where both escape): "
            + _equal_lr(values) + ".",
            "The stated rates bound the iterations to reach a local minimum with the theory's "
            "choice of parameters; the slopes here are of T_esc at a fixed lr, over one decade."]
        return Measurement(values, table, series,
                           Plot("lr", "median T_esc (sample gradients)", xscale="log",
                                yscale="log"), notes)

    def checks(self, m):
        cfgs, out = m.values["configs"], []
        if m.values["scale"] == "reduced":
            e = cfgs["quad-saddle"]["entries"]
            return [Check("quad-saddle:small, lr 2e-2: NGD and PSGD escape in every run", "100%",
                          f"ngd {e['ngd']['escaped'][0]:.0%}, psgd {e['psgd']['escaped'][0]:.0%}",
                          e["ngd"]["escaped"][0] == 1.0 and e["psgd"]["escaped"][0] == 1.0)]
        for label, c in cfgs.items():
            ratios = c["matched"]
            out.append(Check(f"{label}: T_esc at matched final suboptimality, NGD < PSGD",
                             "T_esc(PSGD) / T_esc(NGD) > 1 at every matched G",
                             _ratios(ratios) if ratios else "no matched G (" + _reach(c) + ")",
                             bool(ratios) and all(r > 1 for _, r in ratios)))
        for entry, rate in RATES.items():
            slopes = {label: c["entries"][entry]["slope"] for label, c in cfgs.items()}
            ok = all(s is not None and abs(s - rate) <= TOLERANCE for s in slopes.values())
            out.append(Check(f"{entry}: log-log slope of T_esc against lr", f"{rate:g} +- "
                             f"{TOLERANCE:g} on every problem", ", ".join(
                                 f"{k} {_g(v)}" for k, v in slopes.items()), ok))
        return out


def _ngd_gaps(values) -> str:
    out = []
    for label, c in values["configs"].items():
        gaps = [g for g in c["entries"]["ngd"]["final_minus_fs"] if g is not None]
        out.append(f"{label} {_g(sorted(gaps)[len(gaps) // 2] if gaps else None)}")
    return ", ".join(out)


def _equal_lr(values) -> str:
    out = []
    for label, c in values["configs"].items():
        n, p = c["entries"]["ngd"], c["entries"]["psgd"]
        r = [f"{lr:g}: {tp / tn:.2g}" for lr, tn, tp in zip(n["lr"], n["median"], p["median"])
             if tn and tp]
        out.append(f"{label} " + (", ".join(r) if r else "-"))
    return "; ".join(out)


def _tail_gap(r) -> float:
    """G = (tail mean f - f*) / (f_s - f*) of one run; +inf when it has none (diverged)."""
    if r.tail_f_mean is None or r.f_star is None or r.status == "diverged":
        return math.inf
    return (r.tail_f_mean - r.f_star) / (r.saddle_value - r.f_star)


def matched(ngd: dict, psgd: dict) -> list[tuple[float, float]]:
    """(G, T_psgd / T_ngd) at every G of either entry inside the G range both reach, each T
    interpolated linearly in (ln G, ln T) between that entry's lrs (escaped, finite G)."""
    pts = [sorted((g, t) for g, t in zip(e["tail_gap"], e["median"])
                  if t and g is not None and 0 < g < math.inf) for e in (ngd, psgd)]
    if not all(pts):
        return []
    lo, hi = max(p[0][0] for p in pts), min(p[-1][0] for p in pts)
    levels = sorted({g for p in pts for g, _ in p if lo <= g <= hi})
    return [(g, _interp(pts[1], g) / _interp(pts[0], g)) for g in levels]


def _interp(pts, g):
    for (g0, t0), (g1, t1) in zip(pts, pts[1:]):
        if g0 <= g <= g1 and g1 > g0:
            w = (math.log(g) - math.log(g0)) / (math.log(g1) - math.log(g0))
            return math.exp((1 - w) * math.log(t0) + w * math.log(t1))
    return next(t for g0, t in pts if g0 == g)


def _ratios(ratios) -> str:
    return ", ".join(f"G {g:.2g}: {r:.2g}" for g, r in ratios)


def _reach(c) -> str:
    return "; ".join(f"{e} G {', '.join(_g(g) for g in v['tail_gap'])}"
                     for e, v in c["entries"].items())


def _matched_line(values) -> str:
    return "; ".join(f"{label} " + (_ratios(c["matched"]) or "none")
                     for label, c in values["configs"].items())


def slope(grid, med):
    """Least-squares slope of ln(median T_esc) on ln lr over the uncensored medians."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(grid, med) if y]
    if len(pts) < 2:
        return None
    mx, my = (sum(p[i] for p in pts) / len(pts) for i in (0, 1))
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


CLAIM = NGDEvadesFaster()
