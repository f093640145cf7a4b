"""``python -m opsflow``: the opsflow command."""

from opsflow.cli import run

if __name__ == "__main__":
    run()
