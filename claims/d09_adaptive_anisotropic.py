r"""D9: adaptive methods escape faster than SGD when the noise is anisotropic (Staib, Reddi, Kale,
Kumar, Sra, ICML 2019).

Mechanism: a diagonal preconditioner :math:`v_j \approx \mathbb E g_j^2 \approx \sigma_j^2` near the
saddle turns the step along an axis-aligned negative direction into :math:`\eta/\sigma_-` and its
noise into :math:`\approx\eta`, so the linearized escape time
:math:`T \approx \frac{1}{2\eta\mu}\ln(1 + \frac{2\mu R^2}{k\eta\sigma_-^2})` of SGD becomes about
:math:`\frac{\sigma_-}{2\eta\mu}\ln(1 + \frac{2\mu R^2}{\eta\sigma_-})`: about :math:`1/\sigma_-`
times shorter at equal eta. A rotation spreads the negative direction over all coordinates, where
the preconditioner sees the large noise, and the advantage shrinks.
"""

from __future__ import annotations

from bench.claims import Check, Claim, Measurement, Plot, Series, choice, escape_summary

ENTRIES = ("sgd", "rmsprop", "adam", "adagrad", "amsgrad")
EMA = ("rmsprop", "adam", "amsgrad")  # preconditioner = moving average of g^2 (tracks the noise)
GRID = (5e-5, 1.5e-4, 5e-4, 1.5e-3, 5e-3, 1.5e-2, 5e-2, 1.5e-1)  # half decades from 5e-5
ETA_REF = 5e-5  # the reference step on reddi2d
ETA_EQ = 5e-3  # equal-eta step on quad-saddle: the smallest grid step where SGD escapes everywhere
CERTIFIED = 0.75  # a step qualifies for the best-eta comparison if this fraction certifies
#: T_esc range (8 seeds) at eta = 5e-5 on reddi2d:canonical at f <= -0.005 (our level: escape_delta
#: 0.005 below f_s = 0), an independent numpy implementation
REFERENCE = {"rmsprop": (2.0e4, 5.0e4), "adam": (2.2e4, 5.7e4), "sgd": (1.3e6, 1.9e6)}
FACTOR = 1.5
REDDI = "reddi2d:canonical[escape_delta=0.005]"
REDDI_ROT = "reddi2d:canonical[escape_delta=0.005,rotate=true]"
ETA_ROT = 5e-4  # equal-eta step of the reddi2d rotation comparison (SGD escapes in ~1.4e5)
# (problem id, budgets in sample gradients: an entry-specific one where given, lr grid, stop rule).
# The runs of one entry on one problem form one seed batch, its steps rows with their own lr: a
# batch costs about its slowest row's steps times one harness-worker round trip, whatever its
# rows, so SGD on reddi2d sets the claim's longest batch. Its budget, 6.4e5, is what the checks
# need: above 20 x the adaptive T_esc at lr 5e-5 (about 2.7e4), so SGD's censored median there
# still bounds the equal-eta ratio (>= 20) from below, and above every SGD run at lr 1.5e-4
# (certified by 6.2e5). The other budgets lie above every certification at a step where >= 75%
# of runs certify and above every median T_esc (reddi2d adaptive: 6.6e4; quad-saddle:medium:
# 2.7e4), so no number the checks read depends on them. The rotated reddi2d needs T_esc only.
SGD_REDDI_BUDGET = 640_000
FULL = [(REDDI, {"sgd": SGD_REDDI_BUDGET, "*": 70_000}, GRID, "sosp"),
        (REDDI_ROT, {"sgd": 400_000, "*": 70_000}, (ETA_ROT,), "escape")] + [
    (f"quad-saddle:small{o}", {"*": 20_000}, GRID, "sosp") for o in
    ("", "[rotate=true]", "[noise=iso]", "[noise=hard]")] + [
    (f"quad-saddle:medium{o}", {"*": 30_000}, GRID, "sosp") for o in ("", "[rotate=true]")]
REDUCED = [("quad-saddle:small", {"*": 5_000}, (1.5e-2,), "sosp"),
           (REDDI_ROT, {"*": 20_000}, (1.5e-2,), "escape")]
AXIS = ("quad-saddle:small", "quad-saddle:medium")  # aniso, not rotated
#: (axis-aligned problem, its rotation, the equal step of the comparison)
ROTATIONS = ((REDDI, REDDI_ROT, ETA_ROT),) + tuple((p, p + "[rotate=true]", ETA_EQ) for p in AXIS)


class AdaptiveEscapeFaster(Claim):
    id = "D9"
    title = "Adaptive methods escape saddles faster than SGD when the gradient noise is anisotropic"
    source = "Staib, Reddi, Kale, Kumar, Sra (ICML 2019)"
    statement = ("Diagonal adaptive methods (RMSProp, Adam, AMSGrad, Adagrad) precondition the "
                 "stochastic gradient by the inverse square root of its running second moment. "
                 "Near a saddle whose negative-curvature direction carries little noise, this "
                 "rescales the noise to be nearly isotropic and enlarges the step along that "
                 "direction, so they escape the saddle much sooner than SGD.")
    setting = ("reddi2d:canonical (2-D, noise variance 1e-3 along the negative direction and 0.1 "
               "along the positive one), escape level f <= -0.005 (escape_delta = 0.005), not "
               "rotated and Haar-rotated (instance 0's rotation: 100.9 degrees, 10.9 degrees from "
               "swapping the axes), and quad-saddle:small (d = 10, k = 1) with noise presets aniso "
               "(sigma_-^2 = 1e-3; not rotated and Haar-rotated), iso (0.1) and hard (1e-5) (not "
               "rotated); quad-saddle:medium (d = 100, k = 5) aniso, not rotated and rotated. "
               "Entries sgd, rmsprop, adam, adagrad, amsgrad (torch defaults besides lr), started exactly at the saddle, batch 1, for lr in 5e-5 * 10^(j/2), j = 0..7 "
               "(5e-5 to 0.15); the rotated reddi2d at lr 5e-4 only; 8 runs per step and problem "
               "(instance 0). Runs stop at their first certified SOSP, those on the rotated "
               "reddi2d at their escape (stop rule escape). Budgets: reddi2d 6.4e5 sample gradients "
               "for SGD and 7e4 for the adaptive entries (rotated: 4e5 and 7e4), quad-saddle "
               "small 2e4, medium 3e4.")
    metric = ("T_esc: sample gradients until the escape test holds (reddi2d: f <= f_s - 0.005 = "
              "-0.005; quad-saddle: projection on the negative eigenspace >= R); median over runs, "
              "censored runs counted as not escaped. Equal-eta ratio T_SGD / T_adaptive at lr = "
              "5e-5 (reddi2d) and 5e-3 (quad-saddle), and at 5e-4 on reddi2d against its rotation; "
              "where SGD is censored the ratio is a lower bound budget / T_adaptive. Best eta: the "
              "smallest median T_esc over the steps where at least 75% of runs certify an SOSP "
              "within the budget.")
    expected = ("Axis-aligned aniso: adaptive beats SGD at equal eta by about 1/sigma_- (~30x); "
                "reference at lr = 5e-5 on reddi2d (an independent numpy implementation, 8 "
                "seeds): RMSProp 2.0-5.0e4, Adam 2.2-5.7e4, SGD 1.3-1.9e6. At the best eta adaptive "
                "still faster; iso: little or no advantage at the best eta; rotated: a smaller "
                "advantage (reference, 2-D at 45 degrees: about 7x at equal eta).")
    version = "3"

    def _plan(self, scale):
        if scale == "reduced":
            return {"problems": REDUCED, "entries": ("sgd", "rmsprop"), "seeds": 4}
        return {"problems": FULL, "entries": ENTRIES, "seeds": 8}

    def tasks(self, scale):
        plan, out = self._plan(scale), []
        for problem, budgets, grid, stop in plan["problems"]:
            for entry in plan["entries"]:
                for eta in grid:
                    out += [self.task(choice(f"{entry}[lr={eta}]"), problem, s,
                                      budget=budgets.get(entry, budgets["*"]), scale=scale,
                                      stop=stop) for s in range(plan["seeds"])]
        return out

    def measure(self, records, scale):
        from problems import canonical_id

        plan = self._plan(scale)
        values, table, series = {"scale": scale, "problems": {}}, [], []
        for problem, budgets, grid, _ in plan["problems"]:
            pid, per = canonical_id(problem), {}
            for entry in plan["entries"]:
                med, cert, esc = [], [], []
                for eta in grid:
                    runs = [r for r in records if r.problem == pid and r.entry_name == entry
                            and r.hparams.get("lr") == eta]
                    s = escape_summary(runs)
                    med.append(s["median"])
                    esc.append(s["escaped"])
                    cert.append(sum(r.status == "certified" for r in runs) / max(1, len(runs)))
                per[entry] = {"eta": list(grid), "median": med, "escaped": esc,
                              "certified": cert, "budget": budgets.get(entry, budgets["*"])}
            values["problems"][pid] = per
            eq = ETA_REF if pid == REDDI else ETA_EQ if scale == "full" else grid[0]
            eq = ETA_ROT if pid == REDDI_ROT and scale == "full" else eq
            for entry in plan["entries"]:
                b_eta, b_t = best(per[entry])
                t_eq = at(per[entry], eq)
                ratio = ratio_at(per, entry, eq) if entry != "sgd" else None
                table.append({"problem": pid, "entry": entry, "equal lr": eq,
                              "T_esc at equal lr": t_eq[0] if not t_eq[1] else f">{t_eq[0]:.3g}",
                              "SGD / this at equal lr": _fmt_ratio(ratio),
                              "best lr": b_eta, "T_esc at best lr": b_t})
        if "quad-saddle:small" in values["problems"]:
            for entry, d in values["problems"]["quad-saddle:small"].items():
                series.append(Series(f"{entry} (quad-saddle:small)", d["eta"], d["median"]))
        notes = [
            "The quality constraint of the best-eta comparison is the benchmark's SOSP certificate "
            "(at least 75% of runs certify within the budget), not a tail suboptimality f - f* <= "
            "1e-3 (f_s - f*): the stop rule budget would measure that tail, but every run would "
            "then last its whole budget (SGD on reddi2d alone: 8 steps x 8 runs x 6.4e5 sample "
            "gradients), beyond this claim's compute budget.",
            "SGD at lr = 5e-5 on reddi2d is run to 6.4e5 sample gradients only (the reference "
            "1.3-1.9e6 is beyond the compute budget of this claim; 6.4e5 is above 20 times the "
            "adaptive entries' T_esc there, the ratio the check needs): its median is censored and the "
            "equal-eta ratios on reddi2d are lower bounds. On quad-saddle the equal-eta comparison "
            "is at lr = 5e-3 (SGD at 5e-5 would need about 1.3e6 sample gradients per problem).",
            "Rotations are Haar-random, not the reference's 45 degrees (about 7x): all d "
            "coordinates on quad-saddle; on reddi2d instance 0 a turn by 100.9 degrees, 10.9 "
            "degrees from an exchange of the axes (which would keep the negative direction on an "
            "axis), so its noise along the coordinate nearest the negative direction rises from "
            "1e-3 to about 4.6e-3 only. The reddi2d rotation is compared at lr = 5e-4 (SGD at 5e-5 "
            "would need about 1.5e6 sample gradients per run to be uncensored); SGD is rotation "
            "equivariant, so its T_esc is the same on both. quad-saddle:medium is run with the "
            "aniso preset only, and the iso and hard presets of quad-saddle:small without "
            "rotation (compute budget; a rotation leaves isotropic noise isotropic).",
            "Adagrad's accumulated preconditioner shrinks its step like 1/sqrt(t), so at small equal "
            "steps it escapes later than SGD (or not at all); the equal-eta checks use the "
            "moving-average methods (RMSProp, Adam, AMSGrad), the best-eta checks all four.",
            "At large lr the first steps of the adaptive methods are normalized (v_0 = 0): Adagrad's "
            "first step is lr sign(g) in every coordinate, RMSProp's about 10 lr sign(g), a jump of "
            "about lr per coordinate whatever the gradient noise. At their best lr much of the "
            "escape is this jump, not the preconditioned noise; on iso noise the best-lr T_esc are "
            + _best_line(values["problems"].get("quad-saddle:small[noise=iso]")) + ".",
            "Escape levels: reddi2d f <= -0.005 (escape_delta = 0.005, the level of the reference "
            "values; the benchmark's default, f_s - (f_s - f*)/2 = -0.0063, comes a little "
            "later); quad-saddle the projection test."]
        return Measurement(values, table, series,
                           Plot("lr", "median T_esc (sample gradients)", xscale="log", yscale="log"),
                           notes)

    def checks(self, m):
        probs, out = m.values["problems"], []
        if m.values["scale"] == "reduced":
            r = ratio_at(probs["quad-saddle:small"], "rmsprop", 1.5e-2)
            return [Check("quad-saddle:small: SGD / RMSProp T_esc at lr = 1.5e-2", ">= 10",
                          _fmt_ratio(r), r is not None and r[0] >= 10)]
        reddi = probs[REDDI]
        for entry in ("rmsprop", "adam"):
            t, lo, hi = at(reddi[entry], ETA_REF), *REFERENCE[entry]
            ok = not t[1] and lo / FACTOR <= t[0] <= hi * FACTOR
            out.append(Check(f"reddi2d, lr = 5e-5: {entry} median T_esc", f"in [{lo:.2g}, {hi:.2g}] "
                             f"within x{FACTOR}", _fmt_t(t), ok))
        for pid, eta, need in ((REDDI, ETA_REF, 20.0),) + tuple((p, ETA_EQ, 10.0) for p in AXIS):
            rs = {e: ratio_at(probs[pid], e, eta) for e in EMA}
            ok = all(r is not None and r[0] >= need for r in rs.values())
            out.append(Check(f"{pid}, equal lr = {eta:g}: SGD / adaptive T_esc (RMSProp, Adam, "
                             f"AMSGrad)", f">= {need:g} (about 1/sigma_- = 32)",
                             ", ".join(_fmt_ratio(r) for r in rs.values()), ok))
        for pid, rot, eta in ROTATIONS:
            pairs = [(ratio_at(probs[pid], e, eta), ratio_at(probs[rot], e, eta)) for e in EMA]
            ok = all(a is not None and b is not None and not b[1] and b[0] < a[0] for a, b in pairs)
            out.append(Check(f"{pid}: rotation shrinks the equal-eta advantage at lr = {eta:g} "
                             f"(RMSProp, Adam, AMSGrad)", "rotated ratio < axis-aligned ratio",
                             "; ".join(f"{_fmt_ratio(b)} vs {_fmt_ratio(a)}" for a, b in pairs), ok))
        for pid in (REDDI,) + AXIS:
            sgd = best(probs[pid]["sgd"])[1]
            ad = {e: best(probs[pid][e])[1] for e in ENTRIES[1:]}
            ok = sgd is not None and all(t is not None and t < sgd for t in ad.values())
            out.append(Check(f"{pid}: best-lr T_esc, every adaptive entry < SGD",
                             "adaptive faster", f"SGD {_g(sgd)}; " + ", ".join(
                                 f"{e} {_g(t)}" for e, t in ad.items()), ok))
        iso = probs["quad-saddle:small[noise=iso]"]
        sgd, ad = best(iso["sgd"])[1], [best(iso[e])[1] for e in ENTRIES[1:]]
        fastest = min((t for t in ad if t is not None), default=None)
        r = sgd / fastest if sgd and fastest else None
        out.append(Check("quad-saddle:small[noise=iso]: best-lr SGD / fastest adaptive T_esc",
                         "<= 3 (little or no advantage)", _g(r), r is not None and r <= 3))
        return out


def _best_line(per) -> str:
    if not per:
        return "-"
    return ", ".join(f"{e} {_g(best(d)[1])} (lr {_g(best(d)[0])})" for e, d in per.items())


def best(d):
    """(lr, median T_esc) of the fastest step whose runs certify (fraction >= CERTIFIED)."""
    ok = [(t, eta) for eta, t, c in zip(d["eta"], d["median"], d["certified"])
          if t is not None and c >= CERTIFIED]
    return (min(ok)[1], min(ok)[0]) if ok else (None, None)


def at(d, eta):
    """(median T_esc, censored?) at lr = eta; a censored median is reported as the budget."""
    t = d["median"][d["eta"].index(eta)]
    return (d["budget"], True) if t is None else (t, False)


def ratio_at(per, entry, eta):
    """(T_SGD / T_entry at lr = eta, lower bound?); None when the entry's own median is censored."""
    sgd, own = at(per["sgd"], eta), at(per[entry], eta)
    return None if own[1] else (sgd[0] / own[0], sgd[1])


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _fmt_t(t) -> str:
    return f"> {t[0]:.3g} (censored)" if t[1] else f"{t[0]:.3g}"


def _fmt_ratio(r) -> str:
    return "-" if r is None else (">= " if r[1] else "") + f"{r[0]:.3g}"


CLAIM = AdaptiveEscapeFaster()
