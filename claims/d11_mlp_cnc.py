"""D11: stochastic gradients of a small network are strongly aligned with its most negative
curvature direction (Daneshmand, Kohler, Lucchi, Hofmann, ICML 2018).

At a point theta with unit Hessian eigenvectors v_k (eigenvalues lambda_k) and per-sample gradients
g_i, the normalized alignment is

    sigma_k = (1/n) sum_i <g_i/||g_i||, v_k>^2,   sigma_left = sigma_{k = argmin lambda_k},

and sum_k sigma_k = 1, so an isotropic direction gives exactly 1/d. Computed from the problems'
exact oracles at random points (no optimizer runs).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.claims import Check, Claim, Measurement, Plot, Series

SIZES = {"small": 4, "medium": 16, "large": 64}  # mlp-digits hidden widths h, d = 75 h + 10
FULL_SPECTRUM_MAX_D = 1500  # dense eigendecomposition up to here; Lanczos for v_min beyond
STRONG = 10.0  # "sigma_left >> 1/d": at least this multiple of the isotropic value
FLAT = 3.0  # "roughly flat in width": max / min of the median sigma_left at most this


def per_sample_grads(p, w: torch.Tensor) -> torch.Tensor:
    """(n, d): every per-sample gradient at w, one oracle sample per row."""
    _, G = p.sample_loss_grad_rows(w.expand(p.n, -1), torch.arange(p.n)[:, None])
    return G


def bottom_eigenpair(p, w: torch.Tensor) -> tuple[float, torch.Tensor]:
    """lambda_min and v_min by Lanczos (scipy eigsh) on exact Hessian-vector products."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator((p.dim, p.dim), dtype=np.float64,
                        matvec=lambda x: p.hvp(w, torch.from_numpy(np.ascontiguousarray(x).ravel())).numpy())
    ev, vec = eigsh(op, k=1, which="SA", tol=1e-10, v0=np.ones(p.dim))
    return float(ev[0]), torch.from_numpy(vec[:, 0])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


class MLPNegativeCurvatureAlignment(Claim):
    id = "D11"
    title = "Stochastic gradients of a small network have a strong component along negative curvature"
    source = "Daneshmand, Kohler, Lucchi, Hofmann (ICML 2018), neural-network CNC experiments"
    statement = ("On neural networks at random parameter values, the per-sample gradients have a "
                 "much larger squared component along the eigenvector of the most negative Hessian "
                 "eigenvalue than an isotropic direction would (1/d), and this component does not "
                 "decay as the network gets wider or deeper; more generally the gradients' second "
                 "moment along an eigenvector grows with the magnitude of its eigenvalue.")
    setting = ("mlp-digits (one tanh hidden layer with biases, cross-entropy, all 1797 digits "
               "samples) at widths h = 4, 16, 64 (d = 75h + 10 = 310, 1210, 4810), instance 0; 20 "
               "random points per width, every parameter iid N(0, 1) (the authors' protocol). "
               "Exact per-sample gradients (all n) and exact Hessians: dense eigendecomposition "
               "for d <= 1500, Lanczos (scipy eigsh) on exact Hessian-vector products for v_min "
               "at d = 4810. float64.")
    metric = ("sigma_left = (1/n) sum_i <g_i/||g_i||, v_min>^2 against the isotropic value 1/d "
              "(median over points of sigma_left and of d sigma_left); with the full spectrum "
              "(h = 4, 16) the Spearman rank correlation over k of sigma_k with |lambda_k| "
              "(median over points), and sigma_k averaged in bins of lambda_k.")
    expected = (f"d sigma_left >= {STRONG:g} at every width (sigma_left >> 1/d), growing with d; "
                f"median sigma_left roughly flat in width (max/min <= {FLAT:g}) while 1/d falls "
                "15.5-fold; sigma_k positively rank-correlated with |lambda_k|. The paper gives no "
                "magnitudes for these data (it used a downsized MNIST).")

    def _plan(self, scale: str):
        if scale == "reduced":
            return {"sizes": ("small", "medium"), "points": 2}
        return {"sizes": tuple(SIZES), "points": 20}

    def measure(self, records, scale):
        from problems import make_problem

        torch.set_num_threads(1)
        plan = self._plan(scale)
        values = {"scale": scale, "widths": {}}
        table, series = [], []
        ds, med_sig, iso = [], [], []
        for j, size in enumerate(plan["sizes"]):
            p = make_problem(f"mlp-digits:{size}", 0)
            gen = torch.Generator().manual_seed(2000 + j)
            sig_left, lam_min, cnc, rho = [], [], [], []
            lam_all, sig_all = [], []
            for _ in range(plan["points"]):
                w = torch.randn(p.dim, generator=gen, dtype=torch.float64)
                G = per_sample_grads(p, w)
                Gn = G / G.norm(dim=1, keepdim=True)
                if p.dim <= FULL_SPECTRUM_MAX_D:
                    ev, Q = torch.linalg.eigh(p.hessian(w))
                    sig = ((Gn @ Q) ** 2).mean(0).numpy()
                    lam, v = float(ev[0]), Q[:, 0]
                    rho.append(spearman(sig, np.abs(ev.numpy())))
                    lam_all.append(ev.numpy())
                    sig_all.append(sig)
                else:
                    lam, v = bottom_eigenpair(p, w)
                sig_left.append(float(((Gn @ v) ** 2).mean()))
                lam_min.append(lam)
                cnc.append(float(((G @ v) ** 2).mean()) / lam ** 2)
            med = float(np.median(sig_left))
            entry = {"h": SIZES[size], "d": p.dim, "median_sigma_left": med,
                     "median_d_sigma_left": float(np.median(np.array(sig_left) * p.dim)),
                     "min_d_sigma_left": float(np.min(sig_left) * p.dim),
                     "negative_points": int(sum(l < 0 for l in lam_min)),
                     "median_spearman": float(np.median(rho)) if rho else None}
            values["widths"][size] = entry
            table.append({"problem": f"mlp-digits:{size}", "h": SIZES[size], "d": p.dim,
                          "points": plan["points"], "lambda_min < 0": entry["negative_points"],
                          "median lambda_min": float(np.median(lam_min)),
                          "median sigma_left": med, "1/d": 1.0 / p.dim,
                          "median d sigma_left": entry["median_d_sigma_left"],
                          "min d sigma_left": entry["min_d_sigma_left"],
                          "median gamma_hat/lambda^2": float(np.median(cnc)),
                          "median Spearman(sigma_k, |lambda_k|)": entry["median_spearman"]})
            if lam_all:  # sigma_k in 10 bins of lambda_k (deciles over all points' spectra)
                L, S = np.concatenate(lam_all), np.concatenate(sig_all)
                edges = np.quantile(L, np.linspace(0, 1, 11))
                which = np.clip(np.searchsorted(edges, L, side="right") - 1, 0, 9)
                entry["binned"] = [{"lambda": float(L[which == b].mean()),
                                    "d_sigma": float(S[which == b].mean() * p.dim)} for b in range(10)]
            ds.append(p.dim)
            med_sig.append(med)
            iso.append(1.0 / p.dim)
        series = [Series("median sigma_left", ds, med_sig), Series("isotropic 1/d", ds, iso, highlight=False)]
        notes = [
            "Depth sweep not measured: mlp-digits has exactly one hidden layer and no option sets "
            "the depth (nor the width beyond its sizes h = 4, 16, 64), and the harness problems "
            "are frozen; widths 8 and 32 and depths 2-4 of the original protocol are missing.",
            "Model differences from the original protocol: tanh instead of sigmoid hidden units, "
            "biases included (d = 75h + 10 rather than 74h), sklearn digits 8x8 instead of MNIST "
            "downsized to 10x10.",
            "Per point, sum_k sigma_k = 1 exactly, so the mean of sigma_k over k is 1/d; d sigma_k "
            "is the alignment in units of the isotropic value. The 'binned' values (in the result "
            "data) give d sigma_k averaged over deciles of lambda_k.",
        ]
        return Measurement(values, table, series,
                           Plot("d (parameters)", "sigma_left (normalized)", xscale="log", yscale="log"),
                           notes)

    def checks(self, m):
        w = m.values["widths"]
        out = []
        mins = {s: e["min_d_sigma_left"] for s, e in w.items()}
        out.append(Check("sigma_left >> 1/d at every width", f"d sigma_left >= {STRONG:g} at every "
                         "point", ", ".join(f"h={w[s]['h']}: min {v:.3g}" for s, v in mins.items()),
                         all(v >= STRONG for v in mins.values())))
        ratios = [e["median_d_sigma_left"] for e in w.values()]
        out.append(Check("d sigma_left grows with d", "increasing in h",
                         ", ".join(f"{r:.3g}" for r in ratios),
                         len(ratios) > 1 and all(a < b for a, b in zip(ratios, ratios[1:]))))
        sig = [e["median_sigma_left"] for e in w.values()]
        spread = max(sig) / min(sig) if min(sig) > 0 else math.inf
        out.append(Check("sigma_left roughly flat in width", f"max/min of the medians <= {FLAT:g}",
                         f"{spread:.3g} ({', '.join(f'{s:.3g}' for s in sig)})",
                         len(sig) > 1 and spread <= FLAT))
        rho = {s: e["median_spearman"] for s, e in w.items() if e["median_spearman"] is not None}
        out.append(Check("sigma_k grows with |lambda_k|", "median Spearman correlation > 0 at each "
                         "width with the full spectrum",
                         ", ".join(f"h={w[s]['h']}: {r:.3g}" for s, r in rho.items()) or "-",
                         bool(rho) and all(r > 0 for r in rho.values())))
        return out


CLAIM = MLPNegativeCurvatureAlignment()
