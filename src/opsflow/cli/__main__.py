"""``python -m opsflow.cli``: the opsflow command."""

from opsflow.cli import main

if __name__ == "__main__":
    main()
