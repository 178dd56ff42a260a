r"""D18: second-order references leave the exact saddle in O(1) outer iterations, also where the
stochastic gradients carry no negative-curvature signal (Nesterov & Polyak 2006; Xu, Rong, Yang
2018; Allen-Zhu & Li 2018).

Cubic-regularized Newton (``cubic-newton``, adaptive M, full-batch gradients and HVPs on finite
sums): at a zero-gradient saddle Lanczos gives :math:`(\lambda, v)` and the eigen-step
:math:`s = \pm 2|\lambda| v / M` decreases the cubic model by :math:`\tfrac23|\lambda|^3/M^2`.
NEON (``neon``, first-order): power iteration on :math:`I - \eta H` with finite differences
:math:`\nabla f_B(x+u)-\nabla f_B(x)`, then the step :math:`|\hat\lambda|/\hat\rho` along v.
Neither needs :math:`\gamma = \mathbb E\langle\nabla f_i(w_s), v\rangle^2 > 0`.
"""

from __future__ import annotations

import math

from bench.claims import Check, Claim, Measurement, Plot, Series, choice, escape_summary, quantiles

# problem -> (gamma group, SGD step of the problem, cubic-newton budget)
PROBLEMS = {
    "reddi2d:canonical": ("cnc", 1e-2, 200_000),
    "quad-saddle:small[n=100]": ("cnc", 1e-2, 200_000),
    "quad-saddle:small[n=100,noise=cnc0]": ("zero", 1e-2, 200_000),
    "tensor:small[init_delta=0.0]": ("cnc", 1e-3, 200_000),
    "halfspace-sym:small": ("cnc", 0.5, 200_000),
    "phase-retrieval:small[init=exact]": ("cnc", 5e-4, 400_000),
    "matrix-sensing:small[init=exact]": ("zero", 5e-3, 400_000),
    "mlp-digits:small[init=exact]": ("zero", 0.1, 500_000),  # ends before the entry's NaN
    "deep-linear:small[init=exact]": ("cnc", 1e-2, 200_000),
    "deep-linear:small[init=exact,saddle=zero]": ("zero", 1e-2, 200_000),
}
NEON_ITERS, NEON_K, NEON_BATCH = 100, 1000, 64  # power steps per extraction; entry defaults
NEON_BUDGET = {"quad-saddle:small[n=100,noise=cnc0]": 80_000, "matrix-sensing:small[init=exact]": 40_000,
               "mlp-digits:small[init=exact]": 40_000,
               "deep-linear:small[init=exact,saddle=zero]": 40_000}
SGD_BUDGET = 20_000
MAX_ITERS, MAX_HVPS, MAX_EXTRACTIONS = 10, 1000, 10


class SecondOrderEscape(Claim):
    id = "D18"
    title = "Cubic-regularized Newton and NEON leave the exact saddle in O(1) outer iterations"
    source = ("Nesterov & Polyak (Math. Program. 2006); Xu, Rong, Yang (NeurIPS 2018); "
              "Allen-Zhu & Li (NeurIPS 2018)")
    statement = ("Methods that read curvature directly (Hessian-vector products, or gradient "
                 "differences that emulate them) find a negative-curvature direction at a "
                 "saddle and step along it, so they leave it in a constant number of outer "
                 "iterations whatever the gradient noise, even where every stochastic gradient "
                 "vanishes along the escape directions (gamma = 0) and plain SGD is stuck.")
    setting = ("Every run starts exactly at the designated saddle. cubic-newton (entry defaults, "
               "M0 = 1; full-batch gradients, function values and HVPs on these finite sums; "
               "Lanczos eigen-step at zero gradient) on reddi2d:canonical, quad-saddle:small with "
               "a finite sum of n = 100 draws (aniso, and cnc0: gamma = 0), tensor:small (k = 2), "
               "halfspace-sym:small, phase-retrieval:small (init=exact), matrix-sensing:small "
               "(U = 0, gamma = 0), mlp-digits:small (theta_s, gamma = 0), deep-linear:small "
               "(wrong-subspace saddle, and W = 0: gamma = 0); 4 runs each, and the same 4 runs "
               "stopped at their escape (stop rule escape, so that their oracle counts are those "
               "at the escape). neon (SGD step = the "
               "problem's SGD step, K = 1000, 100 power steps per extraction on minibatches of "
               "min(n, 64) samples) on the four gamma = 0 problems, 2 runs each. First-order "
               "comparison: SGD at the same steps on the gamma > 0 problems, 8 runs each. Budgets "
               "2e5-5e5 sample gradients (cubic-newton), 4e4-8e4 (neon), 2e4 (sgd); instance 0.")
    metric = ("Escape (f <= f_s - Delta_esc, projection test on quad-saddle) and its cost in "
              "sample gradients (a full pass costs n); cubic-newton's outer iterations to escape "
              "(checkpoints before escape, exact where every outer iteration crossed a "
              "checkpoint), its full-batch HVPs and gradients up to the escape (the counts of the "
              "runs stopped there), and outer iterations and HVPs to a certified SOSP; NEON: an "
              "upper bound on the extractions before escape, escape cost / cost of one "
              "extraction (2 min(n, 64) (100 + 1) sample gradients).")
    expected = ("Both escape in every run, gamma = 0 problems included; cubic-newton within a "
                "few outer iterations (<= 10) and with tens to a few hundred full-batch HVPs (<= "
                "1000) before escape; NEON within a few extractions (<= 10). The cost in sample "
                "gradients is reported next to SGD's (no expected direction: a full-batch pass "
                "costs n).")
    version = "2"

    def _plan(self, scale):
        if scale == "reduced":
            return {"cubic": ["reddi2d:canonical", "matrix-sensing:small[init=exact]"],
                    "neon": ["matrix-sensing:small[init=exact]"], "sgd": [], "seeds": (1, 1, 0),
                    "neon_budget": 17_000}
        return {"cubic": list(PROBLEMS), "neon": list(NEON_BUDGET),
                "sgd": [p for p, (g, *_rest) in PROBLEMS.items() if g == "cnc"], "seeds": (4, 2, 8),
                "neon_budget": None}

    def tasks(self, scale):
        plan = self._plan(scale)
        sc, sn, ss = plan["seeds"]
        out = []
        for p in plan["cubic"]:
            out += [self.task(choice("cubic-newton[M0=1.0]"), p, s, budget=PROBLEMS[p][2],
                              scale=scale, stop=stop) for stop in ("sosp", "escape")
                    for s in range(sc)]
        for p in plan["neon"]:
            entry = choice(f"neon[lr={PROBLEMS[p][1]},nc_iters={NEON_ITERS}]")
            out += [self.task(entry, p, s, budget=plan["neon_budget"] or NEON_BUDGET[p],
                              scale=scale) for s in range(sn)]
        for p in plan["sgd"]:
            out += [self.task(choice(f"sgd[lr={PROBLEMS[p][1]}]"), p, s, budget=SGD_BUDGET,
                              scale=scale) for s in range(ss)]
        return out

    def measure(self, records, scale):
        from problems import make_problem

        plan = self._plan(scale)
        records = list({r.key: r for r in records}.values())  # a re-run replaces its record
        table, values, series = [], {"scale": scale}, []
        for entry in ("cubic", "neon", "sgd"):
            for p in plan[entry]:
                mine = sorted((r for r in records if r.problem == p and r.entry_name == _NAME[entry]),
                              key=lambda r: r.run_seed)
                runs = [r for r in mine if r.stop == "sosp"]
                at_escape = [r for r in mine if r.stop == "escape"]
                prob = make_problem(p)
                s = escape_summary(runs)
                row = {"entry": _NAME[entry], "problem": p, "gamma": PROBLEMS[p][0],
                       "runs": s["runs"], "escaped": s["escaped"], "T_esc median": s["median"],
                       "passes to escape": _div(s["median"], prob.n),
                       "certified": sum(r.status == "certified" for r in runs) / max(1, len(runs))}
                if entry == "cubic":
                    its = [_iters_to_escape(r) for r in runs]
                    row["iters to escape (max)"] = _max(its)
                    for kind, name in (("hvp_calls", "HVPs"), ("grad_calls", "gradients")):
                        row[f"{name} to escape (max)"] = _max(_at_escape(r, kind) for r in at_escape)
                    row["iters to first decrease (max)"] = _max(_iters_to_decrease(r) for r in runs)
                    cert = [r for r in runs if r.status == "certified"]
                    row["iters to SOSP (median)"] = quantiles([r.grad_calls_to_sosp for r in cert])[1]
                    row["HVPs to SOSP (median)"] = quantiles([r.hvp_calls_to_sosp for r in cert])[1]
                if entry == "neon":
                    ext = 2 * math.ceil(min(prob.n, NEON_BATCH) / prob.batch_size) * prob.batch_size \
                        * (NEON_ITERS + 1)
                    row["extraction cost"] = ext
                    row["extractions before escape (max bound)"] = _max(
                        None if r.escape_calls is None else r.escape_calls // ext for r in runs)
                table.append(row)
                values[f"{entry}|{p}"] = row
                if entry == "cubic" and runs:
                    r = runs[0]
                    series.append(Series(f"cubic-newton: {p}", [max(c, 1) for c in r.trajectory["cost"]],
                                         [(f - r.saddle_value) / r.escape_delta
                                          for f in r.trajectory["f"]], highlight=PROBLEMS[p][0] == "zero"))
        for p in plan["sgd"]:  # cubic-newton's escape cost relative to SGD's
            cub, sgd = values.get(f"cubic|{p}"), values.get(f"sgd|{p}")
            if cub and sgd:
                cub["cost / SGD's"] = _div(cub["T_esc median"], sgd["T_esc median"])
        notes = [
            "Outer iterations to escape are counted from the run's checkpoints: the run is "
            "observed after every checkpoint, and when the number of checkpoints equals the "
            "number of outer iterations (each iteration crossed one; checked per run) the "
            "checkpoint where escape is first seen is the iteration that escaped. Where it does "
            "not hold the value is left empty. Outer iterations include rejected cubic steps "
            "(M doubled).",
            "HVPs and gradients to escape are the oracle counts of cubic-newton runs stopped at "
            "their escape checkpoint (stop rule escape; the same seeds as the runs to the SOSP, "
            "so the same iterates up to there); on these finite sums every call is a full pass. "
            "HVPs and outer iterations to the certified SOSP are reported too. NEON's finite "
            "differences are gradient calls (no HVP is counted); its extractions are not "
            "recorded, so the number before escape is bounded by escape cost // cost of one "
            "extraction (each extraction costs exactly that).",
            "NEON uses minibatches of min(n, 64) samples in its finite differences (the entry's "
            "design), full batches only where n <= 64 (deep-linear has n = 50); quad-saddle runs "
            "as a finite sum of 100 centered draws so that cubic-newton's gradients and HVPs are "
            "full-batch. Escape is the benchmark's level f_s - Delta_esc (half way to f*), deeper "
            "than the single-step decrease |lambda|^3 / (3 rho^2) the theory guarantees; the "
            "column 'iters to first decrease' is the first outer iteration that lowered f below "
            "its start value.",
            "mlp-digits: cubic-newton escapes at its third outer iteration (447,453 sample "
            "gradients) and its budget is set to 5e5; in a preliminary run with budget 1.5e6 all "
            "4 runs then ended in an entry error between 5.2e5 and 8.8e5 sample gradients (the "
            "subproblem's gradient-descent iterate became non-finite: 'hvp direction v is not "
            "finite'), before any SOSP, so cubic-newton reaches no certified SOSP there.",
            "SGD cannot leave the gamma = 0 saddles at all (claim D12: 0 of 32 runs, the iterate "
            "bitwise unmoved where every per-sample gradient vanishes), so it is compared only on "
            "the gamma > 0 problems.",
        ]
        bad = [r for r in records if r.status in ("error", "timeout", "diverged", "harness_error")]
        for e, p in sorted({(r.entry_name, r.problem) for r in bad}):
            rs = [r for r in bad if (r.entry_name, r.problem) == (e, p)]
            msg = (rs[0].message or "").splitlines()[0] if rs[0].message else ""
            notes.append(f"{e} on {p}: {len(rs)} run(s) ended in {rs[0].status} ({msg}), "
                         f"{sum(r.escape_calls is not None for r in rs)} of them after escaping "
                         f"(counted as escaped; no SOSP).")
        return Measurement(values, table, series,
                           Plot("sample gradients", "(f - f_s) / Delta_esc (cubic-newton, seed 0)",
                                xscale="log", yscale="symlog", hlines={"escape level": -1.0}),
                           notes)

    def checks(self, m):
        rows = {k: v for k, v in m.values.items() if k != "scale"}
        cubic = [v for k, v in rows.items() if k.startswith("cubic|")]
        neon = [v for k, v in rows.items() if k.startswith("neon|")]
        short = lambda v: v["problem"].split("[")[0] + ("(0)" if v["gamma"] == "zero" else "")  # noqa
        out = [
            Check("cubic-newton escapes every run, gamma = 0 included", "escaped = 1 on every problem",
                  ", ".join(f"{short(v)} {v['escaped']:.2f}" for v in cubic),
                  bool(cubic) and all(v["escaped"] == 1.0 for v in cubic)),
            Check("cubic-newton: O(1) outer iterations to escape", f"<= {MAX_ITERS} in every run",
                  ", ".join(f"{short(v)} {_s(v['iters to escape (max)'])}" for v in cubic),
                  bool(cubic) and all(v["iters to escape (max)"] is not None
                                      and v["iters to escape (max)"] <= MAX_ITERS for v in cubic)),
            Check("cubic-newton: full-batch HVPs to escape", f"tens to a few hundred (<= {MAX_HVPS})",
                  ", ".join(f"{short(v)} {_s(v['HVPs to escape (max)'])}" for v in cubic),
                  bool(cubic) and all(v["HVPs to escape (max)"] is not None and
                                      v["HVPs to escape (max)"] <= MAX_HVPS for v in cubic)),
            Check("NEON escapes every run on the gamma = 0 problems", "escaped = 1 on every problem",
                  ", ".join(f"{short(v)} {v['escaped']:.2f}" for v in neon),
                  bool(neon) and all(v["escaped"] == 1.0 for v in neon)),
            Check("NEON: O(1) extractions before escape", f"<= {MAX_EXTRACTIONS} in every run",
                  ", ".join(f"{short(v)} {_s(v['extractions before escape (max bound)'])}" for v in neon),
                  bool(neon) and all(v["extractions before escape (max bound)"] is not None and
                                     v["extractions before escape (max bound)"] <= MAX_EXTRACTIONS
                                     for v in neon)),
        ]
        return out


_NAME = {"cubic": "cubic-newton", "neon": "neon", "sgd": "sgd"}


def _iters_to_escape(r):
    """Outer iterations up to the escape checkpoint, when checkpoints and steps are one-to-one."""
    cost = r.trajectory.get("cost", [])
    if r.escape_calls is None or len(cost) - 1 != r.steps:
        return None
    return sum(1 for c in cost if 0 < c <= r.escape_calls)


def _iters_to_decrease(r):
    cost, f = r.trajectory.get("cost", []), r.trajectory.get("f", [])
    if len(cost) - 1 != r.steps:
        return None
    return next((i for i, x in enumerate(f) if x < f[0]), None)


def _at_escape(r, kind):
    """A run stopped at its escape: its count of ``kind`` there. A run whose escape and first
    certification fall on the same checkpoint ends ``certified`` at its escape (its end cost
    is its escape cost); one certified before it escaped has no count at its escape."""
    at_escape = r.status == "escaped" or (r.status == "certified" and r.escape_calls is not None
                                          and r.escape_calls == r.counts.get("cost"))
    return r.counts.get(kind) if at_escape else None


def _max(xs):
    xs = list(xs)
    return None if not xs or None in xs else max(xs)


def _div(a, b):
    return None if a is None or not b else a / b


def _s(x) -> str:
    return "-" if x is None else f"{x:.3g}"


CLAIM = SecondOrderEscape()
