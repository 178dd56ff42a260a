"""Each problem page lists its family's diagnostics (problems.diagnostics) with their meaning."""

from leaderboard.markdown import cell
from problems import families


def test_problem_pages_list_the_familys_diagnostics(built_site):
    for family in ("reddi2d", "quad-saddle"):
        md = (built_site.src_dir / "docs" / "problems" / f"{family}.md").read_text()
        section = md[md.index("## Diagnostics"):]
        section = section[:section.index("\n## ", 1)]
        for name, diagnostic in families()[family].diagnostics.items():
            assert f"| `{name}` | {cell(diagnostic.help)} |" in section, name
        assert "bench run --diagnostics" in section
