"""Bodies of the `bridge` commands (cli.py only wires argparse)."""
