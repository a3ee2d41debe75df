"""Fuzzing the control server: hostile bytes never crash, stall or grow it.

The bulk (10^4 hypothesis cases) drives the Dispatcher, the very message path the server
runs, without sockets; a few thousand more go over a real ipc socket to a server process,
which must still answer ping afterwards with bounded memory.
"""

import logging
import os
import random
import time
import tracemalloc

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livefoley.protocol.control.client import ControlClient
from livefoley.protocol.control.codes import ErrorCode
from livefoley.protocol.control.connection import read_connection_file
from livefoley.protocol.control.envelope import DELIMITER, Request, Signer, decode_reply, encode_request, new_key, pack
from livefoley.protocol.control.schema import CONFIGURE_ARGS, MAX_MESSAGE_BYTES, OPS, PROTOCOL_VERSION
from livefoley.sidecar.control.dispatch import Dispatcher
from livefoley.sidecar.control.testserver import InMemoryHandler

KEY = new_key()
SIGNER = Signer(KEY)
CODES = {c.value for c in ErrorCode}


def fuzz(n: int):
    """Hypothesis settings of one fuzz test: n cases, no deadline, no example database."""
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])



scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=12) | st.binary(max_size=12)
values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=6), scalars, max_size=3)
arg_names = st.sampled_from([a.name for a in CONFIGURE_ARGS] + ["text", "client_name", ""]) | st.text(max_size=6)
headers = values | st.fixed_dictionaries(
    {
        "v": st.sampled_from([list(PROTOCOL_VERSION), [1, 9], [2, 0], [0, 1], "1.0", None, [1]]),
        "id": st.text(max_size=70) | values,
        "op": st.sampled_from(list(OPS) + ["nope", ""]) | values,
    },
    optional={"client": st.text(max_size=70) | values, "ts_ns": values},
)
bodies = values | st.dictionaries(arg_names, values, max_size=4)


def check_reply(out, identity=b"peer", signer=SIGNER):
    """A reply, if any, goes back to the sender, is signed, and is ok or carries a known code."""
    if out is None:
        return None
    assert out[0] == identity
    r = decode_reply(signer, out)
    assert r.ok or (r.code in CODES and r.code != "internal_error"), r
    return r


@pytest.fixture(autouse=True)
def quiet_dispatcher():
    """Rejected messages are logged (rate-limited per server); thousands of fresh
    dispatchers would each log one line, which only slows the fuzzing down."""
    logger = logging.getLogger("livefoley.sidecar.control.dispatch")
    old = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(old)


def fresh() -> Dispatcher:
    return Dispatcher(InMemoryHandler(), SIGNER, server_id="fuzz")


# Each hypothesis example carries a batch of BATCH messages: the engine's per-example cost
# (several ms on a loaded 2-core machine) would otherwise dominate. Cases below count
# messages: 4 tests x EXAMPLES x BATCH = 10,240 fuzzed messages in the regular suite.
BATCH = 8
EXAMPLES = 320


def batch(strategy):
    return st.lists(strategy, min_size=BATCH, max_size=BATCH)


@fuzz(EXAMPLES)
@given(messages=batch(st.lists(st.binary(max_size=48) | st.just(DELIMITER), max_size=6)))
def test_fuzz_random_frames(messages):
    d = fresh()
    for frames in messages:
        r = check_reply(d.handle([b"peer", *frames]))
        assert r is None or not r.ok  # nobody forges a signature by chance
    assert check_reply(d.handle([b"peer", *encode_request(SIGNER, Request(op="ping"))])).ok


@fuzz(EXAMPLES)
@given(messages=batch(st.tuples(headers, bodies)))
def test_fuzz_signed_random_msgpack(messages):
    d = fresh()
    for header, body in messages:
        h, b = pack(header), pack(body)
        replayed = SIGNER.sign(h, b) in d._seen_set  # hypothesis may draw the same pair twice
        r = check_reply(d.handle([b"peer", DELIMITER, SIGNER.sign(h, b), h, b]))
        assert (r is None) == replayed, "a correctly signed, fresh message always gets a reply"
    assert check_reply(d.handle([b"peer", *encode_request(SIGNER, Request(op="ping"))])).ok


truncations = st.tuples(
    st.sampled_from(list(OPS)),  # op of the good message
    st.integers(0, 4),  # frames cut from the end
    st.integers(0, 3),  # frame to shorten
    st.integers(0, 200),  # its new length
    st.lists(st.binary(max_size=8), max_size=2),  # frames appended
)


@fuzz(EXAMPLES)
@given(messages=batch(truncations))
def test_fuzz_truncated_frames(messages):
    d = fresh()
    for op, cut_frames, frame, cut_at, extra in messages:
        good = encode_request(SIGNER, Request(op=op, args={"text": "hi"} if op == "prompt" else {}))
        frames = good[: len(good) - cut_frames]
        if frames and frame < len(frames):
            frames[frame] = frames[frame][:cut_at]
        frames = frames + extra
        r = check_reply(d.handle([b"peer", *frames]))
        if frames != good:
            assert r is None or not r.ok  # a mutilated message is never executed
    assert check_reply(d.handle([b"peer", *encode_request(SIGNER, Request(op="ping"))])).ok


huge = st.tuples(
    st.sampled_from(["header", "body"]),
    st.sampled_from([b"\xdb", b"\xc6", b"\xdd", b"\xdf", b"\xc9", b"\xda", b"\xdc", b"\xde"]),  # 16/32-bit lengths
    st.binary(min_size=4, max_size=4),  # the claimed length
    st.binary(max_size=16),  # what actually follows
)


@fuzz(EXAMPLES)
@given(messages=batch(huge))
def test_fuzz_huge_length_claims(messages):
    d = fresh()
    for i, (where, type_byte, length, tail) in enumerate(messages):
        evil = type_byte + length + tail
        h = evil if where == "header" else pack({"v": list(PROTOCOL_VERSION), "id": f"h{i}", "op": "configure"})
        b = evil if where == "body" else pack({})
        r = check_reply(d.handle([b"peer", DELIMITER, SIGNER.sign(h, b), h, b]))
        if r is not None:  # None only for an exact repeat within the batch (replay)
            assert not r.ok and r.code in ("not_msgpack", "malformed_message", "bad_argument", "out_of_range")
    assert check_reply(d.handle([b"peer", *encode_request(SIGNER, Request(op="ping"))])).ok


def _hostile(rng: random.Random, i: int, signer: Signer = SIGNER) -> list[bytes]:
    kind = i % 5
    if kind == 0:
        return [rng.randbytes(rng.randint(0, 40)) for _ in range(rng.randint(1, 5))]
    if kind == 1:
        h = pack({"v": list(PROTOCOL_VERSION), "id": f"f{i}", "op": rng.choice(list(OPS) + ["zz"]), "client": f"c{i % 2000}"})
        b = pack({rng.choice(["nfe", "gain", "text", "x"]): rng.choice([rng.random() * 10, rng.randint(-9, 9), "s" * rng.randint(0, 9), None])})
        return [DELIMITER, signer.sign(h, b), h, b]
    if kind == 2:
        return encode_request(signer, Request(op="ping", client=f"c{i % 500}"))[: rng.randint(1, 3)]
    if kind == 3:
        h, b = rng.randbytes(20), rng.randbytes(30)
        return [DELIMITER, signer.sign(h, b), h, b]
    return encode_request(Signer(new_key()), Request(op="start"))


def test_dispatcher_memory_is_bounded_under_hostile_traffic():
    # Small bounds so that the tables fill in a few hundred messages; the mechanism (a
    # deque + set of signatures, an evicting last-heard dict, a Counter over a fixed code
    # set) is the same at the default sizes.
    d = Dispatcher(InMemoryHandler(), SIGNER, server_id="mem", replay_window=128, max_clients=32)
    rng = random.Random(1)
    traced = []
    tracemalloc.start()  # before the warm-up, so that objects freed later are seen freed
    try:
        for window in range(5):
            for i in range(window * 1000, (window + 1) * 1000):
                d.handle([b"peer", *_hostile(rng, i)])
            traced.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert len(d._seen) == 128 and len(d._seen_set) == 128 and len(d.last_heard_ns) == 32
    steady = traced[1:]  # after the first 1000 messages the tables are full
    assert max(steady) - min(steady) < 8 * 1024, f"expected bounded memory, found traced bytes {traced}"


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def test_fuzz_over_a_real_socket_then_ping(spawn_server):
    server = spawn_server("fuzz")
    info = read_connection_file(server.connection_file)
    signer = Signer(info.key_bytes)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(info.endpoint)
    rng = random.Random(7)
    replies = 0
    rss = []
    try:
        for block in range(3):
            for i in range(block * 1000, (block + 1) * 1000):
                sock.send_multipart(_hostile(rng, i, signer))
                while sock.poll(0):
                    check_reply([b"x", *sock.recv_multipart()], b"x", signer)
                    replies += 1
            sock.send_multipart([DELIMITER, b"s", b"h", b"b" * (MAX_MESSAGE_BYTES + 10)])  # oversize: answered
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and sock.poll(200):
                check_reply([b"x", *sock.recv_multipart()], b"x", signer)
                replies += 1
            if os.path.exists(f"/proc/{server.proc.pid}/status"):
                rss.append(_rss_kib(server.proc.pid))
        sock.send_multipart([b"x" * (2 * 1024 * 1024)])  # over MAXMSGSIZE: the server drops this peer
        with ControlClient(connection_file=server.connection_file, timeout_s=5) as c:
            assert c.ping() < 5
            ctl = c.stats()["control"]
    finally:
        sock.close()
        ctx.term()
    assert server.proc.poll() is None, "the server process died"
    assert replies > 1000 and ctl["received"] >= 3000 and ctl["rejected_signature"] >= 500
    if len(rss) == 3:
        assert rss[2] - rss[1] < 4096, f"expected bounded RSS, found {rss} KiB"
