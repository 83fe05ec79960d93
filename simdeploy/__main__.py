"""`python -m simdeploy` runs the command line."""

from simdeploy.cli import app

app(prog_name="simdeploy")
