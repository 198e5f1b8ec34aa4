"""MQTT telemetry ingest under load: 4,000 devices through Mosquitto into the store, beside a bare consumer.

For each store (an SQLite file; a throw-away PostgreSQL schema) the script
1. registers 4,000 devices through the registry (3,800 Wi-Fi access points reporting apState and clientsConnected,
   200 water-level gauges on the 姚江 reporting currentLevel) and an alarm rule (currentLevel > 25 m);
2. starts a Mosquitto of its own on a free port, configured as docs/iot.md asks (no queue or in-flight limits;
   the system broker's defaults would drop messages); in each part below `--consumers` processes (default 2, one
   per core) share the stream (`smartcity iot consume --share`), over MQTT 3.1.1 (`--protocol`);
3. bare: a consumer process that receives and acknowledges every message and writes nothing, fed `--messages`
   messages (QoS 1, the compact text format with each device's credential) as fast as a small asyncio publisher
   can send them: the broker-and-client ceiling;
4. store: the platform's consumer (`smartcity iot consume`, batches of 1,000) fed the same stream: messages/s from
   the first publish to the last row stored, and sent = stored, counted in the database;
5. alarm latency: the platform's consumer under a paced stream of `--alarm-rate` messages/s, one in 250 a gauge
   reading above the threshold; latency from each fault's publish to its alarm row (the bench polls every 10 ms);
6. crash: the platform's consumer killed with SIGKILL during a `--crash-messages` stream, started again on the same
   session: stored = sent, and no value twice.

    .venv/bin/python bench/iot.py                                  # SQLite and PostgreSQL
    .venv/bin/python bench/iot.py --store sqlite --messages 50000 --crash-messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("SMARTCITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
APS, GAUGES = 3800, 200
# The consumers' protocol (--protocol): MQTT 3.1.1 by default, since paho builds a Properties object for every MQTT 5
# message it receives, which was a third of a consumer's time; the environment carries it to the bare consumers.
SCHEME = os.environ.get("BENCH_IOT_SCHEME", "mqtt311")
THRESHOLD = 25.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


@contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    from smartcity import db as dbmod

    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with dbmod.scratch_postgres_schema(PG_URL, prefix="bench_iot") as engine:
        yield engine.url.render_as_string(hide_password=False)


def setup(url: str, folder: Path) -> dict[str, str]:
    """Departments, 4,000 devices and the alarm rule; the devices' credentials by code."""
    os.environ["SMARTCITY_DATA_DIR"] = str(folder)
    from tests.factories import make_department, make_user, principal

    from smartcity import db as dbmod
    from smartcity import migrate
    from smartcity.app import declare_permissions
    from smartcity.iot import alarms, service
    from smartcity.iot.schemas import Condition, RuleIn
    from smartcity.platform.permissions import Role

    declare_permissions()
    engine = dbmod.build_engine(url)
    migrate.upgrade(engine)
    dbmod.configure(engine)
    rows = ["code,name,type,department"]
    rows += [f"AP-{n:05d},无线AP{n},wifi_ap,JXJ" for n in range(APS)]
    rows += [f"WL-{n:04d},姚江水位计{n},water_level_gauge,SLJ" for n in range(GAUGES)]
    with dbmod.unit_of_work() as session:
        make_department(session, "JXJ", "余姚市经济和信息化局")
        make_department(session, "SLJ", "余姚市水利局")
        root = principal(make_user(session, "iot_bench", Role.PLATFORM_ADMIN))
        report = service.import_devices(session, by=root, content="\n".join(rows).encode())
        slj = principal(make_user(session, "slj_bench", Role.DEPT_ADMIN, "SLJ"))
        alarms.create_rule(
            session,
            by=slj,
            data=RuleIn(
                name="水位超警戒",
                device_type="water_level_gauge",
                conditions=[Condition(measure="currentLevel", op=">", value=THRESHOLD)],
                severity="critical",
            ),
        )
    engine.dispose()
    return {d.code: d.credential for d in report.created}


@contextmanager
def mosquitto(folder: Path) -> Iterator[int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\nmax_queued_bytes 0\nlog_dest none\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- a small QoS 1 publisher: pre-encoded MQTT 3.1.1 packets written in bulk ----------------------------------


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return struct.pack("!H", len(text)) + text


def _connect(client_id: str) -> bytes:
    body = _string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _string(client_id.encode())
    return b"\x10" + _length(len(body)) + body


def _publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _string(topic.encode()) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _length(len(body)) + body


def stream(
    credentials: dict[str, str], prefix: str, count: int, start: int, faults: int = 0
) -> list[tuple[bytes, bool]]:
    """`count` messages round the devices, observation times in publish order; every `faults`-th message a gauge
    reading above the threshold (then True beside it)."""
    codes = list(credentials)
    aps = [c for c in codes if c.startswith("AP-")]
    gauges = [c for c in codes if c.startswith("WL-")]
    base = int((dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).timestamp()) * 1000
    out = []
    for i in range(start, start + count):
        fault = bool(faults) and i % faults == 0
        if fault:
            code = gauges[(i // faults) % len(gauges)]  # consecutive faults on different gauges
            values = f"currentLevel={THRESHOLD + 1:.2f}"
        elif i % 20 == 0:
            code = gauges[(i // 20) % len(gauges)]
            values = f"currentLevel={2.0 + (i % 100) / 100:.2f}"
        else:
            code = aps[i % len(aps)]
            values = f"apState=up,clientsConnected={i % 60}"
        millis = base + i  # a millisecond per message: each device's readings are in time order as published
        out.append(
            (
                _publish(f"{prefix}/devices/{code}/telemetry", f"{credentials[code]}|{millis}|{values}".encode(), 0),
                fault,
            )
        )
    return out


class Publisher:
    def __init__(self, port: int) -> None:
        self.port = port
        self.acked = 0

    async def send(self, packets: list[bytes], rate: float | None = None, on_sent: Any = None) -> float:
        """Send every packet (paced at `rate`/s if given); returns the time the first was written."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(_connect(f"bench-pub-{os.getpid()}-{time.monotonic_ns()}"))
        await reader.readexactly(4)  # CONNACK
        reading = asyncio.create_task(self._acks(reader, len(packets)))
        started = time.time()
        chunk = 200 if rate is None else 1
        for start in range(0, len(packets), chunk):
            part = packets[start : start + chunk]
            writer.write(b"".join(_with_id(p, (start + k) % 65535 + 1) for k, p in enumerate(part)))
            if on_sent is not None:
                on_sent(start, time.time())
            if rate is not None:
                delay = started + (start + 1) / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await writer.drain()
        await reading
        writer.close()
        return started

    async def _acks(self, reader: asyncio.StreamReader, expected: int) -> None:
        while self.acked < expected:
            header = await reader.readexactly(4)  # PUBACK: 0x40 0x02 id id
            if header[0] == 0x40:
                self.acked += 1


def _with_id(packet: bytes, packet_id: int) -> bytes:
    # the packet id is the two bytes after the topic; encoded as 0 in stream() and set here
    i = 1
    while packet[i] & 0x80:
        i += 1
    i += 1
    topic_length = struct.unpack("!H", packet[i : i + 2])[0]
    at = i + 2 + topic_length
    return packet[:at] + struct.pack("!H", packet_id) + packet[at + 2 :]


# --- consumers --------------------------------------------------------------------------------------------------


def consumer_process(
    url: str, folder: Path, port: int, prefix: str, mode: str, expected: int = 0, index: int = 0, shared: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SMARTCITY_DATABASE_URL": url,
        "SMARTCITY_DATA_DIR": str(folder),
        "SMARTCITY_IOT_DEVICE_RATE": "100000",
        "SMARTCITY_IOT_DEVICE_BURST": "100000",
    }
    if mode == "store":
        command = [
            sys.executable, "-m", "smartcity.cli", "iot", "consume", "--url", f"{SCHEME}://127.0.0.1:{port}",
            "--prefix", prefix, "--client-id", f"{prefix}-ingest-{index}", "--batch-size", "1000",
        ]  # fmt: skip
        command += ["--share", "ingest"] if shared else []
    else:
        command = [sys.executable, __file__, "bare-consumer", str(port), prefix, str(expected), str(index), str(shared)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stderr is not None
    line = process.stderr.readline().decode()
    if "consuming" not in line:
        raise RuntimeError(f"the consumer did not start: {line}")
    threading.Thread(target=process.stderr.read, daemon=True).start()  # drain
    return process


def bare_consumer(port: int, prefix: str, expected: int, index: int, shared: bool) -> None:
    """The same consumer, acknowledging each batch without storing anything, until `expected` messages came (or,
    sharing the stream, none for 3 s); prints how many and when the last one came."""
    from smartcity.iot import telemetry
    from smartcity.iot.mqtt import Broker, Consumer

    def nothing(messages: list[telemetry.Message]) -> list[telemetry.Result]:
        return [telemetry.Accepted(1, 1)] * len(messages)

    consumer = Consumer(
        Broker.parse(f"{SCHEME}://127.0.0.1:{port}"), prefix=prefix, client_id=f"{prefix}-bare-{index}",
        batch_size=1000, store=nothing, share="bare" if shared else None,
    )  # fmt: skip
    consumer.connect()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("consuming (bare)", file=sys.stderr, flush=True)
    last = time.time()
    deadline = time.time() + 600
    while not stop.is_set() and consumer.stats.received < expected and time.time() < deadline:
        if consumer.step(timeout=0.2):
            last = time.time()
        elif shared and consumer.stats.received and time.time() - last > 3:
            break
    consumer.close()
    print(f"{consumer.stats.received} {last}", flush=True)


@functools.cache
def _engine(url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(url)


def stored(url: str) -> int:
    """Rows of raw telemetry (distinct by construction: the primary key is device, measure and time)."""
    with _engine(url).connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM iot_measurement").scalar_one())


def values_in(packets: list[tuple[bytes, bool]]) -> int:
    return sum(p.count(b"=") for p, _ in packets)


def wait_for(url: str, rows: int, timeout: float) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if stored(url) >= rows:
            return time.time()
        time.sleep(0.1)
    raise TimeoutError(f"only {stored(url)} of {rows} rows stored after {timeout:.0f} s")


def run(kind: str, args: argparse.Namespace) -> None:
    print(f"\n{kind}:", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-iot-") as tmp, store(kind, Path(tmp)) as url:
        folder = Path(tmp)
        clock = time.perf_counter()
        credentials = setup(url, folder)
        print(f"  registered {len(credentials):,} devices in {time.perf_counter() - clock:.1f} s", flush=True)
        with mosquitto(folder) as port:
            publisher = Publisher(port)
            # bare
            n, shared = args.consumers, args.consumers > 1
            bare_packets = stream(credentials, "bare", args.messages, 0)
            bares = [
                consumer_process(url, folder, port, "bare", "bare", args.messages, index=i, shared=shared)
                for i in range(n)
            ]
            started = asyncio.run(publisher.send([p for p, _ in bare_packets]))
            counts = []
            for bare in bares:
                out = bare.stdout.read() if bare.stdout else b""
                bare.wait(timeout=30)
                received_one, last_one = out.decode().split()
                counts.append((int(received_one), float(last_one)))
            received = sum(c for c, _ in counts)
            bare_rate = received / (max(t for _, t in counts) - started)
            # store
            packets = stream(credentials, "store", args.messages, 0)
            rows = values_in(packets)
            consumers = [
                consumer_process(url, folder, port, "store", "store", index=i, shared=shared) for i in range(n)
            ]
            started = asyncio.run(Publisher(port).send([p for p, _ in packets]))
            done = wait_for(url, rows, 600)
            store_rate = args.messages / (done - started)
            processes = f"{n} consumers sharing the stream" if shared else "one consumer"
            devices = f"{len(credentials):,} devices"
            print(f"  ingest of {args.messages:,} messages ({rows:,} values), {devices}, {processes}:")
            same = stored(url) == rows
            print(f"    platform (stores, rolls up, evaluates rules): {store_rate:8,.0f} msg/s; stored = sent: {same}")
            print(f"    bare consumer (receives and acknowledges only): {bare_rate:8,.0f} msg/s ({received:,})")
            print(f"    ratio platform / bare: {store_rate / bare_rate:.2f}; target >= 10,000 msg/s")
            # alarm latency
            latencies = alarm_latency(url, port, credentials, args, start=args.messages)
            print(
                f"  alarm latency at {args.alarm_rate:,.0f} msg/s ({len(latencies)} alarms seen within 30 s):"
                f" p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms; target p99 < 500 ms"
            )
            for consumer in consumers:
                consumer.send_signal(signal.SIGTERM)
                consumer.wait(timeout=30)
            crash(url, folder, port, credentials, args)
        _engine(url).dispose()


def alarm_latency(
    url: str, port: int, credentials: dict[str, str], args: argparse.Namespace, start: int
) -> list[float]:
    import sqlalchemy as sa

    count = int(args.alarm_rate * args.alarm_seconds)
    packets = stream(credentials, "store", count, start, faults=250)
    fault_at: dict[str, float] = {}  # each fault is on a gauge of its own: the alarm of that gauge answers it
    faults = [i for i, (_, f) in enumerate(packets) if f]
    codes = list(credentials)
    gauges = [c for c in codes if c.startswith("WL-")]

    def sent(index: int, when: float) -> None:
        if packets[index][1]:
            fault_at[gauges[(start + index) // 250 % len(gauges)]] = when

    engine = sa.create_engine(url)
    seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        query = "SELECT d.code FROM iot_alarm a JOIN iot_device d ON d.id = a.device_id"
        with engine.connect() as conn:
            while not stop.is_set():
                found = conn.exec_driver_sql(query).scalars().all()
                conn.commit()
                now = time.time()
                for code in found:
                    seen.setdefault(code, now)
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    asyncio.run(Publisher(port).send([p for p, _ in packets], rate=args.alarm_rate, on_sent=sent))
    deadline = time.time() + 30
    while len(seen) < len(faults) and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    poller.join()
    engine.dispose()
    return [(seen[code] - when) * 1000 for code, when in fault_at.items() if code in seen]


def crash(url: str, folder: Path, port: int, credentials: dict[str, str], args: argparse.Namespace) -> None:
    before = stored(url)
    packets = stream(credentials, "crash", args.crash_messages, 10_000_000)
    rows = values_in(packets)
    n, shared = args.consumers, args.consumers > 1
    first = [consumer_process(url, folder, port, "crash", "store", index=i, shared=shared) for i in range(n)]
    sending = threading.Thread(target=lambda: asyncio.run(Publisher(port).send([p for p, _ in packets])))
    sending.start()
    while stored(url) - before < rows * 0.3:
        time.sleep(0.05)
    for process in first:
        process.send_signal(signal.SIGKILL)
    for process in first:
        process.wait()
    at_kill = stored(url) - before
    sending.join()
    second = [consumer_process(url, folder, port, "crash", "store", index=i, shared=shared) for i in range(n)]
    wait_for(url, before + rows, 600)
    time.sleep(2)  # anything delivered twice arrives by now
    for process in second:
        process.send_signal(signal.SIGTERM)
    for process in second:
        process.wait(timeout=30)
    total = stored(url) - before
    print(
        f"  crash: SIGKILL after {at_kill:,} of {rows:,} values of {args.crash_messages:,} messages; after restart"
        f" stored {total:,} = sent {rows:,}: {total == rows} (a value twice would break the primary key)"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "bare-consumer":
        bare_consumer(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "True")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--alarm-rate", type=float, default=5000.0)
    parser.add_argument("--alarm-seconds", type=float, default=10.0)
    parser.add_argument("--crash-messages", type=int, default=100_000)
    parser.add_argument("--protocol", choices=("3.1.1", "5"), default="3.1.1", help="the consumers' MQTT version")
    parser.add_argument(
        "--consumers", type=int, default=2, help="consumer processes sharing the stream (bare and platform alike)"
    )
    args = parser.parse_args()
    global SCHEME
    SCHEME = os.environ["BENCH_IOT_SCHEME"] = "mqtt311" if args.protocol == "3.1.1" else "mqtt"
    print(f"consumers: {args.consumers}, MQTT {args.protocol}")
    reference = min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) / 200 * 1e6
    print(f"machine: {os.cpu_count()} cores; reference loop sum(range(10000)) {reference:.0f} µs")
    for kind in ("sqlite", "postgresql") if args.store == "both" else (args.store,):
        run(kind, args)


if __name__ == "__main__":
    main()
