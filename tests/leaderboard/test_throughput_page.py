"""The Throughput page: built from `bench throughput` records, one section per hardware id;
without records it says so."""

import shutil

import torch

from bench import throughput as tp
from bench import throughput_measure as tm
from bench.profiles import get_profile
from leaderboard import site


class FixedTimer(tm.Timer):
    def start(self) -> None:
        pass

    def stop(self) -> float:
        return 2.0


def test_page_shows_the_records(small_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(small_results, results)
    entries = tp.load_entries(["sgd", "adam"])
    recs, skipped, failed = tp.measure_all(entries, ["quad-saddle:medium"], [1, 2],
                                           profile=get_profile("cpu"), device=torch.device("cpu"),
                                           steps=4, timer=FixedTimer(), copy={"gb_per_s": 0.5})
    assert len(recs) == 4 and not skipped and not failed
    path = results / tp.FOLDER / f"{recs[0]['hardware_id']}{tp.SUFFIX}"
    for r in recs:
        tp.append_record(path, r)
    out = site.build_site(results, tmp_path / "site", tmp_path / "src")
    md = (out.src_dir / "docs" / "throughput.md").read_text()
    hid = recs[0]["hardware_id"]
    assert f"## Hardware `{hid}`" in md and "No throughput records" not in md
    # 4 steps of 1 row in 2 s = 2 grads/s; (3 + 2 + 3) x 100 x 8 bytes per step / 0.5 s
    assert "| `sgd` | `quad-saddle:medium` | 100 | 1 | 2 | 1.28e-05 | 0.00256% | 0.50 | 4 |" in md
    assert "| `adam` | `quad-saddle:medium` | 100 | 2 | 4 |" in md
    html = (out.site_dir / "throughput.html").read_text()
    assert hid in html and "quad-saddle:medium" in html
    assert (out.src_dir / "docs" / "assets" / "plots" / f"throughput-{hid}-cpu-cpu.svg").is_file()
    assert "throughput.html" in (out.site_dir / "index.html").read_text()  # in the nav


def test_page_without_records_says_so(small_results, tmp_path):
    out = site.build_site(small_results, tmp_path / "site", tmp_path / "src", throughput=[])
    md = (out.src_dir / "docs" / "throughput.md").read_text()
    assert "No throughput records yet" in md and "## Hardware" not in md
    assert (out.site_dir / "throughput.html").is_file()
