"""``wavelens report``: rebuild report.html from saved results."""

import os

import click

from ..report import build_report


@click.command("report")
@click.argument("folder", type=click.Path())
def report_command(folder):
    """Rebuild FOLDER/report.html from the results a wavelens command saved in FOLDER.

    FOLDER is the --out folder of 'wavelens analyze', 'communities', 'duplicates'
    or 'noise-curve'. The report is one self-contained HTML file: open it in any
    browser, offline.
    """
    path = build_report(folder)
    # As bytes: a folder name need not be valid UTF-8 (it reaches Python with surrogates).
    click.echo(b"Wrote " + os.fsencode(path) + b".")
