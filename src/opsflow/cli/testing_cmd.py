"""``opsflow test``: run scenario files against the workflows (SPEC §3.1)."""

from __future__ import annotations

from pathlib import Path

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option


@click.command(name="test")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@json_option
def test_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Run scenario tests (default: the workflows folder's tests/*.test.yaml).

    Each case runs on a fresh in-memory database with a simulated clock; notifications
    are captured, never sent. Exits 0 when every case passed, 1 otherwise, 65 when a
    scenario file cannot be read.

    Examples:

    \b
      opsflow test
      opsflow test workflows/tests/content_approval.test.yaml
      opsflow test --json | jq '.cases[] | select(.passed | not)'

    \b
    A scenario file:
      workflow: content_approval
      team: {ann: [author], ed: [editor]}
      cases:
        - name: an editor approves
          start: {as: ann, data: {title: Hello}}
          steps:
            - {fire: submit, as: ann, expect: editorial_review}
            - {fire: approve, as: ann, expect_error: not_permitted}
            - {advance: 3d}
    """
    from opsflow.scenarios import engine_factory, run_files, scenario_files

    ctx = app()
    settings = ctx.settings()
    paths = scenario_files(list(files), settings.workflows_dir)
    report = run_files(paths, engine_factory(settings, ctx.plugins()), settings.zone)
    if as_json:
        out.emit_json(report.to_json())
    else:
        for result in report.results:
            if result.passed:
                out.echo(f"PASS {result.workflow}: {result.name}")
                continue
            out.echo(f"FAIL {result.workflow}: {result.name}  ({result.file}:{result.line})")
            for failure in result.failures:
                out.echo(f"  {failure}")
        out.echo(f"{report.passed} passed, {report.failed} failed")
    if report.failed:
        raise click.exceptions.Exit(1)


COMMANDS = [test_command]
