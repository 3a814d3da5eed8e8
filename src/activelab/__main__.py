"""``python -m activelab``: the command line (see :mod:`activelab.cli`)."""

from activelab.cli import main

# The guard matters: worker processes are spawned and re-import the main module.
if __name__ == "__main__":
    main()
