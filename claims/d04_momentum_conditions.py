r"""D4: Wang et al.'s sufficient conditions hold along stochastic heavy-ball runs (ICLR 2020).

Heavy ball (their Alg. 1, torch's form): :math:`m_t = \beta m_{t-1} + g_t` (:math:`m_{-1}=0`),
:math:`w_{t+1} = w_t - \eta m_t`, so :math:`m_t` is torch's buffer *after* step t and
:math:`m_t - g_t = \beta m_{t-1}`. With :math:`\nabla f = \nabla f(w_t)`, :math:`H_t =
\nabla^2 f(w_t)`: APAG ratio :math:`\langle\nabla f, m_t - g_t\rangle/\|\nabla f\|^2`; APCG
ratio :math:`\langle\nabla f, M_t m_t\rangle/(\eta\sigma_{\max}(M_t)\|\nabla f\|^2)`,
:math:`M_t = (\prod_{s=1}^{\tau-1} G_s)(\prod_{s=k}^{\tau-1} G_s)`, :math:`G_s = I -
\eta\theta_s H_t`, :math:`\theta_s = (1-\beta^s)/(1-\beta)`, diagonal in :math:`H_t`'s
eigenbasis and summed as logs (the products overflow); GrACE :math:`\langle\nabla f, g_t -
m_t\rangle/\eta + m_t^\top H_t m_t/2`. Conditional expectations over the step's sample are exact
for a finite sum: :math:`E_t m_t = \beta m_{t-1} + \nabla f`, :math:`E_t m_t^\top H m_t =
\bar m^\top H\bar m + \mathrm{tr}(H\Sigma_t)`, :math:`\Sigma_t` the per-sample gradients' covariance.
"""

from __future__ import annotations

import math

from bench.claims import Check, Claim, Measurement, Plot, Series, in_processes

TOY = "reddi2d:canonical"
PR = "phase-retrieval:small[wstar=paper,init=paper]"
SETUP = {TOY: {"tau": 300_000, "instance": 0}, PR: {"tau": 500, "instance": 3}}
BETAS = (0.9, 0.5)
GRAD_FLOOR = 0.02  # toy APAG logged only where ||grad f|| >= this
ALMOST = 0.9  # "almost always": at least this fraction of the logged values
WINDOW = 2.0  # toy transition: |t - t_esc| <= WINDOW e-folding times of the escape
MIN_LOGGED = 20  # fewer logged values than this: a fraction is not judged
GROWTH = 2.0  # toy GrACE bounded: 99th percentile later in the run <= GROWTH x the saddle phase's
TAIL = 1e-17  # beta^s below this: theta_s == 1/(1-beta) in float64
GRAD_ZERO = 1e-10  # ratios not evaluated where ||grad f|| is below this (w_0 = 0: grad f = 0)


def log_products(lam, beta: float, lr: float, tau: int, ks):
    """{k: (log|diag M_t|, sign of diag M_t)} for lam (S, d), the eigenvalues of H_t: an exact
    head of factors while beta^s >= TAIL, then one constant factor (tau - 1 - head) times."""
    import torch

    head = min(tau - 1, math.ceil(math.log(TAIL) / math.log(beta)))
    s = torch.arange(1, head + 1, dtype=lam.dtype)
    fac = 1.0 - lr * (1.0 - beta ** s) / (1.0 - beta) * lam[..., None]  # (S, d, head)
    tail = 1.0 - lr / (1.0 - beta) * lam
    zero = 0 * lam[..., None]  # suffix sums over s = a .. head, plus an empty one
    logs = torch.cat([fac.abs().log().flip(-1).cumsum(-1).flip(-1), zero], -1)
    negs = torch.cat([(fac < 0).flip(-1).cumsum(-1).flip(-1), zero], -1)

    def part(a: int):  # s = a .. tau - 1
        n_tail, i = tau - 1 - max(a, head + 1) + 1, min(a, head + 1) - 1
        return logs[..., i] + n_tail * tail.abs().log(), negs[..., i] + n_tail * (tail < 0)

    full, neg = part(1)
    return {k: (full + part(k)[0], 1.0 - 2.0 * ((neg + part(k)[1]) % 2)) for k in ks}


def trajectories(problem_id: str, beta: float, seeds: int, steps: int, every: int, lr: float):
    """Torch heavy ball (the sgd-momentum entry) on a (seeds, d) block fed by the problem's
    batched sample oracle; every ``every`` steps the conditions at w_t from the exact oracles,
    on copies (the trajectory is untouched). Returns {quantity: (logs, seeds) list} and the
    largest |(m_t - g_t) - beta m_{t-1}| seen."""
    import torch

    from optimizers.sgd_momentum import ENTRY
    from problems import make_problem

    torch.set_num_threads(1)
    tau = SETUP[problem_id]["tau"]
    p = make_problem(problem_id, SETUP[problem_id]["instance"])
    d, n = p.dim, p.n
    W = torch.stack([p.initial_point(s) for s in range(seeds)])
    opt = ENTRY.optimizer([W], lr=lr, momentum=beta)
    gens = [torch.Generator().manual_seed(1000 + s) for s in range(seeds)]
    basis, each = torch.eye(d, dtype=W.dtype).repeat(seeds, 1), torch.arange(n).repeat(seeds)[:, None]
    wstar, logs, ident, chunk = getattr(p, "w_star", None), {}, 0.0, 4096
    for t in range(steps):
        if t % chunk == 0:
            batch = torch.stack([p.draw(g, chunk) for g in gens], dim=1)  # (chunk, S, 1)
        log = t % every == 0
        if log:
            w = W.clone()
            m_prev = opt.state[W]["momentum_buffer"].clone() if t else torch.zeros_like(W)
        g = p.sample_loss_grad_rows(W, batch[t % chunk])[1]
        W.grad = g
        opt.step()
        if not log:
            continue
        m = opt.state[W]["momentum_buffer"]  # Wang's m_t: the buffer after the update with g_t
        ident = max(ident, float(((m - g) - beta * m_prev).abs().max()))
        f, G = p.loss_grad_rows(w)
        H = p.hvp_rows(w.repeat_interleave(d, 0), basis).view(seeds, d, d)
        lam, Q = torch.linalg.eigh(0.5 * (H + H.transpose(1, 2)))
        gi = p.sample_loss_grad_rows(w.repeat_interleave(n, 0), each)[1].view(seeds, n, d)
        dev = gi - gi.mean(1, keepdim=True)
        tr_hs = torch.einsum("snd,sde,sne->s", dev, H, dev) / n  # tr(H_t Sigma_t)
        gn2, mbar = (G * G).sum(1), beta * m_prev + G  # mbar = E_t m_t
        quad = lambda v: torch.einsum("sd,sde,se->s", v, H, v)  # noqa: E731
        row = {"apag": (G * (m - g)).sum(1) / gn2,
               "grace": (G * (g - m)).sum(1) / lr + 0.5 * quad(m),
               "grace_exp": -(G * (beta * m_prev)).sum(1) / lr + 0.5 * (quad(mbar) + tr_hs)}
        Gq, mq, mbq = (torch.einsum("sdj,sd->sj", Q, v) for v in (G, m, mbar))
        for k, (logm, sign) in log_products(lam, beta, lr, tau, (1, tau // 2, tau - 1)).items():
            wts = sign * torch.exp(logm - logm.max(1, keepdim=True).values)  # M_t / sigma_max
            row[f"apcg_exp_k{k}"] = (wts * Gq * mbq).sum(1) / (lr * gn2)
            if k == 1:
                row["apcg"] = (wts * Gq * mq).sum(1) / (lr * gn2)
        row = {k: torch.where(gn2 >= GRAD_ZERO ** 2, v, torch.nan) for k, v in row.items()}
        row.update(f=f, grad_norm=gn2.sqrt(), lam_min=lam[:, 0])
        if wstar is not None:
            row["dist"] = torch.minimum((w - wstar).norm(dim=1), (w + wstar).norm(dim=1)) / wstar.norm()
        logs.setdefault("t", []).append(t)
        for key, v in row.items():
            logs.setdefault(key, []).append(v.tolist())
    return logs, ident


def _job(args):
    return trajectories(*args)


def _frac(x, ok) -> tuple[int, float | None]:
    """(count of finite values, fraction of them with ok(x))."""
    x = x[x == x]
    return int(x.size), (float(ok(x).mean()) if x.size else None)


def _curve(t, x, ok, points: int = 60):
    """Fraction of the (seed, step) values in log-spaced bins of t that satisfy ok."""
    import numpy as np

    edges = np.unique(np.geomspace(max(t[1], 1), t[-1] + 1, points + 1).astype(int))
    xs, ys, idx = [], [], np.digitize(t, edges)
    for b in range(1, len(edges)):
        if (idx == b).any():
            xs.append(float(np.sqrt(edges[b - 1] * edges[b])))
            ys.append(_frac(x[idx == b], ok)[1])
    return xs, ys


def summarize(problem_id: str, beta: float, lr: float, logs: dict) -> tuple[dict, list]:
    """The fractions and tails the checks read, and the plot series, of one (problem, beta)."""
    import numpy as np

    from problems import make_problem

    a = {k: np.asarray(v, dtype=float) for k, v in logs.items()}
    t, tau = a["t"], SETUP[problem_id]["tau"]
    apag, apcg, grace = a["apag"], a["apcg_exp_k1"], a["grace_exp"]
    signs = np.stack([np.sign(a[f"apcg_exp_k{k}"]) for k in (1, tau // 2, tau - 1)])
    pos, neg, above = (lambda x: x >= 0), (lambda x: x <= 0), (lambda x: x > -0.5)
    out = {"seeds": a["f"].shape[1], "logs": len(t)}
    if problem_id == TOY:
        p = make_problem(problem_id, SETUP[problem_id]["instance"])
        below = a["f"] <= p.saddle.value - p.saddle.escape_delta
        t_esc = np.where(below.any(0), t[below.argmax(0)], np.inf)
        tau_e = (1 - beta) / (lr * abs(p.saddle.lambda_min))  # e-folding time of the escape
        rel = (t[:, None] - t_esc[None, :]) / tau_e
        phase = {"saddle": rel < -WINDOW, "window": abs(rel) <= WINDOW, "minimum": rel > WINDOW}
        out.update(escaped=int(np.isfinite(t_esc).sum()), t_esc_median=float(np.median(t_esc)),
                   tau_e=tau_e, steps_after_last_escape=float(t[-1] - t_esc.max()))
        out["apag_frac_outside_nofloor"] = _frac(apag[~phase["window"]], above)[1]
        apag = np.where(a["grad_norm"] >= GRAD_FLOOR, apag, np.nan)
        for key, sel in (("window", phase["window"]), ("outside", ~phase["window"])):
            out[f"apag_n_{key}"], out[f"apag_frac_{key}"] = _frac(apag[sel], above)
            out[f"apag_min_{key}"] = float(np.nanmin(apag[sel])) if out[f"apag_n_{key}"] else None
        region = a["lam_min"] < 0  # the saddle region
        apcg = np.where(region, apcg, np.nan)
        out["apcg_n"], out["apcg_frac"] = _frac(apcg, pos)
        out["apcg_frac_realized"] = _frac(a["apcg"][region], pos)[1]
        for key in ("saddle", "window"):
            out[f"apcg_frac_{key}"] = _frac(apcg[phase[key]], pos)[1]
        for key, sel in phase.items():
            x = grace[sel]
            out[f"grace_p99_{key}"] = float(np.nanquantile(x, 0.99)) if (x == x).any() else None
    else:
        near = a["dist"] <= 0.01
        out["t_dist_001_median"] = float(np.median(np.where(near.any(0), t[near.argmax(0)], np.inf)))
        for key, x, ok in (("apag", apag, pos), ("apcg", apcg, pos), ("grace", grace, neg)):
            out[f"{key}_n"], out[f"{key}_frac"] = _frac(x, ok)
            out[f"{key}_frac_far"], out[f"{key}_frac_near"] = (_frac(x[~near], ok)[1],
                                                               _frac(x[near], ok)[1])
        out["apcg_frac_realized"] = _frac(a["apcg"], pos)[1]
        out["grace_frac_realized"] = _frac(a["grace"], neg)[1]
    agree = (signs == signs[:1]).all(0)[apcg == apcg]
    out["k_sign_agreement"] = float(agree.mean()) if agree.size else None
    for label, k in (("half", tau // 2), ("last", tau - 1)):  # APCG >= 0 with the other k
        out[f"apcg_frac_k_{label}"] = _frac(a[f"apcg_exp_k{k}"][apcg == apcg], pos)[1]
    name = "toy" if problem_id == TOY else "PR"
    curves = [("APAG > -1/2" if name == "toy" else "APAG >= 0", apag, above if name == "toy" else pos),
              ("APCG >= 0", apcg, pos)] + ([("GrACE <= 0", grace, neg)] if name == "PR" else [])
    series = [Series(f"{name} beta {beta}: {label}", *_curve(t, x, ok)) for label, x, ok in curves]
    return out, series


COLUMNS = {TOY: ("t_esc_median", "apag_frac_window", "apag_n_window", "apag_frac_outside",
                 "apag_n_outside", "apcg_frac", "apcg_frac_realized", "apcg_frac_saddle",
                 "apcg_frac_window", "grace_p99_saddle", "grace_p99_window", "grace_p99_minimum"),
           PR: ("t_dist_001_median", "apag_frac", "apag_frac_far", "apag_frac_near", "apcg_frac",
                "apcg_frac_realized", "grace_frac", "grace_frac_realized")}
K_COLUMNS = ("k_sign_agreement", "apcg_frac_k_half", "apcg_frac_k_last")


class MomentumConditions(Claim):
    id = "D4"
    title = "Wang et al.'s sufficient conditions (APAG, APCG, GrACE) hold along heavy-ball runs"
    source = "Wang, Lin, Abernethy (ICLR 2020), Sec. 3 (APAG, APCG, GrACE) and Fig. 3-4"
    statement = ("Stochastic heavy ball escapes saddles fast when its momentum m_t satisfies: APAG, "
                 "<grad f, m_t - g_t> >= -||grad f||^2/2 where the gradient is large; APCG_tau, "
                 "<grad f, M_t m_t> >= -c' eta sigma_max(M_t) ||grad f||^2 near saddles (M_t: "
                 "products of I - eta theta_s Hess f over tau steps); GrACE, E_t[eta <grad f, g_t - "
                 "m_t> + eta^2/2 m_t^T Hess f m_t] <= eta^2 c_h. Along runs on the 2-D toy and on "
                 "phase retrieval the APAG ratio stays above -1/2 except while leaving the saddle "
                 "(toy) and is almost always >= 0 (phase retrieval), the APCG ratios are almost "
                 "always >= 0, and GrACE is bounded above (almost always <= 0 on phase retrieval).")
    setting = ("In-process: the quantities need the optimizer's momentum buffer and exact oracles "
               "along the trajectory, which sealed runs do not record. torch.optim.SGD (the "
               "sgd-momentum entry, dampening 0) on a block of 32 independent seeds fed by the "
               "problem's batched sample oracle (one sample per step, seed s's indices from "
               "generator seed 1000 + s); diagnostics from the exact gradient, Hessian and n "
               "per-sample gradients at w_t, on copies. Toy: reddi2d:canonical instance 0 from the "
               "saddle w_0 = 0, lr 5e-5, beta 0.9 (3e5 steps, logged every 125) and 0.5 (1.2e6, "
               "every 500), tau = 3e5. Phase retrieval as in D2: phase-retrieval:small[wstar=paper,"
               "init=paper], its paper-like instance 3, w_0 near the local maximum 0, lr 5e-4, "
               "beta 0.9 and 0.5, 3000 steps (dist(w_t, +-w*) <= 0.01 after about 630 and 2400), "
               "logged every 2, tau = 500. APCG with k = 1: M_t = P_t^2, P_t = "
               "prod_{s=1}^{tau-1} (I - eta theta_s H_t); k = tau/2 and tau - 1 for comparison.")
    metric = ("Per logged step and seed (m_t: the buffer after the update with g_t): APAG ratio "
              "<grad f, m_t - g_t>/||grad f||^2 (toy: where ||grad f|| >= 0.02); APCG ratio "
              "<grad f, M_t E_t m_t>/(eta sigma_max(M_t) ||grad f||^2) (toy: where lambda_min(H_t) "
              "< 0); GrACE E_t[<grad f, g_t - m_t>/eta + m_t^T H_t m_t/2] (E_t over the step's "
              "sample, exact for a finite sum). Toy transition: |t - t_esc| <= 2 tau_e, t_esc the "
              "first logged step with f <= f_s - (f_s - f*)/2, tau_e = (1 - beta)/(eta "
              "|lambda_min(w_s)|) (2e4 at beta 0.9, 1e5 at 0.5); GrACE's 99th percentile before "
              "(saddle phase), in and after (minimum) the transition.")
    expected = ("'Almost always': at least 90% of the logged (seed, step) values. Toy: APAG ratio > "
                "-1/2 at >= 90% of the logged steps outside the transition (judged on >= 20); APCG "
                ">= 0 at >= 90% of the saddle-region steps; GrACE bounded above: 99th percentile in "
                "the transition and at the minimum <= 2x the saddle phase's. Phase retrieval: APAG "
                ">= 0, APCG >= 0, GrACE <= 0, each at >= 90%. For beta 0.9 and 0.5; every toy run "
                "escapes and is followed for 2 tau_e after the last escape.")

    def _plan(self, scale: str):  # (problem, beta, seeds, steps, log every, lr)
        if scale == "reduced":  # a larger toy step, so that the escape takes a few thousand
            return [(TOY, 0.9, 4, 4000, 40, 2e-3), (TOY, 0.5, 4, 4000, 40, 2e-3),
                    (PR, 0.9, 4, 150, 2, 5e-4), (PR, 0.5, 4, 150, 2, 5e-4)]
        return [(TOY, 0.5, 32, 1_200_000, 500, 5e-5), (TOY, 0.9, 32, 300_000, 125, 5e-5),
                (PR, 0.9, 32, 3000, 2, 5e-4), (PR, 0.5, 32, 3000, 2, 5e-4)]

    def measure(self, records, scale):
        jobs = self._plan(scale)
        results = in_processes(_job, jobs)
        values, table, series, ident = {"scale": scale, "configs": {}}, [], [], 0.0
        for (pid, beta, _, steps, every, lr), (logs, err) in zip(jobs, results):
            out, ser = summarize(pid, beta, lr, logs)
            c = values["configs"][f"{'toy' if pid == TOY else 'PR'} {beta}"] = {
                "steps": steps, "every": every, "lr": lr, **out}
            table.append({"problem": pid, "beta": beta, "steps": steps, "runs": c["seeds"],
                          **{k: c[k] for k in COLUMNS[pid] + K_COLUMNS}})
            series, ident = series + ser, max(ident, err)
        values["m_identity_max_error"] = ident
        pr9, toy9 = values["configs"].get("PR 0.9", {}), values["configs"].get("toy 0.9", {})
        notes = [
            "m_t is torch's buffer after step t (Wang et al.: m_t = beta m_{t-1} + g_t, then "
            "w_{t+1} = w_t - eta m_t), so m_t - g_t = beta m_{t-1} (max |m_t - g_t - beta "
            f"m_(t-1)| = {ident:.1g}, rounding): the APAG ratio is fixed before the step's sample; "
            "E_t changes APCG (m_t -> beta m_{t-1} + grad f) and GrACE (+ tr(H_t Sigma_t)/2). "
            "Checks use E_t; *_realized use the drawn g_t.",
            "APCG, k = 1 (the definition leaves it free): sigma_max(M_t) belongs to H_t's most "
            "negative eigenvalue (the products grow like exp(tau eta |lambda|/(1 - beta))), so the "
            "ratio is essentially the product of grad f's and E_t m_t's components along that "
            "eigenvector; the toy's signs do not depend on k (k_sign_agreement), phase retrieval's "
            "do near w*, where all eigenvalues are positive: at beta 0.9, APCG >= 0 at "
            f"{_pct(pr9.get('apcg_frac'))} (k = 1), {_pct(pr9.get('apcg_frac_k_half'))} (tau/2), "
            f"{_pct(pr9.get('apcg_frac_k_last'))} (tau - 1).",
            "Toy APCG: before the transition the iterate's component along e_2 is a noise-driven "
            "walk and E_t m_t's sign there is nearly a coin flip (beta 0.9: "
            f"{_pct(toy9.get('apcg_frac_saddle'))} >= 0); in the transition "
            f"{_pct(toy9.get('apcg_frac_window'))}.",
            "Toy APAG: ||grad f|| >= 0.02 is about 4 standard deviations of the iterate's "
            "fluctuation along e_1 at the saddle and at the minimum, so nearly every logged value "
            "lies in the transition; without that floor see apag_frac_outside_nofloor. No ratio "
            f"where ||grad f|| < {GRAD_ZERO:g} (the toy's start, and phase retrieval within "
            "rounding of w*, where all per-sample gradients vanish).",
            "Plot: fraction of the logged values meeting each condition in log-spaced bins of t "
            "(the ratios themselves span -1e4 to 1e5, APCG and GrACE carrying 1/eta); the toy's "
            "GrACE, a bound rather than a sign, is in the table.",
        ]
        plot = Plot("iteration t", "fraction meeting the condition",
                    xscale="log", hlines={f"almost always ({ALMOST:.0%})": ALMOST})
        return Measurement(values, table, series, plot, notes)

    def checks(self, m):
        cfg, out = m.values["configs"], []

        def almost(name, frac, n, least=1):
            out.append(Check(name, f">= {ALMOST:.0%}" + (f" of >= {least}" if least > 1 else ""),
                             f"{_pct(frac)} of {n}", n is not None and n >= least
                             and frac is not None and frac >= ALMOST))

        for beta in BETAS:
            c = cfg.get(f"toy {beta}", {})
            after, tau_e = c.get("steps_after_last_escape"), c.get("tau_e")
            out.append(Check(f"toy beta {beta}: every run escapes and is followed past it",
                             f"all escape; >= {WINDOW:g} tau_e logged after the last",
                             f"{c.get('escaped')}/{c.get('seeds')}; {_g(after)} steps "
                             f"(tau_e {_g(tau_e)})", c.get("escaped") == c.get("seeds")
                             and after is not None and after >= WINDOW * tau_e))
            almost(f"toy beta {beta}: APAG ratio > -1/2 outside the transition",
                   c.get("apag_frac_outside"), c.get("apag_n_outside"), MIN_LOGGED)
            almost(f"toy beta {beta}: APCG ratio >= 0 in the saddle region", c.get("apcg_frac"),
                   c.get("apcg_n"))
            s, w, mn = (c.get(f"grace_p99_{k}") for k in ("saddle", "window", "minimum"))
            out.append(Check(f"toy beta {beta}: GrACE bounded above (99th percentile)",
                             f"transition, minimum <= {GROWTH:g}x saddle phase",
                             f"saddle {_g(s)}, transition {_g(w)}, minimum {_g(mn)}",
                             None not in (s, w, mn) and max(w, mn) <= GROWTH * abs(s)))
        for beta in BETAS:
            c = cfg.get(f"PR {beta}", {})
            for key, label in (("apag", "APAG ratio >= 0"), ("apcg", "APCG ratio >= 0"),
                               ("grace", "GrACE <= 0")):
                almost(f"PR beta {beta}: {label} almost always", c.get(f"{key}_frac"),
                       c.get(f"{key}_n"))
        return out


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


CLAIM = MomentumConditions()
