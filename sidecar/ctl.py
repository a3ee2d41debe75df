"""`livefoley ctl`: steer and watch a running sidecar from a terminal or a script.

    livefoley ctl [--session NAME | --connection-file F] [--json] COMMAND
    COMMAND: hello | status | configure KEY=VALUE... | start | stop | reset | prompt TEXT
             | watch [--count N] | ping | shutdown | keygen DIR

Human-readable output by default; `--json` prints one JSON document per reply (one per line
for `watch`), and an error reply as {"ok": false, "code": ..., "message": ...} with exit 2.
Without --session/--connection-file the only session in the runtime dir is used.

What this is not: a second protocol implementation; it is a thin shell over ControlClient.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from livefoley.protocol.control.codes import ControlError
from livefoley.protocol.control.connection import runtime_dir
from livefoley.protocol.control.schema import CONFIGURE_ARGS, OPS, parse_cli_value
from livefoley.protocol.control.telemetry import format_telemetry
from livefoley.protocol.errors import ConfigError, SessionError

COMMANDS = ("hello", "status", "configure", "start", "stop", "reset", "prompt", "watch", "ping", "shutdown", "keygen")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `livefoley ctl` (called by sidecar/cli.py)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--session", help="session name (connection file in the runtime dir)")
    where.add_argument("--connection-file", help="path of the sidecar's connection file")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for a reply (default 3)")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the sidecar to appear")
    parser.add_argument("--curve-keys-dir", help="directory with client.key_secret (CURVE sessions)")
    parser.add_argument("--count", type=int, default=0, help="watch: stop after N telemetry messages (0: forever)")
    parser.add_argument("--to", metavar="SESSION", default=None,
                        help="prompt: only this session of a sidecar that serves several (default: every session)")
    keys = ", ".join(f"{a.name} ({a.describe()})" for a in CONFIGURE_ARGS)
    parser.add_argument("ctl_command", metavar="COMMAND", choices=COMMANDS, help=" | ".join(COMMANDS))
    parser.add_argument("params", nargs="*", metavar="ARG", help=f"configure KEY=VALUE: {keys}; prompt TEXT; keygen DIR")


def _client(args):
    from livefoley.protocol.control.client import ControlClient

    target = args.connection_file
    session = args.session
    if target is None and session is None:
        found = sorted(p.stem for p in runtime_dir().glob("*.json"))
        if len(found) != 1:
            raise SessionError(
                f"ctl: expected --session NAME or exactly one session in {runtime_dir()}, found {found or 'none'}"
            )
        session = found[0]
    return ControlClient(
        session_name=session,
        connection_file=target,
        timeout_s=args.timeout,
        wait_s=args.wait,
        client_id="ctl",
        curve_keys_dir=args.curve_keys_dir,
    )


def _parse_settings(params: list[str]) -> dict:
    if not params:
        keys = ", ".join(a.name for a in CONFIGURE_ARGS)
        raise ConfigError(f"configure: expected KEY=VALUE arguments ({keys}), found none")
    out = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep:
            raise ConfigError(f"configure: expected KEY=VALUE, found {p!r}")
        out[key] = parse_cli_value("configure", key, value)
    return out


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            rows += _flatten(v, f"{prefix}{k}.")
        else:
            rows.append((f"{prefix}{k}", v))
    return rows


def _print_status(result: dict) -> None:
    result = dict(result)
    stages = result.pop("stage_latency_ms", {})
    control = result.pop("control", {})
    fill, cap = result.pop("ring_fill_frames", None), result.pop("ring_capacity_frames", None)
    counters = {k: result.pop(k) for k in ("underruns", "deadline_misses", "frames_dropped") if k in result}
    for k in ("state", "steps"):
        if k in result:
            print(f"{k:<10} {result.pop(k)}")
    if stages:
        print(f"{'latency':<10} {'stage':<12} {'last':>7} {'p50':>7} {'p99':>7} {'max':>7}  ms")
        for name, v in stages.items():
            print(f"{'':<10} {name:<12} {v['last']:>7.2f} {v['p50']:>7.2f} {v['p99']:>7.2f} {v['max']:>7.2f}")
    if cap:
        print(f"{'ring':<10} {fill}/{cap} frames ({100.0 * fill / cap:.0f}%)")
    if counters:
        print(f"{'counters':<10} " + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in counters.items()))
    for k, v in _flatten(result):
        print(f"{k:<10} {v}")
    if control:
        clients = control.pop("clients", {})
        host = control.pop("host_alive", None)
        print(f"{'control':<10} " + ", ".join(f"{k} {v}" for k, v in control.items()) + f"; host alive: {host}")
        print(f"{'clients':<10} " + ", ".join(f"{c} ({ms:.0f} ms ago)" for c, ms in clients.items()))


def _print_human(command: str, result: dict) -> None:
    if command == "status":
        _print_status(result)
        return
    if command == "hello":
        a, m = result.get("audio", {}), result.get("model", {})
        v = result.get("protocol_version", ["?", "?"])
        print(f"sidecar {result.get('server', '?')} ({result.get('version', '?')}), protocol {v[0]}.{v[1]}")
        print(f"  model   {m.get('name', '?')} ({', '.join(f'{k}={x}' for k, x in m.items() if k != 'name')})")
        print(
            f"  audio   {a.get('sample_rate_hz', '?')} Hz, {a.get('channels', '?')} ch {a.get('channel_layout', '?')}, "
            f"block {a.get('block_frames', '?')} frames"
        )
        print(f"  can     {', '.join(result.get('capabilities', []))}")
        print(f"  ops     {', '.join(result.get('ops', []))}")
        return
    if command == "prompt" and "state" in result:
        target = "every session" if result.get("session") is None else f"session {result['session']}"
        print(f"prompt {result.get('prompt', '')!r} for {target}: {result['state']} ({result.get('reason', '')})")
        return
    width = max((len(k) for k, _ in _flatten(result)), default=0)
    for k, v in _flatten(result):
        print(f"{k:<{width}}  {v}")


def main(args: argparse.Namespace) -> int:
    """Run one ctl command; returns the exit status (0 ok, 2 error reply)."""
    try:
        return _run(args)
    except BrokenPipeError:  # `livefoley ctl status | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    cmd, params = args.ctl_command, args.params
    if cmd == "keygen":
        if len(params) != 1:
            raise ConfigError(f"keygen: expected one DIR argument, found {len(params)}")
        from .control.curve import generate_keys

        paths = generate_keys(params[0])
        if args.json:
            print(json.dumps({k: str(v) for k, v in paths.items()}))
        else:
            for k, v in paths.items():
                print(f"{k:<18} {v}")
            print("give the client side client.key_secret and server.key; keep server.key_secret here")
        return 0
    expected_params = {"configure": None, "prompt": 1}.get(cmd, 0)
    if expected_params is not None and len(params) != expected_params:
        raise ConfigError(f"{cmd}: expected {expected_params} argument(s), found {len(params)}: {params}")
    with _client(args) as client:
        try:
            if cmd == "watch":
                return _watch(client, args)
            if cmd == "ping":
                rtt_s = client.ping()
                result = {"rtt_ms": round(rtt_s * 1e3, 3), "endpoint": client.info.endpoint}
                if not args.json:
                    print(f"pong from {client.info.endpoint} in {rtt_s * 1e3:.2f} ms")
                    return 0
            elif cmd == "status":
                result = client.stats()
            elif cmd == "configure":
                result = client.configure(**_parse_settings(params))
                if result.get("prompt_state") == "pending":
                    settled = _settle_prompt(client, {"state": "pending"}, args.timeout)
                    result.update(prompt_state=settled["state"], prompt_reason=settled["reason"])
            elif cmd == "prompt":
                result = _settle_prompt(client, client.prompt(params[0], args.to), args.timeout)
            else:
                assert cmd in OPS, cmd
                result = client.call(cmd, {"client_name": "livefoley-ctl"} if cmd == "hello" else {})
        except ControlError as exc:
            if args.json:
                print(json.dumps({"ok": False, "code": exc.code, "message": str(exc)}))
                return 2
            raise
        if args.json:
            print(json.dumps(result, default=repr))
        else:
            _print_human(cmd, result)
    return 0


def _settle_prompt(client, reply: dict, timeout_s: float) -> dict:
    """Wait (polling `stats`) until a pending prompt is applied or refused, up to `timeout_s`.

    The sidecar embeds a new prompt off its loop and answers `pending` at once; a person at
    a terminal wants to know whether it took, so ctl asks until it knows. Still pending at
    the timeout (the encoder loading on a slow machine): the reply says so.
    """
    import time

    if reply.get("state") != "pending":
        return reply
    start = time.monotonic()
    state = reply
    while time.monotonic() - start < timeout_s:
        time.sleep(0.05)
        state = client.stats().get("prompt", {})
        if "request_id" in reply and state.get("request_id") != reply["request_id"]:
            # Someone asked for a newer prompt meanwhile: report ours from the per-session view.
            mine = [v for v in state.get("sessions", {}).values() if v.get("request_id") == reply["request_id"]]
            state = {"state": mine[0]["state"] if mine else "superseded",
                     "reason": "settled while a newer prompt request arrived"}
        if state.get("state") != "pending":
            break
    return {**reply, **state, "waited_ms": round((time.monotonic() - start) * 1e3, 1)}


def _watch(client, args) -> int:
    n = 0
    live = sys.stdout.isatty() and not args.json  # a terminal: one line, updated in place
    for body in client.watch():
        if args.json:
            print(json.dumps(body), flush=True)
        elif live:
            print("\r\033[K" + format_telemetry(body), end="", flush=True)
        else:
            print(format_telemetry(body), flush=True)
        n += 1
        if args.count and n >= args.count:
            break
    if live:
        print()
    return 0


if __name__ == "__main__":  # python -m livefoley.sidecar.ctl ...
    p = argparse.ArgumentParser(prog="livefoley ctl")
    add_arguments(p)
    sys.exit(main(p.parse_args()))
