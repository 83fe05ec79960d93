"""Benchmark of `simdeploy serve` latency: GET, LIST and PATCH through the kubernetes Python client, paced.

Run: python bench/bench_serve.py [--rate 200] [--seconds 20] [--speed 20] [--models]
Starts `simdeploy serve` on the seed scenario in its own process (at --speed simulated seconds per second, so
the rollout at 2m runs during the measurement) on 127.0.0.1, sends --rate requests per second for --seconds (GET a
deployment, LIST the pods, PATCH an annotation, in turn) from a few client threads on an open-loop schedule,
and prints p50/p99/max per verb. The Kubernetes API SLO for these calls is p99 <= 1 s; our target is 10 ms.
By default the client's REST layer returns raw answers; --models also times its building of V1 model objects.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import urllib3
from kubernetes import client, config

SEED = Path(__file__).resolve().parent.parent / "scenarios" / "payments-rolling-update.yaml"
NS, NAME = "production", "payments-api"
THREADS = 8


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all verbs together")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per wall second")
    parser.add_argument("--models", action="store_true", help="time the client's model objects too")
    args = parser.parse_args()
    # The client verifies the server against the session CA in the kubeconfig: an unverified request is a bug.
    warnings.simplefilter("error", category=urllib3.exceptions.InsecureRequestWarning)

    # The server in its own process, as kubectl and clients meet it: no GIL shared with the client threads.
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    kubeconfig = workdir / "kubeconfig"
    command = [sys.executable, "-m", "simdeploy", "serve", str(SEED), "--speed", str(args.speed)]
    server = subprocess.Popen([*command, "--kubeconfig", str(kubeconfig)], stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:
            if line.startswith("try: kubectl"):
                break
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = THREADS
        apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
        # Raw answers (_preload_content=False): the time is the server's and the wire's, not the client's
        # building of model objects, which under 8 threads and one GIL would dominate the tail (--models keeps it).
        raw = {} if args.models else {"_preload_content": False}
        calls = {
            "GET": lambda: apps.read_namespaced_deployment(NAME, NS, **raw),
            "LIST": lambda: core.list_namespaced_pod(NS, label_selector="app=payments-api", **raw),
            "PATCH": lambda n: apps.patch_namespaced_deployment(
                NAME, NS, {"metadata": {"annotations": {"bench/n": str(n)}}}, **raw
            ),
        }
        for _ in range(THREADS):
            answer = calls["GET"]()  # connections and TLS sessions warm
            if not args.models:
                answer.read()
                answer.release_conn()
        total = int(args.rate * args.seconds)
        interval = 1.0 / args.rate
        latencies: dict[str, list[float]] = {"GET": [], "LIST": [], "PATCH": []}
        late: list[float] = []
        lock = threading.Lock()
        start = time.perf_counter() + 0.1

        def worker(offset: int) -> None:
            for n in range(offset, total, THREADS):
                due = start + n * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                verb = ("GET", "LIST", "PATCH")[n % 3]
                began = time.perf_counter()
                answer = calls[verb](n) if verb == "PATCH" else calls[verb]()
                if not args.models:
                    answer.read()  # the whole body, then the connection goes back to the pool
                    answer.release_conn()
                took = time.perf_counter() - began
                with lock:
                    latencies[verb].append(took)
                    late.append(max(0.0, began - due))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        status = apps.read_namespaced_deployment(NAME, NS).status
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    sent = sum(len(v) for v in latencies.values())
    print(f"simdeploy serve (own process), seed scenario at {args.speed:g}x (rollout at 2m), {THREADS} client threads")
    print(f"  {sent} requests in {elapsed:.1f} s = {sent / elapsed:.0f}/s (asked {args.rate:g}/s)")
    print(f"  at the end: updatedReplicas {status.updated_replicas}, availableReplicas {status.available_replicas}")
    print(f"  start lateness p99 {percentile(late, 0.99) * 1e3:.1f} ms (the client keeping up with its schedule)")
    print(f"  {'verb':<6} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for verb, values in latencies.items():
        print(
            f"  {verb:<6} {len(values):>5} {statistics.median(values) * 1e3:>8.2f} "
            f"{percentile(values, 0.99) * 1e3:>8.2f} {max(values) * 1e3:>8.2f}"
        )


if __name__ == "__main__":
    main()
