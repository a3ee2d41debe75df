"""The demo report's `command` reproduces the run: parsed again, it gives the same options."""

import argparse
import shlex

from livefoley.sidecar import demo


def _parse(argv):
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_reported_command_parses_back_to_the_same_options():
    argv = ["--seconds", "7", "--scenario", "basic", "--model", "tiny", "--seed", "3", "--nfe", "2",
            "--guidance-scale", "2.5", "--target-latency-ms", "80", "--history-guidance", "0.5",
            "--feedback-noise", "0.25", "--block-frames", "512", "--sidecar-nice", "-5", "--out", "x"]
    args = _parse(argv)
    line = demo.command_line(args)
    assert line.startswith("livefoley demo ") and "--history-guidance 0.5" in line
    again = _parse(shlex.split(line)[2:] + ["--out", "x"])
    assert vars(again) == vars(args)


def test_sampling_options_left_unset_stay_unset_in_the_command():
    line = demo.command_line(_parse(["--model", "default"]))
    assert line == ("livefoley demo --seconds 20 --scenario defend_the_center --model default "
                    "--device cpu --seed 0")
    assert vars(_parse(shlex.split(line)[2:])) == vars(_parse(["--model", "default"]))
