"""``bench leaderboard build|serve``: the static leaderboard site.

bench/cli.py wires it in with ``add_commands(subparsers)`` on a subparser named "leaderboard".
Imports are lazy: pandas and matplotlib load only when a site is built.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

DEFAULT_RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def add_commands(subparsers) -> argparse.ArgumentParser:
    lb = subparsers.add_parser("leaderboard", help="build or preview the static leaderboard site",
                               description="Build the leaderboard site from run records, or serve it locally.")
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="{build,serve}")
    sub.required = True
    b = sub.add_parser("build", help="write the static site (markdown + plots + mkdocs build --strict)")
    b.add_argument("--results", default=str(DEFAULT_RESULTS),
                   help="results folder (JSONL records, searched recursively; default: %(default)s)")
    b.add_argument("--out", default="site", help="output folder of the static site (default: %(default)s)")
    b.add_argument("--src", default="build/site-src",
                   help="build folder for the generated pages and mkdocs.yml (default: %(default)s)")
    b.add_argument("--claims", default=None,
                   help="folder of the claims' results (default: leaderboard/claims, the committed ones)")
    b.add_argument("--no-strict", action="store_true", help="do not pass --strict to mkdocs")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("serve", help="serve a built site on http://127.0.0.1:PORT/ (local preview)")
    s.add_argument("--dir", default="site", help="the built site (default: %(default)s)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    s.set_defaults(func=cmd_serve)
    return lb


def cmd_build(args) -> int:
    from leaderboard.site import BuildError, build_site

    results = pathlib.Path(args.results)
    if not results.is_dir():
        print(f"error: results folder {str(results)!r} does not exist; run `bench run ... --results "
              f"{results}` first or pass --results DIR", file=sys.stderr)
        return 2
    try:
        res = build_site(results, args.out, args.src, strict=not args.no_strict, claims=args.claims)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items())
    print(f"built {res.site_dir}/ from {res.n_records} records ({len(res.entries)} entries) "
          f"in {res.seconds:.1f} s ({steps}; {res.plots_drawn} plots drawn, {res.plots_cached} "
          f"from the cache), {res.bytes / 2**20:.2f} MiB; preview: bench leaderboard serve --dir "
          f"{res.site_dir}")
    return 0


def cmd_serve(args) -> int:
    import functools
    import http.server

    root = pathlib.Path(args.dir)
    if not (root / "index.html").is_file():
        print(f"error: no built site in {str(root)!r}; run `bench leaderboard build --out {root}` first",
              file=sys.stderr)
        return 2
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); try --port",
              file=sys.stderr)
        return 1
    print(f"serving {root}/ on http://{args.host}:{server.server_address[1]}/ (Ctrl+C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m leaderboard.cli build``) until bench/cli.py wires it."""
    parser = argparse.ArgumentParser(prog="leaderboard")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(["leaderboard", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
