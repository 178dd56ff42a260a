"""D10: the CNC lemma for the sigmoid loss (Daneshmand, Kohler, Lucchi, Hofmann, ICML 2018).

For f(w) = (1/n) sum_i phi(z_i^T w), phi(t) = sigma(-t), ||z_i|| <= 1, and every unit eigenvector
v of Hess f(w) with eigenvalue lambda < 0:

    gamma_hat(w) = (1/n) sum_i <grad f_i(w), v>^2 >= lambda^2 / c^2,   c = sup |phi''/phi'| = 1,

because |lambda| <= mean |phi''| (z^T v)^2 <= c mean |phi'| |z^T v| <= c sqrt(gamma_hat). The
claim is computed from the problems' exact oracles (no optimizer runs): per-sample gradients
(one oracle sample per row, all n of them) and Hessians (HVPs with the unit vectors).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.claims import Check, Claim, Measurement, Plot, Series, within_factor

SCALES_S = (1.0, 3.0, 10.0, 30.0)
TINY_REG = 1e-12  # halfspace-blobs requires reg > 0; its exact contribution is removed (notes)
#: CNC ratio gamma/lambda_min^2 at the halfspace-sym saddle, k = 1, lambda_reg = 0: a reference
#: value measured with an independent numpy implementation
REF_SADDLE_SMALL = 9.5
SADDLE_FACTOR = 1.05
TOL = 1e-10  # a ratio below 1 - TOL would contradict the lemma
#: lambda_min counts as negative only below -RESOLVE ||Hess f||_2: float64 eigh resolves an
#: eigenvalue to about d eps ||H||_2 (eps = 2.2e-16), so smaller ones have an unknown sign
RESOLVE = 1e-12


def per_sample_grads(p, W: torch.Tensor) -> torch.Tensor:
    """(P, n, d): grad f_i(W[a]) for every point a and sample i, one oracle sample per row."""
    P, d = W.shape
    idx = torch.arange(p.n).repeat(P)[:, None]
    _, G = p.sample_loss_grad_rows(W.repeat_interleave(p.n, 0), idx)
    return G.reshape(P, p.n, d)


def hessians(p, W: torch.Tensor) -> torch.Tensor:
    """(P, d, d): exact Hessians, column j = Hess f(W[a]) e_j (HVP rows)."""
    P, d = W.shape
    V = torch.eye(d, dtype=W.dtype).repeat(P, 1)
    return p.hvp_rows(W.repeat_interleave(d, 0), V).reshape(P, d, d)


def cnc_ratios(p, W: torch.Tensor, reg: float, chunk: int = 500):
    """(lambda_min, ||H||_2, gamma_hat) at every row of W for the loss WITHOUT its regularizer:
    the problem's per-sample gradients minus reg w, its Hessian minus reg I."""
    lams, norms, gams = [], [], []
    for a in range(0, W.shape[0], chunk):
        Wc = W[a:a + chunk]
        G = per_sample_grads(p, Wc) - reg * Wc[:, None, :]
        H = hessians(p, Wc) - reg * torch.eye(p.dim, dtype=W.dtype)
        ev, V = torch.linalg.eigh((H + H.transpose(1, 2)) / 2)
        v = V[:, :, 0]
        lams.append(ev[:, 0])
        norms.append(ev.abs().max(1).values)
        gams.append(((G * v[:, None, :]).sum(-1) ** 2).mean(1))
    return torch.cat(lams), torch.cat(norms), torch.cat(gams)


class HalfspaceCNC(Claim):
    id = "D10"
    title = "Sigmoid-loss halfspace learning satisfies the CNC condition: E<grad f_z, v>^2 >= lambda_min^2"
    source = "Daneshmand, Kohler, Lucchi, Hofmann (ICML 2018), CNC lemma for the sigmoid loss"
    statement = ("For a loss f(w) = E phi(z^T w) with ||z|| <= 1 and |phi''| <= c |phi'|, the "
                 "stochastic gradients correlate with every direction of negative curvature: for "
                 "each unit eigenvector v with eigenvalue lambda < 0, E<grad f_z(w), v>^2 >= "
                 "(lambda/c)^2. For the sigmoid loss phi(t) = 1/(1+e^t), |phi''/phi'| = "
                 "|tanh(t/2)| <= 1, so c = 1 and the bound is lambda^2, at every w.")
    setting = ("halfspace-blobs small (n = 80, the paper's blob data) and medium (n = 1000), "
               "instance 0, and halfspace-sym small/medium/large (k = 1, 4, 8 outlier pairs) with "
               "lambda_reg = 0 (halfspace-blobs only accepts lambda_reg > 0: it is built with "
               "1e-12 and the regularizer's exact terms are removed). Random points w ~ N(0, s^2 I) "
               "for s in {1, 3, 10, 30}: 10^4 per s on blobs small and halfspace-sym, 2500 per s on "
               "blobs medium; plus the halfspace-sym saddles w_s. Exact per-sample gradients (all n "
               "samples) and exact Hessians, float64.")
    metric = ("gamma_hat(w) = (1/n) sum_i <grad f_i(w), v_min>^2 with v_min a unit eigenvector of "
              "lambda_min(Hess f(w)); the ratio gamma_hat / lambda_min^2 over the points with "
              "lambda_min < -1e-12 ||Hess f(w)||_2 (negative beyond float64 eigenvalue error): its minimum and quantiles per s and problem, and its value at w_s.")
    expected = ("ratio >= 1 at every point (a theorem: a ratio below 1 - 1e-10 would be a bug). At "
                "the halfspace-sym saddle with k = 1 and lambda_reg = 0 the ratio is 9.5 (a reference "
                "value measured with an independent numpy implementation), here within 5%.")

    def _plan(self, scale: str):
        if scale == "reduced":
            return {"points": {"halfspace-blobs:small": 200, "halfspace-sym:small": 200}}
        return {"points": {"halfspace-blobs:small": 10_000, "halfspace-blobs:medium": 2_500,
                           "halfspace-sym:small": 10_000, "halfspace-sym:medium": 10_000,
                           "halfspace-sym:large": 10_000}}

    def measure(self, records, scale):
        from problems import make_problem

        torch.set_num_threads(1)
        plan = self._plan(scale)
        values, table, series = {"scale": scale, "problems": {}}, [], []
        for k, (base, count) in enumerate(plan["points"].items()):
            blobs = base.startswith("halfspace-blobs")
            reg = TINY_REG if blobs else 0.0
            with np.errstate(over="ignore"):  # the L-BFGS for f* runs off to large ||w|| at tiny reg
                p = make_problem(f"{base}[reg={TINY_REG}]" if blobs else f"{base}[reg=0]", 0)
            gen = torch.Generator().manual_seed(1000 + k)
            entry = {"min_ratio": math.inf, "negative_points": 0, "points": 0}
            mins = []
            for s in SCALES_S:
                W = s * torch.randn(count, p.dim, generator=gen, dtype=torch.float64)
                lam, nrm, gam = cnc_ratios(p, W, reg)
                neg = lam < -RESOLVE * nrm
                r = (gam[neg] / lam[neg] ** 2).tolist()
                q = sorted(r)
                row = {"problem": base, "lambda_reg": 0.0, "s": s, "points": count,
                       "negative": len(r),
                       "unresolved": int(((lam < 0) & ~neg).sum()),
                       "median lambda_min": float(lam.median()),
                       "min ratio": q[0] if q else None,
                       "ratio q05": q[int(0.05 * len(q))] if q else None,
                       "median ratio": q[len(q) // 2] if q else None}
                table.append(row)
                mins.append(row["min ratio"])
                entry["points"] += count
                entry["negative_points"] += len(r)
                if q:
                    entry["min_ratio"] = min(entry["min_ratio"], q[0])
            if not blobs:
                lam, _, gam = cnc_ratios(p, p.saddle.point[None], reg)
                entry["saddle_lambda_min"] = float(lam[0])
                entry["saddle_ratio"] = float(gam[0] / lam[0] ** 2)
                table.append({"problem": base, "lambda_reg": 0.0, "s": "saddle w_s", "points": 1,
                              "negative": int(lam[0] < 0), "unresolved": 0,
                              "median lambda_min": float(lam[0]),
                              "min ratio": entry["saddle_ratio"], "ratio q05": None,
                              "median ratio": entry["saddle_ratio"]})
            values["problems"][base] = entry
            series.append(Series(f"{base}: min ratio", list(SCALES_S), mins))
        # the registered halfspace-sym small (lambda_reg = 1e-3) at its saddle: the lemma does not
        # cover the regularized loss; shown for comparison with the value the benchmark declares
        p = make_problem("halfspace-sym:small", 0)
        G = per_sample_grads(p, p.saddle.point[None])[0]
        ev, V = torch.linalg.eigh(hessians(p, p.saddle.point[None])[0])
        reg_ratio = float(((G @ V[:, 0]) ** 2).mean() / ev[0] ** 2)
        values["registered_small_saddle_ratio"] = reg_ratio
        table.append({"problem": "halfspace-sym:small (registered, lambda_reg = 1e-3)",
                      "lambda_reg": 1e-3, "s": "saddle w_s", "points": 1, "negative": 1,
                      "unresolved": 0,
                      "median lambda_min": float(ev[0]), "min ratio": reg_ratio, "ratio q05": None,
                      "median ratio": reg_ratio})
        notes = [
            "halfspace-blobs declares lambda_reg > 0 (its option refuses 0), so it is built with "
            f"lambda_reg = {TINY_REG:g} and the regularizer's exact contributions (lambda_reg w in "
            "each per-sample gradient, lambda_reg I in the Hessian) are subtracted: the lemma is "
            "tested on the unregularized loss, as stated. halfspace-sym accepts lambda_reg = 0.",
            "The benchmark's halfspace-sym sizes have k = 1, 4, 8 outlier pairs; the k = 3 instance "
            "for which a reference ratio (25.0) exists is not among them, so only k = 1 is compared "
            "with a reference value; k = 4 and 8 are reported and checked against the bound.",
            f"A point counts as having negative curvature when lambda_min < -{RESOLVE:g} "
            "||Hess f(w)||_2; below that size float64 eigh cannot resolve the sign of lambda_min "
            "(column 'unresolved': such points, mostly at s = 30 where most samples saturate, are "
            "left out). Without this rule halfspace-sym medium and large show ratios of 0.18 and "
            "0.06 at s = 30; one such point recomputed in 60-digit arithmetic has lambda_min = "
            "+1.6e-26 (float64: -3.8e-19 with ||H||_2 = 0.011), so no negative curvature at all.",
            "The last row is the registered instance (lambda_reg = 1e-3): the lemma does not "
            "apply to the regularized loss; its ratio is shown for comparison.",
        ]
        return Measurement(values, table, series,
                           Plot("s (w ~ N(0, s^2 I))", "min gamma_hat / lambda_min^2", xscale="log",
                                yscale="log", hlines={"lemma bound (c = 1)": 1.0}), notes)

    def checks(self, m):
        out = []
        for base, e in m.values["problems"].items():
            r = e["min_ratio"]
            sad = e.get("saddle_ratio")
            found = [x for x in (r, sad) if x is not None]
            worst = min(found) if found else None
            where = f"{e['negative_points']} of {e['points']} random points" + (
                ", and the saddle" if sad is not None else "")
            out.append(Check(f"{base}, lambda_reg = 0: gamma_hat / lambda_min^2 >= 1 where "
                             "lambda_min < 0 (resolved)", f">= 1 - {TOL:g} at every point ({where})",
                             "-" if worst is None else f"min {worst:.4g}",
                             worst is not None and e["negative_points"] > 0 and worst >= 1 - TOL))
        small = m.values["problems"].get("halfspace-sym:small", {}).get("saddle_ratio")
        out.append(Check("halfspace-sym:small saddle, lambda_reg = 0: ratio",
                         f"{REF_SADDLE_SMALL} within x{SADDLE_FACTOR}",
                         "-" if small is None else f"{small:.4g}",
                         within_factor(small, REF_SADDLE_SMALL, SADDLE_FACTOR)))
        return out


CLAIM = HalfspaceCNC()
