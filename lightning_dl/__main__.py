"""``python -m lightning_dl`` is ``lightning-dl``."""

from lightning_dl.cli import main

if __name__ == "__main__":
    main()
