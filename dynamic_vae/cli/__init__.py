"""The `dynamic-vae` command line: one module per command group.

`main` runs a command; `build_parser` is its argument parser. The library never imports this
package: commands are a thin layer over it.
"""

from dynamic_vae.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
