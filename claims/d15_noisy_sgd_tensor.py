r"""D15: noisy SGD solves orthogonal tensor decomposition (Ge, Huang, Jin, Yuan, COLT 2015).

Objective (rank-1 deflation form of an orthogonal 4th-order tensor, problems/tensor.py):
:math:`f(x) = \|x\|^8 - 2\sum_i (a_i^\top x)^4`, global minima :math:`\pm a_i` (f* = -1), strict
saddles :math:`x_{S} = k^{-3/4}\sum_{i\in S} a_i` (f = -1/k^2). Noisy SGD (PSGD):
:math:`x_{t+1} = x_t - \eta(g_t + \sigma_n n_t)`, :math:`n_t` uniform on the unit sphere.
Under the ICA oracle every per-sample gradient at the symmetric saddle is orthogonal to the escape
direction, so there the injected noise is what should start the escape.
"""

from __future__ import annotations

import statistics

from bench.claims import Check, Claim, Measurement, Plot, Series, choice, escape_summary

SIGMAS = (1e-2, 1e-1)
# (label, problem id, lr, budget, PSGD runs per sigma, certify?): lr 1e-3 = 0.01/d; the ICA
# oracle certifies only at lr <= 1e-4 (its gradient-noise floor at a minimum, sqrt(576 lr), must be
# below eps_g = 0.346), so it also runs at 1e-3 for the escape alone (a short budget)
FULL = [("finite, k=2", "tensor:small", 1e-3, 100_000, 8, True),
        ("finite, k=d", "tensor:small[saddle=d]", 1e-3, 100_000, 8, True),
        ("ica, k=2", "tensor:small[oracle=ica]", 1e-4, 100_000, 4, True),
        ("ica, k=d", "tensor:small[oracle=ica,saddle=d]", 1e-4, 100_000, 4, True),
        ("ica, k=2, escape", "tensor:small[oracle=ica]", 1e-3, 4_000, 8, False)]
REDUCED = [("finite, k=2", "tensor:small", 1e-3, 3_000, 2, True)]
SGD_RUNS = 8
TIME_LIMIT = 20_000.0  # seconds of optimizer time per run: room for a loaded machine


def _entries(lr):
    return [("sgd", f"sgd[lr={lr}]")] + [(f"psgd {s:g}", f"psgd[lr={lr},sigma_n={s}]") for s in SIGMAS]


class NoisySGDTensor(Claim):
    id = "D15"
    title = "Noisy SGD finds a global minimum of orthogonal tensor decomposition from its saddles"
    source = "Ge, Huang, Jin, Yuan (COLT 2015)"
    statement = ("SGD with injected isotropic noise (unit-sphere noise of norm sigma_n added to "
                 "every stochastic gradient) escapes every strict saddle of the orthogonal tensor "
                 "decomposition objective, which has no spurious local minima, and so reaches a "
                 "global minimum (a tensor component +-a_i) from any start; the injected noise "
                 "matters where the stochastic gradients themselves carry no escape direction.")
    setting = ("tensor:small (d = 10, instance 0) with the finite-sum oracle (one component per "
               "call) and the ICA oracle (one sign vector per call), started 1e-6 from the k = 2 "
               "saddle or the k = d saddle (the family has no random-start option). Entries sgd "
               "and psgd (unit-sphere noise) with sigma_n in {1e-2, 1e-1}, all at the same lr: "
               "1e-3 (= 0.01/d) on the finite sum, 1e-4 on the ICA oracle (the largest step at "
               "which its noise floor lets a minimum certify), plus an escape-only comparison on "
               "the ICA k = 2 saddle at lr 1e-3 (budget 4e3). Budgets 1e5 sample gradients; "
               "8 SGD runs and 8 PSGD runs per sigma (4 on the ICA oracle at lr 1e-4).")
    metric = ("Fraction of runs certified as an SOSP below the saddle level (only the minima +-a_i "
              "pass the tensor certificate there), final f - f*, and T_esc (f <= f_s - (f_s - "
              "f*)/2) median over runs.")
    expected = ("Every run reaches a global minimum (f <= f* + 1e-3, ending at some +-a_i); from "
                "the ICA-oracle saddle PSGD escapes faster than plain SGD. No iteration counts "
                "are given by the paper (polynomial in d).")

    def _plan(self, scale):
        return REDUCED if scale == "reduced" else FULL

    def tasks(self, scale):
        out = []
        for _, problem, lr, budget, psgd_runs, _ in self._plan(scale):
            for name, spec in _entries(lr):
                runs = SGD_RUNS if name == "sgd" and scale == "full" else psgd_runs
                out += [self.task(choice(spec), problem, s, budget=budget, scale=scale,
                                  time_limit=TIME_LIMIT)
                        for s in range(runs)]
        return out

    def measure(self, records, scale):
        from problems import canonical_id

        values, table, series = {"scale": scale, "configs": {}}, [], []
        for label, problem, lr, budget, _, certify in self._plan(scale):
            pid, per = canonical_id(problem), {}
            for name, spec in _entries(lr):
                runs = [r for r in records if r.problem == pid and r.entry == choice(spec).label
                        and r.budget == budget]
                s = escape_summary(runs)
                gaps = [r.final_f - r.f_star for r in runs if r.final_f is not None]
                cert = sum(r.status == "certified" for r in runs) / max(1, len(runs))
                calls = sorted(r.calls_to_sosp for r in runs if r.calls_to_sosp)
                per[name] = {"runs": len(runs), "certified": cert, "escaped": s["escaped"],
                             "T_esc": s["median"], "T_esc_q25": s["q25"],
                             "max_gap": max(gaps, default=None)}
                table.append({"config": label, "problem": pid, "lr": lr, "entry": name,
                              "runs": len(runs), "escaped": s["escaped"], "T_esc q25": s["q25"],
                              "T_esc median": s["median"], "T_esc q75": s["q75"],
                              "certified": cert if certify else None,
                              "calls to SOSP median": statistics.median(calls) if calls else None,
                              "final f - f* median": statistics.median(gaps) if gaps else None,
                              "final f - f* max": max(gaps, default=None)})
            values["configs"][label] = {"problem": pid, "lr": lr, "certify": certify, "entries": per}
            series.append(Series(f"{label} (lr {lr:g})", [0.0, *SIGMAS],
                                 [per[n]["T_esc"] for n, _ in _entries(lr)]))
        notes = [
            "A run stops at its first certified checkpoint, so f <= f* + 1e-3 is not measured: the "
            "harness cannot run past the SOSP. Certification below the saddle level is the "
            "criterion instead (only the minima +-a_i pass it there; in the quadratic model at a "
            "minimum it bounds f - f* by eps_g^2/16 = 7.5e-3); the final f - f* of every run is "
            "reported.",
            "The tensor family has no random-start option (its starts are init_delta from a "
            "designated saddle), so the random-init case x_0 ~ N(0, I/d) is not run.",
            "At lr 1e-3 the ICA oracle's gradient noise floor at a minimum (about sqrt(576 lr) = "
            "0.76) exceeds eps_g = 0.346, so runs rarely certify there: that step is used for the "
            "escape comparison only, and certification on the ICA oracle is tested at lr 1e-4.",
            "'Escapes faster' asks for the PSGD median below SGD's lower quartile: escape counts "
            "are checkpoint costs 2% apart, so adjacent medians are not a resolved difference.",
            "The constrained formulation (unit-norm components, projected PSGD) is not a problem "
            "of the benchmark and is not run."]
        return Measurement(values, table, series,
                           Plot("sigma_n (0: plain SGD)", "median T_esc (sample gradients)",
                                xscale="symlog", yscale="log"), notes)

    def checks(self, m):
        cfgs, out = m.values["configs"], []
        for label, c in cfgs.items():
            if not c["certify"]:
                continue
            e = c["entries"]
            out.append(Check(f"{label} (lr {c['lr']:g}): every run reaches a global minimum "
                             "(certified SOSP)", "100% of runs, every entry",
                             ", ".join(f"{n} {v['certified']:.0%} (max f - f* {_g(v['max_gap'])})"
                                       for n, v in e.items()),
                             all(v["runs"] and v["certified"] == 1.0 for v in e.values())))
        for label in ("ica, k=2, escape", "ica, k=2"):
            if label not in cfgs:
                continue
            e = cfgs[label]["entries"]
            sgd = e["sgd"]["T_esc_q25"]
            for s in SIGMAS:
                t = e[f"psgd {s:g}"]["T_esc"]
                out.append(Check(f"{label} (lr {cfgs[label]['lr']:g}): PSGD sigma_n = {s:g} "
                                 "escapes faster than SGD", "PSGD median T_esc < SGD q25",
                                 f"{_g(t)} vs {_g(sgd)}",
                                 t is not None and (sgd is None or t < sgd)))
        return out


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


CLAIM = NoisySGDTensor()
