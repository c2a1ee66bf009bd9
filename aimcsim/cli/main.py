"""The `aimcsim` command: a parser that knows every command by name and a line of help,
and imports only the module of the command it runs (`aimcsim/cli/<command>.py`: its
`arguments(parser)` and `execute(args)`), so `--version` and `--help` start in a fraction of
a second. A new command is one module and one entry in `COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from aimcsim import __version__
from aimcsim.errors import AimcsimError, AimcsimWarning

#: every command, in the order `aimcsim --help` lists them, with its line of help
COMMANDS = {
    "run": "simulate a workload on an architecture",
    "search": "exact search of pipeline, token parallelism, buffer " "policy and cluster size",
    "sweep": "run a design-space sweep from a sweep YAML",
    "plot": "draw a figure from a run, search, sweep or serve folder",
    "report": "one self-contained HTML page of a run, search, sweep or serve folder (figures "
              "embedded; opens offline)",
    "compare": "AIMC-only vs hybrid per point of a sweep folder",
    "decode": "prefill and decode of a decoder model: time to first token, time per output "
              "token",
    "serve": "a request stream over many adapters on one programmed chip: batching, adapter "
             "caching, time to first token and per output token",
    "reload": "the cost of switching tasks (reloading LoRA adapters) and of a request stream "
              "with a task mix",
    "trace": "generate a workload trace from a model configuration",
    "gpu": "a roofline GPU estimate of a model's prefill or decode step (not simulated)",
    "kernel": "run one kernel on the cycle-level cluster (JSON)",
    "schema": "write the JSON Schemas of architecture files and workload traces (for editors: "
              "# yaml-language-server: $schema=arch.schema.json)",
}


class _Help(argparse.HelpFormatter):
    """Help that shows each option's default, unless the help text already says it (or there
    is none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is argparse.SUPPRESS
                or not action.option_strings or isinstance(default, bool)
                or (isinstance(default, (list, tuple)) and not default)):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)
        #: (the top level's) the parser of the command being run, once it is known
        self.command: _Parser | None = None

    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        # (argparse leaves options no command knows to the top level: they are the command's)
        where = self.command if message.startswith("unrecognized") and self.command else self
        command = where._cmd()
        named = f"{command}: " if command else ""
        see = " ".join(word for word in ("aimcsim", command, "--help") if word)
        self.exit(2, f"aimcsim: error: {named}{message}{_did_you_mean(message, where)} "
                  f"(see '{see}')\n")

    def _cmd(self) -> str:
        return self.prog.split(" ", 1)[1] if " " in self.prog else ""

    def options(self) -> list[str]:
        return [o for action in self._actions for o in action.option_strings]


def set_argument(parser: argparse.ArgumentParser) -> None:
    """`--set PATH=VALUE`, repeatable: one value of the architecture changed without a file
    (`aimcsim.spec.overrides`); `--adapter FILE`: a PEFT adapter, as the `--set` of
    `lora.adapter` it stands for."""
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="change one value of the architecture, by its YAML dot-path "
                        "(e.g. pmca.tcdm_bytes=65536; repeatable), validated as the file's")
    parser.add_argument("--adapter", action=_Adapter, metavar="ADAPTER_CONFIG.JSON",
                        help="a PEFT LoRA adapter_config.json (lora.adapter): its r, "
                        "target_modules, rank_pattern and layers_to_transform say which "
                        "layers carry an adapter and of what rank")


class _Adapter(argparse.Action):
    """`--adapter FILE`: read (so a bad file is this option's error), then `lora.adapter=FILE`
    appended to `--set`."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 value: Any, option_string: str | None = None) -> None:
        import json
        from pathlib import Path

        from aimcsim.errors import SpecError
        from aimcsim.spec.adapter import read_adapter

        try:
            read_adapter(value)
            path = Path(value).resolve()
        except (SpecError, ValueError, OSError) as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        # (JSON text is a YAML scalar: the path survives any character)
        namespace.set = [*(getattr(namespace, "set", None) or []),
                         f"lora.adapter={json.dumps(str(path))}"]


def _did_you_mean(message: str, parser: _Parser) -> str:
    """"; did you mean ..." for a mistyped choice or option, when one is close."""
    import difflib  # (only on an error: the command line's start stays light)

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        close = difflib.get_close_matches(choice[1], re.findall(r"'([^']*)'", choice[2]), n=1)
        return f"; did you mean '{close[0]}'?" if close else ""
    if message.startswith("unrecognized arguments:"):
        guesses = [f"{close[0]} for {word}" for word in message.split(":", 1)[1].split()
                   if word.startswith("-")
                   for close in (difflib.get_close_matches(word.split("=")[0],
                                                           parser.options(), n=1),)
                   if close]
        return "".join(f"; did you mean {guess}?" for guess in guesses)
    return ""


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of `command` (the one to run) only: the other commands'
    modules are not imported."""
    parser = _Parser(prog="aimcsim", description="A co-simulator of analog in-memory "
                     "computing tiles and RISC-V clusters running LoRA adapters.")
    parser.add_argument("--version", action="version", version=f"aimcsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        arguments = sub.add_parser(name, help=help_text)
        if name == command:
            _module(name).arguments(arguments)
            parser.command = arguments
    return parser


def _module(command: str) -> Any:
    return importlib.import_module(f"aimcsim.cli.{command}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # the command is the first word that is no option (the top level's take no value)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command if command in COMMANDS else None).parse_args(argv)

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"aimcsim: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():  # the library's warnings, as one plain line each
        warnings.simplefilter("default", AimcsimWarning)
        warnings.showwarning = show
        try:
            return _module(args.command).execute(args)
        except (AimcsimError, ValueError, OSError) as exc:
            print(f"aimcsim: error: {exc}", file=sys.stderr)
            return 2
