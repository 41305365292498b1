"""``python -m sk_dispersion`` runs the command line."""

from sk_dispersion.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
